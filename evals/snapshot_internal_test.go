//go:build unix

package evals

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A workspace snapshot reads regular files only, never blocking on a FIFO
// (the trial's verifiers would hang), never following a link out, and never
// holding more than its bound of a file however large.
func TestSnapshotOfAHostileWorkspace(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	for name, content := range map[string]string{filepath.Join(dir, "notes.md"): "notes", outside: "top secret"} {
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "out.txt")); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(dir, "zbig.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(1 << 30); err != nil { // sparse
		t.Fatal(err)
	}
	big.Close()
	done := make(chan map[string]string, 1)
	go func() { done <- snapshot(dir) }()
	var files map[string]string
	select {
	case files = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the snapshot blocked")
	}
	if files["notes.md"] != "notes" {
		t.Errorf("notes.md = %q", files["notes.md"])
	}
	for name, content := range files {
		if name == "pipe" || name == "out.txt" || strings.Contains(content, "top secret") {
			t.Errorf("the snapshot holds %s", name)
		}
	}
	if n := len(files["zbig.bin"]); n > maxSnapshotBytes {
		t.Errorf("zbig.bin: %d bytes held", n)
	}
}
