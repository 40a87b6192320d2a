package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/server/temporaltest"
)

// TestRunOnWorkers runs a goal with the command against an in-process
// server and a worker built as the worker command builds it, on the
// simulator.
func TestRunOnWorkers(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ws := t.TempDir()
	w, release, err := buildWorker(&workerOptions{workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ts.NewWorker("entrust", w.Register)

	journal := filepath.Join(t.TempDir(), "run.jsonl")
	var out, errOut bytes.Buffer
	code := run([]string{"run", "--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace(),
		"--journal", journal, "--escalations", "auto", "--criteria", "The guide explains how to build and test",
		"Write an onboarding guide for the repository"}, strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "goal.completed") || !strings.HasSuffix(out.String(), "lead: completed\n") {
		t.Errorf("output:\n%s", out.String())
	}
	f, err := os.Open(journal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, _, err := orchestrator.ReadJournal(f)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := orchestrator.Rebuild(events); err != nil || o.Status != orchestrator.StatusCompleted {
		t.Errorf("the journal rebuilds to %v, %v", o, err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "--escalations", "maybe", "GOAL"},
		{"worker"},
		{"dev", "--port", "-1"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errOut.String())
		}
	}
}
