package workspace_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/workspace"
)

func TestHostileNamesAreRefused(t *testing.T) {
	f := newFixture(t)
	for name, path := range map[string]string{
		"newline":   "a\nb (12 bytes).txt",
		"escape":    "\x1b[2Jnote.txt",
		"nul":       "a\x00b",
		"bidi":      "note\u2028.txt",
		"long name": strings.Repeat("n", 256),
		"long path": strings.Repeat("d/", 2100) + "f",
		"deep":      strings.Repeat("d/", 65) + "f",
	} {
		for _, tool := range []string{workspace.ToolReadFile, workspace.ToolWriteFile} {
			res := f.call(t, tool, map[string]string{"path": path, "content": "x"})
			if !res.IsError {
				t.Errorf("%s %s: not refused: %+v", tool, name, res)
			}
		}
	}
	// The bounds themselves are allowed.
	ok := strings.Repeat("d/", 63) + strings.Repeat("n", 255)
	if res := f.call(t, workspace.ToolWriteFile, map[string]string{"path": ok, "content": "x"}); res.IsError {
		t.Errorf("at the bounds: %+v", res)
	}
}

func TestListShowsHostileNamesQuoted(t *testing.T) {
	f := newFixture(t)
	forged := "a\nsecret.txt (10 bytes)"
	if err := os.WriteFile(filepath.Join(f.dir, forged), []byte("x"), 0o644); err != nil {
		t.Skip("cannot create such a name here:", err)
	}
	res := f.call(t, workspace.ToolListFiles, `{}`)
	if res.IsError || strings.Contains(res.Content, "\nsecret.txt") || !strings.Contains(res.Content, `"a\nsecret.txt (10 bytes)"`) {
		t.Errorf("list_files:\n%s", res.Content)
	}
}
