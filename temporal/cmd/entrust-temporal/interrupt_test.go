package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/server/temporaltest"
)

// TestInterruptCancelsTheWorkflow: an interrupt while the lead's model call
// is under way cancels the workflow, waits for its last events and exits
// 130, as run does, with a journal that ends with the cancellation.
func TestInterruptCancelsTheWorkflow(t *testing.T) {
	called := make(chan struct{}, 1)
	lead := model.ScriptFunc("lead", func(ctx context.Context, _ *model.Request) (*model.Response, error) {
		select {
		case called <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	w := &entrusttemporal.Worker{Team: orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "writes notes", Model: lead}}}}}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ts.NewWorker("entrust", w.Register)

	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	go func() {
		select {
		case <-called:
			interrupt()
		case <-ctx.Done():
		}
	}()
	journal := filepath.Join(t.TempDir(), "run.jsonl")
	var out, errOut bytes.Buffer
	opts := &runOptions{conn: conn{address: ts.GetFrontendHostPort(), namespace: ts.GetDefaultNamespace(), taskQueue: "entrust"},
		team: writeTeam(t), escalations: "auto", output: output{journal: journal}, goal: "write a note", in: strings.NewReader(""), out: &out, errOut: &errOut}
	err := runGoal(ctx, opts)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitInterrupted {
		t.Fatalf("%v, want exit %d\n%s\n%s", err, exitInterrupted, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "interrupted: the run was cancelled") {
		t.Errorf("output:\n%s", out.String())
	}
	events := readJournal(t, journal)
	if last := events[len(events)-1]; last.Type != orchestrator.EventRunFinished || last.Status != orchestrator.StatusFailed || last.Cause != orchestrator.CauseCancelled {
		t.Errorf("the journal ends with %s %s (%s)", last.Type, last.Status, last.Cause)
	}
}
