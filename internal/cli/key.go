package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/entrust-dev/entrust/orchestrator"
)

// KeyOutside refuses a workspace, where a run's tools read and write, that
// can reach the journal key or the records kept beside it: an agent that
// can read the key seals what it likes, and one that can write the marks or
// the sealed record (entrust/marks, entrust/sealed) unmakes what they
// guard. from says where the key was found (as
// orchestrator.LoadJournalKey says it). Refused are a key file inside the
// workspace, a key file with more than one name (a hard link to it may lie
// in the workspace), and a workspace that holds entrust's configuration
// directory or lies in it — the key from the environment (from is not a
// path) still has its records there. Paths are compared as given and as
// resolved through symbolic links, so a workspace that is a link to the
// configuration directory, or a configuration directory linked into the
// workspace, is refused; and, where they exist, as files (os.SameFile of
// each one's ancestors against the other), so a workspace that is the
// configuration directory, or an ancestor of it, under another name — a
// bind mount, a differently cased name on a case-insensitive file system —
// is refused too, as is a workspace where such a directory is mounted
// (Linux, from /proc/self/mountinfo). A path that cannot be resolved is
// refused. An empty workspace passes.
func KeyOutside(workspace, from string) error {
	if workspace == "" {
		return nil
	}
	ws, err := filepath.Abs(workspace)
	if err != nil {
		return fmt.Errorf("%w: %w", orchestrator.ErrJournalKey, err)
	}
	cfg := ""
	if filepath.IsAbs(from) {
		cfg = filepath.Dir(from)
	} else if key, err := orchestrator.JournalKeyFile(); err == nil {
		cfg = filepath.Dir(key)
	}
	if cfg == "" {
		return nil
	}
	for _, pair := range [][2]string{{cfg, ws}, {ws, cfg}} {
		if in, err := inside(pair[0], pair[1]); err != nil {
			return fmt.Errorf("%w: cannot tell whether %s, where the journal key and its records are kept, is outside the workspace %s: %w",
				orchestrator.ErrJournalKey, cfg, ws, err)
		} else if in {
			return fmt.Errorf("%w: %s, where the journal key and its records are kept, is inside the workspace %s, or the workspace inside it, where the run's tools read and write; move the workspace",
				orchestrator.ErrJournalKey, cfg, ws)
		}
	}
	if filepath.IsAbs(from) {
		return oneName(from)
	}
	return nil
}

// oneName refuses the key file at path when it has another name, a hard
// link that may lie where tools read.
func oneName(path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("%w: %w", orchestrator.ErrJournalKey, err)
	}
	if n := links(info); n > 1 {
		return fmt.Errorf("%w: %s has %d names (hard links), and one may lie in the workspace; remove the others (find ~ -samefile %s)", orchestrator.ErrJournalKey, path, n, path)
	}
	return nil
}

// KeyFileOutside refuses workspace when the journal key file of this
// machine's user (orchestrator.JournalKeyFile, used when
// $ENTRUST_JOURNAL_KEY is not set) lies inside it: for a worker, whose
// tools work there while its clients seal their journals with that key.
func KeyFileOutside(workspace string) error {
	if _, ok := os.LookupEnv(orchestrator.EnvJournalKey); ok {
		return nil
	}
	path, err := orchestrator.JournalKeyFile()
	if err != nil {
		return nil // no configuration directory: no key file to expose
	}
	return KeyOutside(workspace, path)
}

// inside reports whether the absolute path p lies in the directory dir (or
// is it), by their names as given or as resolved through symbolic links, or
// by identity: dir, or a directory mounted in it (Linux), is p or one of
// p's ancestors (sameAncestor).
func inside(p, dir string) (bool, error) {
	if below(dir, p) {
		return true, nil
	}
	rp, err := resolve(p)
	if err != nil {
		return false, err
	}
	rd, err := resolve(dir)
	if err != nil {
		return false, err
	}
	if below(rd, rp) {
		return true, nil
	}
	if in, err := sameAncestor(rp, rd); in || err != nil {
		return in, err
	}
	// A directory mounted in dir (a bind mount) may be p or hold it.
	mounts, err := mountsUnder(rd)
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if in, err := sameAncestor(rp, m); in || err != nil {
			return in, err
		}
	}
	return false, nil
}

// sameAncestor reports whether the directory dir is, as a file (device and
// inode: os.SameFile), p or one of p's ancestors, which names cannot tell:
// a differently cased name on a case-insensitive file system, a bind mount.
// The part of p not made yet is skipped, and a dir not made yet holds
// nothing; any other error is returned (the caller refuses).
func sameAncestor(p, dir string) (bool, error) {
	di, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	for cur := filepath.Clean(p); ; cur = filepath.Dir(cur) {
		fi, err := os.Stat(cur)
		if err == nil && os.SameFile(fi, di) {
			return true, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if filepath.Dir(cur) == cur {
			return false, nil
		}
	}
}

// below reports whether p is dir or lies in it, by their names.
func below(dir, p string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
	return err == nil && filepath.IsLocal(rel)
}

// resolve returns the absolute path p resolved through symbolic links as
// far as it exists: the part not made yet cannot be a link. A name that
// exists but cannot be resolved (a dangling link, a loop) is an error.
func resolve(p string) (string, error) {
	var rest []string
	for cur := filepath.Clean(p); ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if _, lerr := os.Lstat(cur); !errors.Is(lerr, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return "", err
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}
