//go:build unix

package workspace_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
)

// within fails the test if f does not return promptly: a tool that blocks on
// a FIFO would hang the test otherwise.
func within(t *testing.T, f func() agents.Result) agents.Result {
	t.Helper()
	done := make(chan agents.Result, 1)
	go func() { done <- f() }()
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the tool blocked")
		return agents.Result{}
	}
}

func TestFIFOIsRefusedWithoutBlocking(t *testing.T) {
	f := newFixture(t)
	if err := syscall.Mkfifo(filepath.Join(f.dir, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, tc := range []struct{ tool, args string }{
		{workspace.ToolReadFile, `{"path":"pipe"}`},
		{workspace.ToolWriteFile, `{"path":"pipe","content":"x"}`},
	} {
		res := within(t, func() agents.Result { return f.call(t, tc.tool, tc.args) })
		if !res.IsError || !strings.Contains(res.Content, "named pipe") {
			t.Errorf("%s: %+v", tc.tool, res)
		}
	}
	res := within(t, func() agents.Result { return f.call(t, workspace.ToolListFiles, `{}`) })
	if res.IsError || !strings.Contains(res.Content, "pipe (not a regular file)") {
		t.Errorf("list_files: %+v", res)
	}
}

func TestWriteNeverGoesThroughAHardLink(t *testing.T) {
	f := newFixture(t)
	secret := filepath.Join(f.outside, "secret.txt")
	if err := os.Link(secret, filepath.Join(f.dir, "linked.txt")); err != nil {
		t.Skip("no hard links here:", err)
	}
	res := f.call(t, workspace.ToolWriteFile, `{"path":"linked.txt","content":"overwritten"}`)
	if res.IsError {
		t.Fatalf("write_file: %+v", res)
	}
	if b, _ := os.ReadFile(secret); string(b) != "top secret" {
		t.Errorf("the file outside now holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "linked.txt")); string(b) != "overwritten" {
		t.Errorf("the workspace's file holds %q", b)
	}
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("a temporary file was left: %s", e.Name())
		}
	}
}
