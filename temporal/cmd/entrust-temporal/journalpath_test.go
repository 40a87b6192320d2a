package main

import (
	"os"
	"path/filepath"
	"testing"
)

// follow's default journal is the one run wrote for the same workflow:
// a file already there is never chosen, so following does not truncate it.
func TestUnusedPathKeepsAJournalThere(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "wf.jsonl")
	if got := unusedPath(p); got != p {
		t.Errorf("a free path: %s, want %s", got, p)
	}
	for _, f := range []string{p, filepath.Join(dir, "wf.1.jsonl")} {
		if err := os.WriteFile(f, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := unusedPath(p), filepath.Join(dir, "wf.2.jsonl"); got != want {
		t.Errorf("taken: %s, want %s", got, want)
	}
}
