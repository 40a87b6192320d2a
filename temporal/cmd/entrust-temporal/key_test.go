package main

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

// A worker whose workspace holds the journal key its clients seal with is
// refused, as run refuses a key inside its workspace: the worker's tools
// could read it, and an agent seal what it likes.
func TestWorkerRefusesKeyInWorkspace(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(ws, "config"))
	_, err := buildWorker(&workerOptions{workspace: ws, trust: "", errOut: io.Discard})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage || !errors.Is(ee.err, orchestrator.ErrJournalKey) || !strings.Contains(err.Error(), "is inside the workspace") {
		t.Fatalf("a workspace holding the key: %v, want a usage error saying the key is inside it", err)
	}
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	w, err := buildWorker(&workerOptions{workspace: ws, trust: "", errOut: io.Discard})
	if err != nil {
		t.Fatalf("the key outside the workspace: %v", err)
	}
	w.release()
}
