// Package regfile opens and reads regular files without ever blocking on
// what is not one: a FIFO swapped in for a file would hang the reader (an
// agent's tool, the runtime's checks, an eval's snapshot), and opening a
// device may act. It is said once here, for the workspace tools
// (agents/workspace), the runtime's file checks (orchestrator) and the
// evals' workspace snapshot.
//
// A name is checked before it is opened (so a FIFO or a device is never
// opened where that can be seen), opened without blocking (O_NONBLOCK where
// the system has it), and what was opened is checked again (fstat), so a
// name swapped between the check and the open is refused, not waited on.
package regfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrNotRegular is matched (errors.Is) by the error of what is not a
// regular file (nor, for Open, a directory): a *NotRegularError.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is matched by the error of Read of a file larger than its
// limit.
var ErrTooLarge = errors.New("file too large")

// NotRegularError is the error of a name that is a FIFO, a socket, a device
// or anything else but a regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode // its type bits
}

// Error says what the file is.
func (e *NotRegularError) Error() string {
	return e.Path + " is " + Kind(e.Mode) + ", not a regular file"
}

// Is matches ErrNotRegular.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// Kind names the type of a file that is not regular: "a named pipe", "a
// socket", "a device", "a directory", or "not a regular file" for the rest.
func Kind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// Open opens name of root for reading if it is a regular file or a
// directory (following the links root follows, never out of it), without
// blocking, and checks what it opened; anything else is refused with a
// *NotRegularError and, where it could be seen, never opened. info is the
// opened file's.
func Open(root *os.Root, name string) (f *os.File, info fs.FileInfo, err error) {
	return open(root, name, root.Stat)
}

// open is Open with the check before the open as stat, which a test can
// make lie to stand for a name swapped in between.
func open(root *os.Root, name string, stat func(string) (fs.FileInfo, error)) (*os.File, fs.FileInfo, error) {
	info, err := stat(name)
	if err != nil {
		return nil, nil, err
	}
	if !openable(info) {
		return nil, nil, &NotRegularError{Path: name, Mode: info.Mode().Type()}
	}
	f, err := root.OpenFile(name, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, nil, err
	}
	if info, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, err
	}
	if !openable(info) {
		f.Close()
		return nil, nil, &NotRegularError{Path: name, Mode: info.Mode().Type()}
	}
	return f, info, nil
}

// openable reports whether info is a regular file's or a directory's.
func openable(info fs.FileInfo) bool { return info.Mode().IsRegular() || info.IsDir() }

// FS returns root as a read-only file system whose Open is Open: it never
// leaves the directory and never blocks.
func FS(root *os.Root) fs.StatFS { return rootFS{root.FS().(fs.StatFS), root} }

// rootFS is a Root's FS whose Open never blocks.
type rootFS struct {
	fs.StatFS // the Root's FS: Stat checks the name as Open does
	root      *os.Root
}

// Open opens a regular file or a directory without blocking.
func (r rootFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	f, _, err := Open(r.root, name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Read reads the regular file name of fsys: at most limit bytes, with an
// error matching ErrTooLarge (and the first limit bytes) when it holds more.
// What is not a regular file, before or after it is opened, is refused with
// a *NotRegularError. Only an fsys that opens without blocking (FS) is safe
// from a FIFO swapped in between the check and the open.
func Read(fsys fs.FS, name string, limit int64) ([]byte, error) {
	info, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &NotRegularError{Path: name, Mode: info.Mode().Type()}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &NotRegularError{Path: name, Mode: info.Mode().Type()}
	}
	return readAtMost(f, name, limit)
}

// readAtMost reads r to its end or to one byte past limit, which it reports:
// the file may have grown since it was checked.
func readAtMost(r io.Reader, name string, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%s is larger than %d bytes: %w", name, limit, ErrTooLarge)
	}
	return b, nil
}
