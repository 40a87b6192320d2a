package trust

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// ErrCorrupt is matched by the error of Open when the file exists but is not
// a ledger: truncated, not JSON, or of an unknown version. The file is left
// as it is; move it aside to start afresh.
var ErrCorrupt = errors.New("corrupt trust ledger")

// fileVersion is the format of the ledger file.
const fileVersion = 1

// file is the ledger's JSON document.
type file struct {
	Version int       `json:"version"`
	Saved   time.Time `json:"saved"`
	Records []Record  `json:"records"`
}

func load(path string) ([]Record, error) {
	if path == "" {
		return nil, errors.New("trust: no ledger file named")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust ledger: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s (move the file aside to start afresh)", path, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, corrupt("the file is empty")
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, corrupt("%v", err)
	}
	if dec.More() {
		return nil, corrupt("data after the ledger")
	}
	if f.Version != fileVersion {
		return nil, corrupt("version %d, want %d", f.Version, fileVersion)
	}
	seen := map[string]bool{}
	for _, r := range f.Records {
		if r.Agent == "" || seen[r.Agent] {
			return nil, corrupt("a record without an agent, or two for %q", r.Agent)
		}
		seen[r.Agent] = true
	}
	return f.Records, nil
}

// Save writes the ledger to its file so that a crash at any moment leaves
// either the old file or the new one whole: the records go to a temporary
// file in the same directory, which is synced, then renamed over the old
// one, and the directory is synced. A temporary file left by a crash is
// never read. Save creates the directory if needed.
func (l *Ledger) Save() error {
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	l.mu.Lock()
	f := file{Version: fileVersion, Saved: time.Now().UTC(), Records: l.snapshot()}
	l.mu.Unlock()
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return fmt.Errorf("trust: %w", err)
	}
	b = append(b, '\n')
	if err := writeAtomic(l.path, b); err != nil {
		return fmt.Errorf("trust ledger: saving %s: %w", l.path, err)
	}
	return nil
}

func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable. Not every platform can sync a
	// directory; the rename is atomic either way.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
