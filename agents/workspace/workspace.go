// Package workspace gives agents built-in file tools (read_file, write_file,
// list_files) confined to one directory. Confinement rests on os.Root, so a
// path that leaves the directory — through "..", an absolute path or a
// symbolic link — is refused before anything outside is touched, and the
// model is told so as a tool error it can correct. Only regular files are
// read or written, never a FIFO, device or socket, and without blocking;
// write_file replaces a file by renaming a new one over it, so it never
// writes through a hard link; names with control characters and overlong
// paths are refused.
package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/internal/regfile"
)

// The names of the workspace tools.
const (
	ToolReadFile  = "read_file"
	ToolWriteFile = "write_file"
	ToolListFiles = "list_files"
)

// ToolNames returns the names of the workspace's tools, in the order Tools
// returns them: a new slice.
func ToolNames() []string { return []string{ToolReadFile, ToolWriteFile, ToolListFiles} }

// MaxFileSize bounds the bytes read_file returns and write_file writes, so
// one call cannot flood a model's context or the disk.
const MaxFileSize = 1 << 20

// maxEntries bounds the entries of one list_files answer, and what it
// reads of the directory (one more, to know it was cut).
const maxEntries = 1000

// Bounds on the paths the tools take: a component's bytes (NAME_MAX), a
// path's bytes (PATH_MAX) and its depth.
const (
	maxNameBytes = 255
	maxPathBytes = 4096
	maxDepth     = 64
)

// ReadFileArgs are the arguments of read_file.
type ReadFileArgs struct {
	Path string `json:"path" jsonschema:"minLength=1,description=file path relative to the workspace root"`
}

// WriteFileArgs are the arguments of write_file.
type WriteFileArgs struct {
	Path    string `json:"path" jsonschema:"minLength=1,description=file path relative to the workspace root; missing parent directories are created"`
	Content string `json:"content" jsonschema:"description=the whole new content of the file (UTF-8 text)"`
}

// ListFilesArgs are the arguments of list_files.
type ListFilesArgs struct {
	Path string `json:"path,omitempty" jsonschema:"description=directory relative to the workspace root (default: the root itself)"`
}

// Workspace is a directory the workspace tools are confined to. It is safe
// for concurrent use; Close releases it.
type Workspace struct {
	dir  string
	root *os.Root
}

