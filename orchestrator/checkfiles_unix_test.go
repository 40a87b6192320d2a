//go:build unix

package orchestrator_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
)

// file_matches never blocks on what a workspace holds, whatever fs.FS the
// runtime was given: a FIFO at the checked path is no match (reading it
// would hang the run), and a file too large to read cannot be checked, which
// fails the report closed. A link out of a workspace.Workspace is no match.
func TestFileMatchesOnHostileFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "out.txt"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	big, err := os.Create(filepath.Join(dir, "big.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(orchestrator.MaxCheckedFileSize + 1); err != nil { // sparse: no time nor disk
		t.Fatal(err)
	}
	big.Close()
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("done"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	check := orchestrator.BuiltinCheck(orchestrator.CheckFileMatches)
	for _, tc := range []struct {
		name, path, why, err string
		fsys                 string
	}{
		{"a FIFO, any FS", "out.txt", "out.txt is not a regular file", "", "dir"},
		{"a FIFO, the workspace's FS", "out.txt", "out.txt is not a regular file", "", "ws"},
		{"a file too large", "big.txt", "", "too large to check", "ws"},
		{"a link out of the workspace", "link.txt", "link.txt cannot be read", "", "ws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := ws.FS()
			if tc.fsys == "dir" {
				fsys = os.DirFS(dir)
			}
			type result struct {
				ok  bool
				why string
				err error
			}
			done := make(chan result, 1)
			go func() {
				ok, why, err := check(t.Context(), fsys, agents.CheckSpec{Kind: orchestrator.CheckFileMatches, Path: tc.path, Pattern: "done"}, nil, nil)
				done <- result{ok, why, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the check blocked")
			}
			switch {
			case r.ok:
				t.Fatalf("%s matched", tc.path)
			case tc.err != "" && (r.err == nil || !strings.Contains(r.err.Error(), tc.err)):
				t.Fatalf("err = %v, want %q", r.err, tc.err)
			case tc.err == "" && (r.err != nil || !strings.HasPrefix(r.why, tc.why)):
				t.Fatalf("why = %q, err = %v, want %q", r.why, r.err, tc.why)
			}
		})
	}
}
