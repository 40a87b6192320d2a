//go:build unix

package workspace_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents/workspace"
)

// Dangling links: one that would lead out is neither read nor written
// through, nor are directories made through it; one that stays inside is
// replaced by the file written, never written through.
func TestDanglingLinks(t *testing.T) {
	f := newFixture(t)
	mustDo(t, os.Symlink(filepath.Join(f.outside, "new.txt"), filepath.Join(f.dir, "out.txt")))
	mustDo(t, os.Symlink("../outside/rel.txt", filepath.Join(f.dir, "relout.txt")))
	mustDo(t, os.Symlink(filepath.Join(f.outside, "newdir"), filepath.Join(f.dir, "outdir")))
	mustDo(t, os.Symlink("missing.txt", filepath.Join(f.dir, "in.txt")))
	for _, c := range []struct {
		tool string
		args any
	}{
		{workspace.ToolReadFile, workspace.ReadFileArgs{Path: "out.txt"}},
		{workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "out.txt", Content: "x"}},
		{workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "relout.txt", Content: "x"}},
		{workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "outdir/sub/x.txt", Content: "x"}},
		{workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "outdir/x.txt", Content: "x"}},
		{workspace.ToolListFiles, workspace.ListFilesArgs{Path: "outdir"}},
	} {
		if res := f.call(t, c.tool, c.args); !res.IsError || !strings.Contains(res.Content, "escapes the workspace") {
			t.Errorf("%s %+v: %+v", c.tool, c.args, res)
		}
	}
	for _, p := range []string{"new.txt", "rel.txt", "newdir"} {
		if _, err := os.Lstat(filepath.Join(f.outside, p)); err == nil {
			t.Errorf("%s was made outside the workspace", p)
		}
	}
	if res := f.call(t, workspace.ToolReadFile, workspace.ReadFileArgs{Path: "in.txt"}); !res.IsError || !strings.Contains(res.Content, "does not exist") {
		t.Errorf("read a link to nothing inside: %+v", res)
	}
	if res := f.call(t, workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "in.txt", Content: "x"}); res.IsError {
		t.Fatalf("write a link to nothing inside: %+v", res)
	}
	if info, err := os.Lstat(filepath.Join(f.dir, "in.txt")); err != nil || !info.Mode().IsRegular() {
		t.Errorf("in.txt is not the file written: %v, %v", info, err)
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "missing.txt")); err == nil {
		t.Error("the write went through the link")
	}
}

// ".." after a link is taken by name, as the path reads, so it never climbs
// out through the directory the link leads to.
func TestDotDotAfterALink(t *testing.T) {
	f := newFixture(t)
	mustDo(t, os.Symlink(f.outside, filepath.Join(f.dir, "linkdir")))
	if res := f.call(t, workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "linkdir/../pwned.txt", Content: "x"}); res.IsError {
		t.Fatalf("write: %+v", res)
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "pwned.txt")); err != nil {
		t.Errorf("linkdir/../pwned.txt is not the workspace's pwned.txt: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(f.dir), "pwned.txt")); err == nil {
		t.Error("the write climbed out through the link")
	}
	if res := f.call(t, workspace.ToolReadFile, workspace.ReadFileArgs{Path: "linkdir/../../secret.txt"}); !res.IsError || strings.Contains(res.Content, "top secret") {
		t.Errorf("read: %+v", res)
	}
}

// A link swapped between inside and outside while the tools run never lets
// a read or a write through to the outside: each call resolves the path
// once, inside the workspace (os.Root), not by a check and then a use.
func TestLinkSwappedWhileInUse(t *testing.T) {
	f := newFixture(t)
	mustDo(t, os.MkdirAll(filepath.Join(f.dir, "real"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(f.dir, "real", "secret.txt"), []byte("inside"), 0o644))
	mustDo(t, os.Symlink("real", filepath.Join(f.dir, "flip")))
	mustDo(t, os.Symlink(f.outside, filepath.Join(f.dir, ".out")))
	mustDo(t, os.Symlink("real", filepath.Join(f.dir, ".in")))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		// Each swap is atomic: a copy of the link is renamed over flip.
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src := map[bool]string{true: ".out", false: ".in"}[i%2 == 0]
			target, _ := os.Readlink(filepath.Join(f.dir, src))
			tmp := filepath.Join(f.dir, ".flip.tmp")
			os.Remove(tmp)
			if os.Symlink(target, tmp) == nil {
				os.Rename(tmp, filepath.Join(f.dir, "flip"))
			}
		}
	})
	for range 300 {
		if res := f.call(t, workspace.ToolReadFile, workspace.ReadFileArgs{Path: "flip/secret.txt"}); strings.Contains(res.Content, "top secret") {
			t.Fatalf("read through the swapped link: %+v", res)
		}
		f.call(t, workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "flip/pwned.txt", Content: "x"})
		f.call(t, workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "flip/sub/pwned.txt", Content: "x"})
	}
	close(stop)
	wg.Wait()
	for _, p := range []string{"pwned.txt", "sub"} {
		if _, err := os.Lstat(filepath.Join(f.outside, p)); err == nil {
			t.Errorf("%s was written through the swapped link", p)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(f.outside, "secret.txt")); string(b) != "top secret" {
		t.Errorf("the file outside now holds %q", b)
	}
}