// New returns the workspace rooted at dir, creating the directory if it is
// missing.
func New(dir string) (*Workspace, error) {
	if dir == "" {
		return nil, errors.New("workspace: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &Workspace{dir: abs, root: root}, nil
}

// Dir returns the absolute path of the workspace's directory.
func (w *Workspace) Dir() string { return w.dir }

// FS returns the workspace as a read-only file system, for the runtime's
// checks of what a report cites (orchestrator.Options.Workspace). Like the
// tools, it never leaves the directory (a symbolic link that leads out is
// refused) and never blocks: it opens regular files and directories only,
// without blocking, and checks what it opened, so a FIFO or a device, even
// one swapped in after the check, is refused rather than waited on.
func (w *Workspace) FS() fs.FS { return regfile.FS(w.root) }

// Close releases the directory; the tools fail afterwards.
func (w *Workspace) Close() error { return w.root.Close() }

// Tools returns read_file, write_file and list_files, in the order of
// ToolNames. read_file and list_files may run concurrently with other calls.
func (w *Workspace) Tools() []agents.Tool {
	read := must(agents.DefineTool(agents.ToolSpec{
		Name:        ToolReadFile,
		Description: "Read a UTF-8 text file of the workspace (at most 1 MiB). Paths are relative to the workspace root.",
		Concurrent:  true,
		Idempotent:  true,
		Kind:        agents.KindReads,
	}, w.readFile))
	write := must(agents.DefineTool(agents.ToolSpec{
		Name:        ToolWriteFile,
		Description: "Create or replace a text file of the workspace with the given content (at most 1 MiB), creating missing parent directories. Paths are relative to the workspace root.",
		Kind:        agents.KindWritesFiles,
	}, w.writeFile))
	list := must(agents.DefineTool(agents.ToolSpec{
		Name:        ToolListFiles,
		Description: "List a directory of the workspace: one entry a line, directories ending with /. Paths are relative to the workspace root.",
		Concurrent:  true,
		Idempotent:  true,
		Kind:        agents.KindReads,
	}, w.listFiles))
	return []agents.Tool{read, &writeTool{Tool: write, w: w}, list}
}

// must panics on a tool definition error: the argument types are fixed in
// this file, so an error is a defect caught by the tests.
func must(t agents.Tool, err error) agents.Tool {
	if err != nil {
		panic("workspace: " + err.Error())
	}
	return t
}

// open opens path inside the workspace; when ok is false, res is the tool
// error to return.
func (w *Workspace) open(path string) (f *os.File, info fs.FileInfo, res agents.Result, ok bool) {
	name, res, ok := local(path)
	if !ok {
		return nil, nil, res, false
	}
	// A FIFO or a device is never opened (opening one may block or act),
	// even one swapped in for the name as it is opened (regfile.Open).
	f, info, err := regfile.Open(w.root, name)
	if nr := (*regfile.NotRegularError)(nil); errors.As(err, &nr) {
		res, _ := regular(path, nr.Mode)
		return nil, nil, res, false
	} else if err != nil {
		return nil, nil, failure(path, err), false
	}
	return f, info, res, true
}

// regular refuses anything but a regular file, a directory or (before it is
// followed) a symbolic link.
func regular(path string, mode fs.FileMode) (agents.Result, bool) {
	switch t := mode.Type(); {
	case t == 0, t == fs.ModeDir, t == fs.ModeSymlink:
		return agents.Result{}, true
	case t&fs.ModeNamedPipe != 0:
		return agents.Errorf("%s is a named pipe, not a regular file: the workspace tools only read and write regular files", path), false
	case t&fs.ModeSocket != 0:
		return agents.Errorf("%s is a socket, not a regular file: the workspace tools only read and write regular files", path), false
	case t&fs.ModeDevice != 0:
		return agents.Errorf("%s is a device, not a regular file: the workspace tools only read and write regular files", path), false
	}
	return agents.Errorf("%s is not a regular file: the workspace tools only read and write regular files", path), false
}

func (w *Workspace) readFile(ctx context.Context, in ReadFileArgs) (agents.Result, error) {
	if err := ctx.Err(); err != nil {
		return agents.Result{}, context.Cause(ctx)
	}
	f, info, res, ok := w.open(in.Path)
	if !ok {
		return res, nil
	}
	defer f.Close()
	if info.IsDir() {
		return agents.Errorf("%s is a directory: use list_files to see what it holds", in.Path), nil
	}
	if info.Size() > MaxFileSize {
		return tooBig(in.Path, info.Size()), nil
	}
	// The file may grow between Stat and Read: read one byte past the cap to
	// notice.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return failure(in.Path, err), nil
	}
	if len(b) > MaxFileSize {
		return tooBig(in.Path, int64(len(b))), nil
	}
	if !utf8.Valid(b) {
		return agents.Errorf("%s is not UTF-8 text: read_file only reads text files", in.Path), nil
	}
	if len(b) == 0 {
		return agents.Result{Content: "(empty file)"}, nil
	}
	return agents.Result{Content: string(b)}, nil
}

func (w *Workspace) writeFile(ctx context.Context, in WriteFileArgs) (agents.Result, error) {
	if err := ctx.Err(); err != nil {
		return agents.Result{}, context.Cause(ctx)
	}
	name, res, ok := local(in.Path)
	if !ok {
		return res, nil
	}
	if name == "." {
		return agents.Errorf("%q is the workspace root, not a file: give a file path", in.Path), nil
	}
	if len(in.Content) > MaxFileSize {
		return agents.Errorf("content is %d bytes, more than the %d-byte limit of write_file: split it into several files", len(in.Content), MaxFileSize), nil
	}
	if dir := filepath.Dir(name); dir != "." {
		if err := w.root.MkdirAll(dir, 0o755); err != nil {
			return failure(in.Path, err), nil
		}
	}
	if res, ok := w.replace(in.Path, name, []byte(in.Content)); !ok {
		return res, nil
	}
	return wrote(name, in.Content), nil
}

// replace writes content to a new file beside name and renames it over name,
// so whatever name was (a hard link to a file outside, a symbolic link) is
// replaced, never written through; an existing FIFO, device or directory is
// refused without opening it.
func (w *Workspace) replace(path, name string, content []byte) (agents.Result, bool) {
	if li, err := w.root.Lstat(name); err == nil {
		if li.IsDir() {
			return agents.Errorf("%s: is a directory: give a file path", path), false
		}
		if res, ok := regular(path, li.Mode()); !ok {
			return res, false
		}
		if li.Mode().Type() == fs.ModeSymlink {
			// A link that leads out is refused; one that stays in is
			// replaced by the file, like any other name.
			if _, err := w.root.Stat(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return failure(path, err), false
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return failure(path, err), false
	}
	dir := filepath.Dir(name)
	var (
		tmp string
		f   *os.File
		err error
	)
	for range 8 {
		tmp = filepath.Join(dir, ".entrust-write-"+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err = w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return failure(path, err), false
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, name)
	}
	if err != nil {
		w.root.Remove(tmp)
		return failure(path, err), false
	}
	return agents.Result{}, true
}

// wrote is the result of a write of content to the file name.
func wrote(name, content string) agents.Result {
	return agents.Result{Content: fmt.Sprintf("wrote %d bytes to %s", len(content), filepath.ToSlash(name))}
}

// writeTool is write_file, which a resumed run can reconcile: a write
// interrupted by a crash took effect when the file holds the content it was
// called with.
type writeTool struct {
	agents.Tool
	w *Workspace
}

// Kind says write_file writes the file its path names.
func (t *writeTool) Kind() agents.ToolKind { return agents.KindWritesFiles }

// Reconcile reports whether the file named by args holds args' content.
func (t *writeTool) Reconcile(_ context.Context, args json.RawMessage) (agents.Result, bool, error) {
	var in WriteFileArgs
	if err := json.Unmarshal(args, &in); err != nil {
		return agents.Result{}, false, nil // the call fails again, harmlessly
	}
	name, _, ok := local(in.Path)
	if !ok || name == "." {
		return agents.Result{}, false, nil
	}
	// Never open what is not a regular file (a FIFO would block; a link
	// would have been replaced by the write), nor read more of a file than
	// the content: a larger one cannot hold it.
	if li, err := t.w.root.Lstat(name); err == nil && !li.Mode().IsRegular() {
		return agents.Result{}, false, nil
	}
	b, err := regfile.Read(regfile.FS(t.w.root), name, int64(len(in.Content)))
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, regfile.ErrNotRegular), errors.Is(err, regfile.ErrTooLarge):
		return agents.Result{}, false, nil
	case err != nil:
		return agents.Result{}, false, err
	case string(b) != in.Content:
		return agents.Result{}, false, nil
	}
	return wrote(name, in.Content), true, nil
}

func (w *Workspace) listFiles(ctx context.Context, in ListFilesArgs) (agents.Result, error) {
	if err := ctx.Err(); err != nil {
		return agents.Result{}, context.Cause(ctx)
	}
	f, info, res, ok := w.open(in.Path)
	if !ok {
		return res, nil
	}
	defer f.Close()
	if !info.IsDir() {
		return agents.Errorf("%s is a file, not a directory: use read_file to read it", in.Path), nil
	}
	// At most one entry more than is shown is read, to know the list was
	// cut: a directory of millions of names costs no more than one of
	// maxEntries.
	entries, err := f.ReadDir(maxEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return failure(in.Path, err), nil
	}
	if len(entries) == 0 {
		return agents.Result{Content: "(empty directory)"}, nil
	}
	cut := len(entries) > maxEntries
	entries = entries[:min(len(entries), maxEntries)]
	// ReadDir on a File does not sort; models and tests want a stable order.
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var b strings.Builder
	for _, e := range entries {
		// A name that could forge a line (a newline, an escape
		// sequence) is shown quoted.
		n := e.Name()
		if badName(n) != "" {
			n = strconv.Quote(n)
		}
		switch {
		case e.IsDir():
			b.WriteString(n + "/\n")
		case e.Type()&fs.ModeSymlink != 0:
			b.WriteString(n + " (symbolic link)\n")
		case !e.Type().IsRegular():
			b.WriteString(n + " (not a regular file)\n")
		default:
			size := int64(-1)
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
			fmt.Fprintf(&b, "%s (%d bytes)\n", n, size)
		}
	}
	if cut {
		fmt.Fprintf(&b, "… and more: the directory holds over %d entries, and only the first %d it gave are shown (in name order); list a subdirectory, or read a file by its name\n", maxEntries, maxEntries)
	}
	return agents.Result{Content: strings.TrimRight(b.String(), "\n")}, nil
}

// local turns a model's path into a clean local name. It refuses lexical
// escapes itself; os.Root refuses the symbolic links that lead out.
func local(p string) (name string, res agents.Result, ok bool) {
	if p == "" {
		p = "."
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return "", escaped(p), false
	}
	if why := badName(p); why != "" {
		return "", agents.Errorf("path %q %s: name files with printable characters only", p, why), false
	}
	if len(p) > maxPathBytes {
		return "", agents.Errorf("path is %d bytes, more than the %d-byte limit", len(p), maxPathBytes), false
	}
	name = filepath.Clean(filepath.FromSlash(p))
	if !filepath.IsLocal(name) {
		return "", escaped(p), false
	}
	parts := strings.Split(name, string(filepath.Separator))
	if len(parts) > maxDepth {
		return "", agents.Errorf("path %q is %d levels deep, more than the limit of %d", p, len(parts), maxDepth), false
	}
	for _, c := range parts {
		if len(c) > maxNameBytes {
			return "", agents.Errorf("a component of path %q is %d bytes, more than the %d-byte limit", p, len(c), maxNameBytes), false
		}
	}
	return name, agents.Result{}, true
}

// badName says why a name cannot be shown on one line as it is: a control
// character (a newline could forge a list_files entry, an escape sequence
// rewrite a terminal) or invalid UTF-8; "" when it can.
func badName(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "holds a control character"
		}
	}
	return ""
}

func escaped(p string) agents.Result {
	return agents.Errorf("path %q escapes the workspace: use a path relative to the workspace root, without .. or absolute paths, and do not follow symbolic links that lead out of it", p)
}

func tooBig(p string, size int64) agents.Result {
	return agents.Errorf("%s is %d bytes, more than the %d-byte limit of read_file", p, size, MaxFileSize)
}

// failure turns a file system error into a tool error the model can act on,
// naming the path as the model gave it and never the workspace's location.
func failure(p string, err error) agents.Result {
	switch {
	case isEscape(err):
		return escaped(p)
	case errors.Is(err, fs.ErrNotExist):
		return agents.Errorf("%s does not exist: use list_files to see what the workspace holds", p)
	case errors.Is(err, fs.ErrPermission):
		return agents.Errorf("%s: permission denied", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return agents.Errorf("%s: %v", p, pe.Err)
	}
	return agents.Errorf("%s: %v", p, err)
}

// isEscape reports whether err is os.Root's refusal of a path that leaves
// the root. The standard library does not export that error, so its text is
// matched.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}
