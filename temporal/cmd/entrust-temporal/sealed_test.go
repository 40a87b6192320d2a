package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
)

// checkRecorded fails t unless the run of the journal events is in the
// record of sealed runs: a copy of it stripped of its seals, anywhere, is
// refused by run resume --unsigned.
func checkRecorded(t *testing.T, events []*orchestrator.Event) {
	t.Helper()
	stripped := filepath.Join(t.TempDir(), "stripped.jsonl")
	if err := cli.CheckUnsigned(stripped, events[0].Run); !errors.Is(err, orchestrator.ErrNotResumable) {
		t.Errorf("run %s is not in the record of sealed runs: a copy stripped of its seals would be believed (%v)", events[0].Run, err)
	}
}

// A run whose journal cannot be put in the record of sealed runs does not
// start, as run refuses to: its journal, stripped of its seals, would pass
// for one from before seals.
func TestRunRefusedWithoutTheRecord(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	// A directory where the record's file should be: it cannot be written.
	if err := os.MkdirAll(filepath.Join(dir, "config", "entrust", "sealed"), 0o700); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "run.jsonl")
	var out, errOut bytes.Buffer
	code := run([]string{"run", "--address", "127.0.0.1:1", "--journal", journal, "--trust", "", "--escalations", "auto", "Write a haiku"},
		strings.NewReader(""), &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "sealed record") {
		t.Errorf("exit %d, want %d saying the sealed record cannot be written\n%s", code, exitUsage, errOut.String())
	}
	if _, err := os.Stat(journal); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a journal was left behind: %v", err)
	}
}
