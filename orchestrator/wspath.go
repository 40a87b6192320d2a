package orchestrator

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// workspaceDirs returns the names under which an absolute path is taken to
// be inside the workspace directory dir (Options.WorkspaceDir): dir itself,
// absolute and cleaned, and, when it differs, the directory it resolves to
// through symbolic links. Tools name files either way: the MCP filesystem
// server names them by the resolved one (macOS's /tmp is /private/tmp).
// Nil for no directory.
func workspaceDirs(dir string) []string {
	if dir == "" {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	dirs := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		dirs = append(dirs, real)
	}
	return dirs
}

// workspacePath is p as a workspace path (cleanPath), an absolute path
// inside the workspace directory made relative to it first (inWorkspace), as
// the MCP filesystem server names files (/abs/ws/notes.md is notes.md); ""
// for a path outside the workspace.
func (d *delegation) workspacePath(p string) string {
	p = strings.TrimSpace(p)
	if filepath.IsAbs(p) {
		rel, ok := d.rt.inWorkspace(p)
		if !ok {
			return ""
		}
		p = filepath.ToSlash(rel)
	}
	return cleanPath(strings.TrimPrefix(p, "./"))
}

// inWorkspace returns the absolute path p relative to the workspace
// directory, and whether it is inside it: lexically under one of the
// directory's names (workspaceDirs, resolved once in New). A path the model
// chose is never resolved here: resolving it would touch the file system
// outside the workspace at the model's choice (an automount under /net, a
// dead network mount that hangs an lstat). So a name through a link the
// runtime was not given (a link elsewhere to the workspace or its parent)
// is outside, which fails closed. Inside, the rest of the path — a link
// there included — is the Workspace's to follow, and an os.Root refuses one
// that leads out.
func (rt *Runtime) inWorkspace(p string) (string, bool) {
	p = filepath.Clean(p)
	for _, dir := range rt.wsDirs {
		if rel, ok := below(dir, p); ok {
			return rel, true
		}
	}
	return "", false
}

// below returns p relative to dir when p lies inside it, lexically.
func below(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || !filepath.IsLocal(rel) {
		return "", false
	}
	return rel, true
}

// notThere says why the workspace path p, which the Workspace could not
// Stat (err), is no file of it: it does not exist, or it cannot be reached
// there — a symbolic link that leads out of an os.Root, a permission — said
// without the workspace's location.
func notThere(p string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return p + " does not exist in the workspace"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return p + " cannot be reached in the workspace (" + err.Error() + ")"
}
