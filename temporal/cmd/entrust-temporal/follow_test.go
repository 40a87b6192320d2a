package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/server/temporaltest"
)

// TestFollowAttachesToARunLeftBehind: a run whose client went away waits on
// the lead's acceptance; follow attaches to it, asks the question at the
// terminal, shows and journals the run from its first event, and exits as
// run does.
func TestFollowAttachesToARunLeftBehind(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	w, err := buildWorker(&workerOptions{workspace: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.release()
	ts.NewWorker("entrust", w.Register)
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), agents.Goal{Objective: "Write an onboarding guide for the repository"},
		entrusttemporal.StartOptions{TaskQueue: "entrust", AskClient: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := []string{"--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace()}

	var out, errOut bytes.Buffer
	if code := run(append(append([]string{"follow"}, conn...), "entrust-no-such-run"), strings.NewReader(""), &out, &errOut); code != exitFailed {
		t.Errorf("follow of no run: exit %d\n%s", code, errOut.String())
	}

	journal := filepath.Join(t.TempDir(), "run.jsonl")
	out.Reset()
	errOut.Reset()
	code := run(append(append([]string{"follow"}, conn...), "--escalations", "terminal", "--journal", journal, r.ID()),
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
