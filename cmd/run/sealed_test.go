package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

// The sealed record refuses an unsigned journal of a run sealed here, or
// at a path where a sealed journal was written, and fails closed when it
// cannot be read or trusted.
func TestSealedRecord(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	sealed := filepath.Join(dir, "runs", "a.jsonl")
	if err := checkUnsigned(sealed, "run-a"); err != nil {
		t.Fatalf("no record yet: %v", err)
	}
	if err := recordSealed("run-a", sealed); err != nil {
		t.Fatal(err)
	}
	if err := recordSealed("run-b", filepath.Join(dir, "runs", "b.jsonl")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(sealedFile()); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the record: %v %v", info.Mode(), err)
	}
	for _, tc := range []struct {
		path, run string
		refused   bool
	}{
		{sealed, "run-a", true},
		{filepath.Join(dir, "elsewhere.jsonl"), "run-b", true}, // moved
		{sealed, "renamed", true},                              // run id changed in place
		{filepath.Join(dir, "legacy.jsonl"), "legacy", false},
	} {
		err := checkUnsigned(tc.path, tc.run)
		if refused := err != nil; refused != tc.refused || refused && !errors.Is(err, orchestrator.ErrNotResumable) {
			t.Errorf("%s of %s: %v, want refused %v", tc.path, tc.run, err, tc.refused)
		}
	}
	// A record others can write is not believed: refused.
	if err := os.Chmod(sealedFile(), 0o622); err != nil {
		t.Fatal(err)
	}
	if err := checkUnsigned(filepath.Join(dir, "legacy.jsonl"), "legacy"); err == nil {
		t.Error("a record others can write was believed")
	}
	// No configuration directory: no record to consult, refused.
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "")
	if err := checkUnsigned(filepath.Join(dir, "legacy.jsonl"), "legacy"); err == nil {
		t.Error("an unsigned journal believed with no record to consult")
	}
}
