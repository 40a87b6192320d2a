//go:build unix

package regfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// fifoRoot is a directory holding a regular file "notes.md" and a FIFO
// "pipe", opened as a Root; it skips where FIFOs cannot be made.
func fifoRoot(t *testing.T) *os.Root {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root
}

// within fails the test if f does not return within a few seconds: a
// blocking open of a FIFO with no writer never does.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("blocked on a FIFO")
	}
}

// A FIFO swapped in for a name between its check and its open (a check
// that saw a regular file) is opened without blocking and refused by the
// check of what was opened.
func TestOpenRefusesAFIFOSwappedIn(t *testing.T) {
	root := fifoRoot(t)
	regular, err := root.Stat("notes.md")
	if err != nil {
		t.Fatal(err)
	}
	lying := func(string) (fs.FileInfo, error) { return regular, nil } // the name was a regular file when checked
	within(t, func() {
		f, _, err := open(root, "pipe", lying)
		if f != nil {
			f.Close()
		}
		var nr *NotRegularError
		if !errors.As(err, &nr) || !errors.Is(err, ErrNotRegular) || nr.Mode&fs.ModeNamedPipe == 0 {
			t.Errorf("open of a FIFO swapped in: %v, want a *NotRegularError of a named pipe", err)
		}
	})
}

// Open, FS and Read refuse a FIFO (never waiting on it) and read regular
// files, at most the limit.
func TestReadRegularOnly(t *testing.T) {
	root := fifoRoot(t)
	within(t, func() {
		if _, _, err := Open(root, "pipe"); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open(pipe): %v", err)
		}
		if _, err := FS(root).Open("pipe"); !errors.Is(err, ErrNotRegular) {
			t.Errorf("FS.Open(pipe): %v", err)
		}
		if _, err := Read(FS(root), "pipe", 10); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Read(pipe): %v", err)
		}
	})
	if b, err := Read(FS(root), "notes.md", 5); err != nil || string(b) != "notes" {
		t.Errorf("Read(notes.md, 5) = %q, %v", b, err)
	}
	if b, err := Read(FS(root), "notes.md", 3); !errors.Is(err, ErrTooLarge) || string(b) != "not" {
		t.Errorf("Read(notes.md, 3) = %q, %v; want the first 3 bytes and ErrTooLarge", b, err)
	}
	if _, err := Read(FS(root), ".", 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read(.): %v", err)
	}
	if _, err := Read(FS(root), "missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing): %v", err)
	}
}

// swapFS checks a name as a regular file but opens it as a FIFO: Read
// refuses what it opened.
type swapFS struct{ fstest.MapFS }

func (s swapFS) Open(name string) (fs.File, error) {
	return fstest.MapFS{name: &fstest.MapFile{Mode: fs.ModeNamedPipe}}.Open(name)
}

func TestReadChecksWhatItOpened(t *testing.T) {
	fsys := swapFS{fstest.MapFS{"f": &fstest.MapFile{Data: []byte("x")}}}
	if b, err := Read(fsys, "f", 10); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Read of a name swapped to a FIFO = %q, %v", b, err)
	}
}
