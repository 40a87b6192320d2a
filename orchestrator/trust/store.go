package trust

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
	// Runs are the runs counted by SaveOnce, the last maxRuns.
	Runs []string `json:"counted_runs,omitempty"`
}

// maxRuns is how many runs saved by SaveOnce the file remembers.
const maxRuns = 1000

func load(path string) ([]Record, error) {
	f, err := loadFile(path)
	return f.Records, err
}

// loadFile reads the ledger's file (empty if there is none).
func loadFile(path string) (file, error) {
	if path == "" {
		return file{}, errors.New("trust: no ledger file named")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return file{}, nil
	}
	if err != nil {
		return file{}, fmt.Errorf("trust ledger: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s (move the file aside to start afresh)", path, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return file{}, corrupt("the file is empty")
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return file{}, corrupt("%v", err)
	}
	if dec.More() {
		return file{}, corrupt("data after the ledger")
	}
	if f.Version != fileVersion {
		return file{}, corrupt("version %d, want %d", f.Version, fileVersion)
	}
	seen := map[key]bool{}
	for _, r := range f.Records {
		k := key{r.Agent, r.Model}
		if r.Agent == "" || seen[k] {
			return file{}, corrupt("a record without an agent, or two for %q on %q", r.Agent, r.Model)
		}
		seen[k] = true
	}
	return f, nil
}

// Save writes the ledger to its file so that a crash at any moment leaves
// either the old file or the new one whole: the records go to a temporary
// file in the same directory, which is synced, then renamed over the old
// one, and the directory is synced. A temporary file left by a crash is
// never read. Save creates the directory if needed.
//
// Runs in other processes may share the file: Save holds an exclusive lock
// on path+".lock" while it reads the file again, adds to each record what
// this ledger counted since it last read or saved it, and writes the sum,
// so concurrent runs lose no update. (The lock is advisory, flock(2) on
// Unix; elsewhere concurrent saves are not merged.)
func (l *Ledger) Save() error {
	_, err := l.save("")
	return err
}

// SaveOnce is Save for a ledger that has counted one run's events, run's,
// since it was opened (or last saved): a command's ledger, when more than
// one process may follow the same run to its end (entrust-temporal run and
// follow). The file remembers the runs saved this way (the last 1,000),
// and a run it already holds is not counted again: the ledger takes the
// file's records instead, and SaveOnce reports false. run must name one
// run alone (under Temporal, the workflow id and its execution's run id,
// since a workflow id may be reused); a run saved again after 1,000 later
// ones is not remembered, and is counted again.
func (l *Ledger) SaveOnce(run string) (counted bool, err error) {
	if run == "" {
		return false, errors.New("trust: SaveOnce needs the run's id")
	}
	return l.save(run)
}

// save is Save, or SaveOnce for run when it is not "".
func (l *Ledger) save(run string) (counted bool, err error) {
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return false, fmt.Errorf("trust ledger: saving %s: %w", l.path, err)
	}
	unlock, err := lockFile(l.path + ".lock")
	if err != nil {
		return false, fmt.Errorf("trust ledger: locking %s: %w", l.path, err)
	}
	defer unlock()
	disk, err := loadFile(l.path)
	if err != nil {
		return false, err
	}
	// Held to the end, so what is counted meanwhile waits for the base.
	l.mu.Lock()
	defer l.mu.Unlock()
	if run != "" && slices.Contains(disk.Runs, run) {
		l.reset(disk.Records) // counted already, by another process
		return false, nil
	}
	merged := l.merge(disk.Records)
	f := file{Version: fileVersion, Saved: time.Now().UTC(), Records: merged, Runs: disk.Runs}
	if run != "" {
		f.Runs = append(f.Runs, run)
		if n := len(f.Runs); n > maxRuns {
			f.Runs = f.Runs[n-maxRuns:]
		}
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return false, fmt.Errorf("trust: %w", err)
	}
	b = append(b, '\n')
	if err := writeAtomic(l.path, b); err != nil {
		return false, fmt.Errorf("trust ledger: saving %s: %w", l.path, err)
	}
	l.reset(merged)
	return true, nil
}

// merge returns disk plus what l counted since its base, sorted: for each
// record, the file's counts plus this ledger's increase. The caller holds
// l.mu.
func (l *Ledger) merge(disk []Record) []Record {
	byKey := map[key]Record{}
	for _, r := range disk {
		byKey[key{r.Agent, r.Model}] = r
	}
	for k, cur := range l.records {
		out, ok := byKey[k]
		if !ok {
			out = Record{Agent: k.agent, Model: k.model}
		}
		base := l.base[k]
		for i, p := range out.counts() {
			*p += *cur.counts()[i] - *base.counts()[i]
		}
		if cur.Updated.After(out.Updated) {
			out.Updated, out.LastRun = cur.Updated, cur.LastRun
		}
		byKey[k] = out
	}
	out := make([]Record, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int { return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.Model, b.Model)) })
	return out
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
