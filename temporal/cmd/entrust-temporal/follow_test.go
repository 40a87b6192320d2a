package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/server/temporaltest"
)

// withWorker starts a server and a worker of the built-in team on the
// simulator, on task queue entrust; it returns the server and the flags
// that connect to it.
func withWorker(t *testing.T) (*temporaltest.TestServer, []string) {
	t.Helper()
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	w, err := buildWorker(&workerOptions{workspace: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.release)
	ts.NewWorker("entrust", w.Register)
	return ts, []string{"--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace()}
}

// TestFollowAttachesToARunLeftBehind: a run whose client went away waits on
// the lead's acceptance; follow attaches to it, asks the question at the
// terminal, shows and journals the run from its first event, and exits as
// run does.
func TestFollowAttachesToARunLeftBehind(t *testing.T) {
	ts, conn := withWorker(t)
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), agents.Goal{Objective: "Write an onboarding guide for the repository"},
		entrusttemporal.StartOptions{TaskQueue: "entrust", AskClient: true})
	if err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	if code := run(append(append([]string{"follow"}, conn...), "entrust-no-such-run"), strings.NewReader(""), &out, &errOut); code != exitFailed {
		t.Errorf("follow of no run: exit %d\n%s", code, errOut.String())
	}

	journal := filepath.Join(t.TempDir(), "run.jsonl")
	out.Reset()
	errOut.Reset()
	code := run(append(append([]string{"follow"}, conn...), "--escalations", "terminal", "--journal", journal, "--trust", "", r.ID()),
		strings.NewReader("y\n"), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if s := errOut.String(); !strings.Contains(s, "lead accepts your goal") || !strings.Contains(s, "confirmed: lead may start") {
		t.Errorf("the acceptance was not asked:\n%s", s)
	}
	if s := out.String(); !strings.Contains(s, "run "+r.ID()+" started") || !strings.Contains(s, "completed and verified") {
		t.Errorf("the view:\n%s", s)
	}
	events := readJournal(t, journal)
	if events[0].Type != orchestrator.EventRunStarted {
		t.Errorf("the journal starts with %s", events[0].Type)
	}
	if o, err := orchestrator.Rebuild(events); err != nil || o.Status != orchestrator.StatusCompleted || o.Alignment == nil || o.Alignment.By != "user" {
		t.Errorf("the journal rebuilds to %+v, %v", o, err)
	}
	checkRecorded(t, events)
}

// TestFollowCountsTheRunOnce: the trust ledger counts a run once, whichever
// client follows it to its end: run and a follow of the same run count it
// once, and a run whose client went away is counted by follow (once, if
// followed twice).
func TestFollowCountsTheRunOnce(t *testing.T) {
	ts, conn := withWorker(t)
	dir := t.TempDir()
	client := func(ledger string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(append(append([]string{args[0]}, conn...), "--trust", ledger, "--quiet",
			"--journal", filepath.Join(t.TempDir(), "run.jsonl")), args[1:]...)
		if code := run(args, strings.NewReader(""), &out, &errOut); code != exitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out.String(), errOut.String())
		}
		return errOut.String()
	}
	runs := func(ledger string) int {
		t.Helper()
		l, err := trust.Open(ledger)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := l.Record("lead", "sim/sim")
		if !ok {
			t.Fatalf("no record of the lead in %s: %+v", ledger, l.Records())
		}
		return r.Runs
	}

	// run, then follow of the same run: counted once.
	shared := filepath.Join(dir, "trust.json")
	client(shared, "run", "--escalations", "auto", "--id", "counted-by-run", "Write an onboarding guide for the repository")
	if n := runs(shared); n != 1 {
		t.Fatalf("after run: %d runs", n)
	}
	if s := client(shared, "follow", "counted-by-run"); !strings.Contains(s, "counted run counted-by-run (as counted-by-run@") {
		t.Errorf("follow after run says:\n%s", s)
	}
	if n := runs(shared); n != 1 {
		t.Errorf("after run and follow of the same run: %d runs, want 1", n)
	}
	// The workflow id given again to a new run (run --id nightly, each
	// night): another run, counted.
	client(shared, "run", "--escalations", "auto", "--id", "counted-by-run", "Write an onboarding guide for the repository")
	if n := runs(shared); n != 2 {
		t.Errorf("after a second run under the same workflow id: %d runs, want 2", n)
	}

	// A run whose client went away: follow counts it, once.
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), agents.Goal{Objective: "Write an onboarding guide for the repository"},
		entrusttemporal.StartOptions{TaskQueue: "entrust"})
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "left.json")
	client(left, "follow", r.ID())
	client(left, "follow", r.ID())
	if n := runs(left); n != 1 {
		t.Errorf("a run left behind, followed twice: %d runs, want 1", n)
	}
}
