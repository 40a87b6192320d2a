package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

// keyLayout makes a user's home under a fresh directory, with its journal
// key file in place, and returns that directory and the key file's path.
func keyLayout(t *testing.T, config func(base string) string) (base, key string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", config(base))
	if key, err = orchestrator.JournalKeyFile(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(key), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "ws"), 0o755); err != nil {
		t.Fatal(err)
	}
	return base, key
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
}

// The workspace may not reach the journal key nor the records beside it,
// whatever names it is given by: a link to the configuration directory, a
// configuration directory linked into the workspace, a workspace inside
// it, or a second name of the key file are refused as a key inside it is.
// Honest workspaces — under a linked parent, relative, not made yet — pass.
func TestKeyOutsideThroughSymlinks(t *testing.T) {
	const env = "$" + orchestrator.EnvJournalKey
	xdg := func(base string) string { return filepath.Join(base, "home", ".config") }
	for _, tc := range []struct {
		name   string
		config func(base string) string // XDG_CONFIG_HOME
		setup  func(t *testing.T, base, key string) (workspace, from string)
		want   string // "" when the workspace passes
	}{
		{"a workspace of its own", xdg, func(_ *testing.T, base, key string) (string, string) {
			return filepath.Join(base, "ws"), key
		}, ""},
		{"a workspace under a linked parent", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, base, filepath.Join(base, "alias"))
			return filepath.Join(base, "alias", "ws"), key
		}, ""},
		{"a relative workspace", xdg, func(t *testing.T, base, key string) (string, string) {
			t.Chdir(base)
			return "ws", key
		}, ""},
		{"a workspace not made yet under a linked parent", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, base, filepath.Join(base, "alias"))
			return filepath.Join(base, "alias", "new", "ws"), key
		}, ""},
		{"the key from the environment", xdg, func(_ *testing.T, base, _ string) (string, string) {
			return filepath.Join(base, "ws"), env
		}, ""},
		{"the configuration directory", xdg, func(_ *testing.T, base, key string) (string, string) {
			return filepath.Join(base, "home"), key
		}, "is inside the workspace"},
		{"a link to entrust's configuration directory", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, filepath.Dir(key), filepath.Join(base, "link"))
			return filepath.Join(base, "link"), key
		}, "is inside the workspace"},
		{"a link to the user's configuration directory", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, filepath.Dir(filepath.Dir(key)), filepath.Join(base, "link"))
			return filepath.Join(base, "link"), key
		}, "is inside the workspace"},
		{"a workspace inside the configuration directory (its marks)", xdg, func(_ *testing.T, _, key string) (string, string) {
			return filepath.Join(filepath.Dir(key), "marks"), key
		}, "or the workspace inside it"},
		{"a link to the marks", xdg, func(t *testing.T, base, key string) (string, string) {
			marks := filepath.Join(filepath.Dir(key), "marks")
			if err := os.Mkdir(marks, 0o700); err != nil {
				t.Fatal(err)
			}
			symlink(t, marks, filepath.Join(base, "link"))
			return filepath.Join(base, "link"), key
		}, "or the workspace inside it"},
		{"a workspace not made yet through a link into the configuration", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, filepath.Dir(key), filepath.Join(base, "link"))
			return filepath.Join(base, "link", "new"), key
		}, "or the workspace inside it"},
		{"a link to the configuration directory, the key from the environment", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, filepath.Dir(key), filepath.Join(base, "link"))
			return filepath.Join(base, "link"), env
		}, "is inside the workspace"},
		{"the configuration directory linked into the workspace", func(base string) string {
			// XDG_CONFIG_HOME is a link to a directory in the workspace.
			if err := os.MkdirAll(filepath.Join(base, "ws", "dotconfig"), 0o755); err != nil {
				panic(err)
			}
			link := filepath.Join(base, "config-link")
			if err := os.Symlink(filepath.Join(base, "ws", "dotconfig"), link); err != nil {
				panic(err)
			}
			return link
		}, func(_ *testing.T, base, key string) (string, string) {
			return filepath.Join(base, "ws"), key
		}, "is inside the workspace"},
		{"a second name of the key in the workspace", xdg, func(t *testing.T, base, key string) (string, string) {
			if err := os.Link(key, filepath.Join(base, "ws", "innocent.txt")); err != nil {
				t.Skip("no hard links here:", err)
			}
			return filepath.Join(base, "ws"), key
		}, "has 2 names"},
		{"a dangling link", xdg, func(t *testing.T, base, key string) (string, string) {
			symlink(t, filepath.Join(base, "nowhere"), filepath.Join(base, "link"))
			return filepath.Join(base, "link", "ws"), key
		}, "cannot tell whether"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, key := keyLayout(t, tc.config)
			ws, from := tc.setup(t, base, key)
			err := KeyOutside(ws, from)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, orchestrator.ErrJournalKey) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an ErrJournalKey saying %q", err, tc.want)
			}
		})
	}
}
