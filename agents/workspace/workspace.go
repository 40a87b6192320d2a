// Package workspace gives agents built-in file tools (read_file, write_file,
// list_files) confined to one directory. Confinement rests on os.Root, so a
// path that leaves the directory — through "..", an absolute path or a
// symbolic link — is refused before anything outside is touched, and the
// model is told so as a tool error it can correct.
package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/agents"
)

// The names of the workspace tools.
const (
	ToolReadFile  = "read_file"
	ToolWriteFile = "write_file"
	ToolListFiles = "list_files"
)

// ToolNames lists the names of the tools Tools returns, in order. Callers
// must not modify it.
var ToolNames = []string{ToolReadFile, ToolWriteFile, ToolListFiles}

// MaxFileSize bounds the bytes read_file returns and write_file writes, so
// one call cannot flood a model's context or the disk.
const MaxFileSize = 1 << 20

// maxEntries bounds the lines of one list_files answer.
const maxEntries = 1000

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
// checks of what a report cites (orchestrator.Options.Workspace).
func (w *Workspace) FS() fs.FS { return w.root.FS() }

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
	}, w.readFile))
	write := must(agents.DefineTool(agents.ToolSpec{
		Name:        ToolWriteFile,
		Description: "Create or replace a text file of the workspace with the given content (at most 1 MiB), creating missing parent directories. Paths are relative to the workspace root.",
	}, w.writeFile))
	list := must(agents.DefineTool(agents.ToolSpec{
		Name:        ToolListFiles,
		Description: "List a directory of the workspace: one entry a line, directories ending with /. Paths are relative to the workspace root.",
		Concurrent:  true,
		Idempotent:  true,
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
	f, err := w.root.Open(name)
	if err != nil {
		return nil, nil, failure(path, err), false
	}
	if info, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, failure(path, err), false
	}
	return f, info, res, true
}

func (w *Workspace) readFile(_ context.Context, in ReadFileArgs) (agents.Result, error) {
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

func (w *Workspace) writeFile(_ context.Context, in WriteFileArgs) (agents.Result, error) {
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
	if err := w.root.WriteFile(name, []byte(in.Content), 0o644); err != nil {
		return failure(in.Path, err), nil
	}
	return wrote(name, in.Content), nil
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
	b, err := t.w.root.ReadFile(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return agents.Result{}, false, nil
	case err != nil:
		return agents.Result{}, false, err
	case string(b) != in.Content:
		return agents.Result{}, false, nil
	}
	return wrote(name, in.Content), true, nil
}

func (w *Workspace) listFiles(_ context.Context, in ListFilesArgs) (agents.Result, error) {
	f, info, res, ok := w.open(in.Path)
	if !ok {
		return res, nil
	}
	defer f.Close()
	if !info.IsDir() {
		return agents.Errorf("%s is a file, not a directory: use read_file to read it", in.Path), nil
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return failure(in.Path, err), nil
	}
	if len(entries) == 0 {
		return agents.Result{Content: "(empty directory)"}, nil
	}
	// ReadDir on a File does not sort; models and tests want a stable order.
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var b strings.Builder
	for i, e := range entries {
		if i == maxEntries {
			fmt.Fprintf(&b, "… and %d more entries\n", len(entries)-maxEntries)
			break
		}
		switch {
		case e.IsDir():
			b.WriteString(e.Name() + "/\n")
		case e.Type()&fs.ModeSymlink != 0:
			b.WriteString(e.Name() + " (symbolic link)\n")
		default:
			size := int64(-1)
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
			fmt.Fprintf(&b, "%s (%d bytes)\n", e.Name(), size)
		}
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
	name = filepath.Clean(filepath.FromSlash(p))
	if !filepath.IsLocal(name) {
		return "", escaped(p), false
	}
	return name, agents.Result{}, true
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
