//go:build unix

package workspace_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

// The workspace's FS, which the runtime's checks read, never blocks on a
// FIFO (a file_matches check of one would hang the run) and never leaves
// the workspace; regular files and directories, also through a link that
// stays inside, read as usual.
func TestFSNeverBlocksNorLeaves(t *testing.T) {
	f := newFixture(t)
	if err := syscall.Mkfifo(filepath.Join(f.dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	mustDo(t, os.Symlink("pipe", filepath.Join(f.dir, "pipelink")))
	mustDo(t, os.Symlink(filepath.Join(f.outside, "secret.txt"), filepath.Join(f.dir, "link.txt")))
	mustDo(t, os.Symlink(f.outside, filepath.Join(f.dir, "linkdir")))
	mustDo(t, os.MkdirAll(filepath.Join(f.dir, "real"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(f.dir, "real", "a.txt"), []byte("inside"), 0o644))
	mustDo(t, os.Symlink("real", filepath.Join(f.dir, "alias")))
	fsys := f.ws.FS()
	for _, name := range []string{"pipe", "pipelink"} {
		var err error
		within(t, func() agents.Result { _, err = fs.ReadFile(fsys, name); return agents.Result{} })
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("reading the FIFO %s: %v", name, err)
		}
		if info, err := fs.Stat(fsys, name); err != nil || info.Mode().Type() != fs.ModeNamedPipe {
			t.Errorf("stat %s: %v, %v", name, info, err)
		}
	}
	for _, name := range []string{"link.txt", "linkdir/secret.txt", "linkdir"} {
		if _, err := fs.ReadFile(fsys, name); err == nil {
			t.Errorf("read %s, outside the workspace", name)
		}
		if _, err := fs.Stat(fsys, name); err == nil {
			t.Errorf("stat %s, outside the workspace", name)
		}
	}
	if b, err := fs.ReadFile(fsys, "alias/a.txt"); err != nil || string(b) != "inside" {
		t.Errorf("alias/a.txt = %q, %v", b, err)
	}
	entries, err := fs.ReadDir(fsys, "alias")
	if err != nil || len(entries) != 1 || entries[0].Name() != "a.txt" {
		t.Errorf("ReadDir(alias) = %v, %v", entries, err)
	}
	if _, err := fs.ReadFile(fsys, "../secret.txt"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("../secret.txt: %v", err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
