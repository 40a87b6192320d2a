package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator/serve"
)

// A task's workspace is a plain subdirectory of --workspace: an id that
// would name another place is refused before anything is made.
func TestServeTaskIDIsAPlainName(t *testing.T) {
	parent := t.TempDir()
	ws := filepath.Join(parent, "workspace")
	s := &server{opts: &serveOptions{runOptions: runOptions{workspace: ws}}, perTask: true}
	for _, id := range []string{"../escaped", "a/b", "/abs", "..", ".", ""} {
		if _, err := s.run(t.Context(), &serve.Request{ID: id}); err == nil || !strings.Contains(err.Error(), "no plain name") {
			t.Errorf("task id %q: %v", id, err)
		}
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("made %v", entries)
	}
}
