package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	if err := CheckUnsigned(sealed, "run-a"); err != nil {
		t.Fatalf("no record yet: %v", err)
	}
	if err := RecordSealed("run-a", sealed); err != nil {
		t.Fatal(err)
	}
	if err := RecordSealed("run-b", filepath.Join(dir, "runs", "b.jsonl")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(SealedFile()); err != nil || info.Mode().Perm() != 0o600 {
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
		err := CheckUnsigned(tc.path, tc.run)
		if refused := err != nil; refused != tc.refused || refused && !errors.Is(err, orchestrator.ErrNotResumable) {
			t.Errorf("%s of %s: %v, want refused %v", tc.path, tc.run, err, tc.refused)
		}
	}
	// A record others can write is not believed: refused.
	if err := os.Chmod(SealedFile(), 0o622); err != nil {
		t.Fatal(err)
	}
	if err := CheckUnsigned(filepath.Join(dir, "legacy.jsonl"), "legacy"); err == nil {
		t.Error("a record others can write was believed")
	}
	// No configuration directory: no record to consult, refused.
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "")
	if err := CheckUnsigned(filepath.Join(dir, "legacy.jsonl"), "legacy"); err == nil {
		t.Error("an unsigned journal believed with no record to consult")
	}
}

// A sealed journal is in the record before its first line, and one whose
// record cannot be written is not made: the command refuses to start.
func TestCreateSealedJournal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	key := []byte(strings.Repeat("k", 32))
	path := filepath.Join(dir, "a.jsonl")
	j, err := CreateSealedJournal(path, "run-a", key)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := CheckUnsigned(filepath.Join(dir, "moved.jsonl"), "run-a"); !errors.Is(err, orchestrator.ErrNotResumable) {
		t.Errorf("run-a is not in the record: %v", err)
	}
	// A record that cannot be written: a directory in its place.
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "other"))
	if err := os.MkdirAll(SealedFile(), 0o700); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "b.jsonl")
	if _, err := CreateSealedJournal(b, "run-b", key); err == nil || !strings.Contains(err.Error(), "sealed record") {
		t.Errorf("a journal made with no record of it: %v", err)
	}
	if _, err := os.Stat(b); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journal was left behind: %v", err)
	}
}
