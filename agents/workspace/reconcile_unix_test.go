//go:build unix

package workspace_test

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
)

// A resumed run asks write_file whether a write cut short took effect: the
// file holds the content. It never blocks on a FIFO at the path, and never
// reads a file larger than the content into memory.
func TestReconcileOnHostileFiles(t *testing.T) {
	f := newFixture(t)
	rc, ok := f.tools[workspace.ToolWriteFile].(agents.Reconciler)
	if !ok {
		t.Fatal("write_file is no Reconciler")
	}
	reconcile := func(path, content string) (bool, error) {
		var done bool
		var err error
		within(t, func() agents.Result {
			_, done, err = rc.Reconcile(t.Context(), []byte(`{"path":"`+path+`","content":"`+content+`"}`))
			return agents.Result{}
		})
		return done, err
	}
	f.call(t, workspace.ToolWriteFile, workspace.WriteFileArgs{Path: "notes.md", Content: "minutes"})
	if done, err := reconcile("notes.md", "minutes"); !done || err != nil {
		t.Errorf("the write took effect: %v, %v", done, err)
	}
	if done, err := reconcile("notes.md", "other"); done || err != nil {
		t.Errorf("another content: %v, %v", done, err)
	}
	if done, err := reconcile("missing.md", "minutes"); done || err != nil {
		t.Errorf("no file: %v, %v", done, err)
	}
	if err := syscall.Mkfifo(filepath.Join(f.dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if done, err := reconcile("pipe", "minutes"); done || err != nil {
		t.Errorf("a FIFO: %v, %v", done, err)
	}
	big, err := os.Create(filepath.Join(f.dir, "big.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(64 << 20); err != nil { // sparse
		t.Fatal(err)
	}
	big.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done, err := reconcile("big.md", "minutes")
	runtime.ReadMemStats(&after)
	if done || err != nil {
		t.Errorf("a large file: %v, %v", done, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
		t.Errorf("reconciling a 64 MiB file allocated %d bytes", n)
	}
}
