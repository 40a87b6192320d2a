package workspace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/workspace"
)

// list_files reads at most one entry more than the 1,000 it shows: a
// directory of thousands of names costs no more than one just over the
// bound, and the answer says it was cut.
func TestListOfABigDirectory(t *testing.T) {
	f := newFixture(t)
	fill := func(dir string, n int) {
		if err := os.Mkdir(filepath.Join(f.dir, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(f.dir, dir, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill("small", 1001)
	fill("big", 3000)
	fill("exact", 1000)
	list := func(dir string) string {
		res := f.call(t, workspace.ToolListFiles, map[string]string{"path": dir})
		if res.IsError {
			t.Fatalf("list_files %s: %s", dir, res.Content)
		}
		return res.Content
	}
	for _, dir := range []string{"small", "big"} {
		lines := strings.Split(list(dir), "\n")
		if len(lines) != 1001 || !strings.Contains(lines[1000], "over 1000 entries") || !strings.HasSuffix(lines[0], " (0 bytes)") {
			t.Errorf("list_files %s: %d lines, first %q, last %q", dir, len(lines), lines[0], lines[len(lines)-1])
		}
	}
	if got := list("exact"); strings.Count(got, "\n") != 999 || strings.Contains(got, "more") {
		t.Errorf("list_files of exactly 1000 entries is not whole: %q", got[len(got)-80:])
	}
	allocs := func(dir string) float64 {
		return testing.AllocsPerRun(3, func() { list(dir) })
	}
	if small, big := allocs("small"), allocs("big"); big > small+100 {
		t.Errorf("listing 3000 entries took %.0f allocations, 1001 took %.0f: the directory is read whole", big, small)
	}
}
