package cli_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A workspace that is entrust's configuration directory, or an ancestor of
// it, under another name that no symbolic link explains — a bind mount — is
// refused, as is one where such a directory is mounted: the key check
// compares the directories as files, not only their names. Bind mounts need
// a mount namespace, so the test runs itself again in a new user and mount
// namespace (no root needed where unprivileged user namespaces are
// allowed), and skips where they are not.
func TestKeyOutsideBindMount(t *testing.T) {
	if os.Getenv("ENTRUST_TEST_BIND_MOUNT") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeyOutsideBindMount$", "-test.v")
		cmd.Env = append(os.Environ(), "ENTRUST_TEST_BIND_MOUNT=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err != nil && !errors.As(err, &exit):
			t.Skip("no user namespaces here:", err)
		case err == nil && strings.Contains(string(out), "--- SKIP"):
			t.Skip(string(out))
		case err != nil:
			t.Fatalf("%v\n%s", err, out)
		case testing.Verbose():
			t.Log(string(out))
		}
		return
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Skip("cannot make the mounts private:", err)
	}
	base := t.TempDir()
	cfg := filepath.Join(base, "home", ".config", "entrust")
	key := filepath.Join(cfg, "journal.key")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, source string // what is mounted
		at           string // where, in the workspace
	}{
		{"the configuration directory", cfg, "."},
		{"the user's configuration directory", filepath.Dir(cfg), "."},
		{"the configuration directory, in the workspace", cfg, "sub"},
		{"the user's configuration directory, deep in the workspace", filepath.Dir(cfg), "a/b\tc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := filepath.Join(t.TempDir(), "my ws") // mountinfo escapes the space
			at := filepath.Join(ws, tc.at)
			if err := os.MkdirAll(at, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mount(tc.source, at, "", syscall.MS_BIND, ""); err != nil {
				t.Skip("no bind mounts here:", err)
			}
			t.Cleanup(func() { syscall.Unmount(at, syscall.MNT_DETACH) })
			err := cli.KeyOutside(ws, key)
			if !errors.Is(err, orchestrator.ErrJournalKey) || !strings.Contains(err.Error(), "is inside the workspace") {
				t.Fatalf("a workspace mounted from %s: %v", tc.source, err)
			}
		})
	}
	// A workspace of its own beside it still passes.
	if err := cli.KeyOutside(filepath.Join(base, "ws"), key); err != nil {
		t.Fatal(err)
	}
}
