package temporal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
)

func simpleGoal() agents.Goal {
	return agents.Goal{Objective: "Pick a storage engine", Criteria: []string{"An engine is picked"}}
}

// waitQuestion polls the run until a question is waiting.
func waitQuestion(t *testing.T, r *entrusttemporal.Run) *entrusttemporal.Question {
	t.Helper()
	for range 500 {
		qs, err := r.Questions(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) > 0 {
			return qs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev, _ := r.Events(t.Context(), 0)
	t.Fatalf("no question came: %s", protocoltest.Trace(ev))
	return nil
}

func TestEscalationAnsweredThroughTheClient(t *testing.T) {
	g := simpleGoal()
	m := model.NewScripted("lead",
		model.Calls(protocoltest.Accept(g)),
		model.Calls(model.Call(agents.ToolEscalate, map[string]any{"kind": agents.KindAmbiguity, "blocking": true,
			"question": "Postgres or SQLite?", "options": []string{"Postgres", "SQLite"}, "recommendation": "SQLite"})),
		model.Calls(protocoltest.Complete(g, "Picked Postgres, as the user said")))
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "lead", Role: "decides", Model: m}}}}
	ts, queue := newServer(t)
	startWorker(t, ts, queue, &entrusttemporal.Worker{Team: team})
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), g, entrusttemporal.StartOptions{TaskQueue: queue, AskClient: true})
	if err != nil {
		t.Fatal(err)
	}

	// The lead's acceptance is judged by the client.
	q := waitQuestion(t, r)
	if q.Acceptance == nil || q.Agent != "lead" {
		t.Fatalf("first question %+v: want the lead's acceptance", q)
	}
	// An answer that does not answer what was asked, or to no question,
	// is refused and loses nothing.
	if err := r.Answer(t.Context(), entrusttemporal.Answer{ID: q.ID, Resolution: &agents.Resolution{Answer: "x"}}); err == nil {
		t.Error("an escalation's answer to an acceptance was taken")
	}
	if err := r.Answer(t.Context(), entrusttemporal.Answer{ID: "nope", Alignment: &agents.Alignment{Aligned: true}}); err == nil ||
		!strings.Contains(err.Error(), entrusttemporal.ErrUnknownQuestion.Error()) {
		t.Errorf("answer to no question: %v", err)
	}
	if err := r.Answer(t.Context(), entrusttemporal.Answer{ID: q.ID, Alignment: &agents.Alignment{Aligned: true, By: "user"}}); err != nil {
		t.Fatal(err)
	}

	q = waitQuestion(t, r)
	if q.Escalation == nil || q.Escalation.Question != "Postgres or SQLite?" {
		t.Fatalf("second question %+v: want the escalation", q)
	}
	if err := r.Answer(t.Context(), entrusttemporal.Answer{ID: q.ID,
		Resolution: &agents.Resolution{Answer: "Use Postgres", Decision: "Postgres", By: "user"}}); err != nil {
		t.Fatal(err)
	}
	out, err := r.Wait(t.Context())
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	res := protocoltest.OfType(events, orchestrator.EventEscalationResolved)
	if len(res) != 1 || res[0].Resolution == nil || res[0].Resolution.Answer != "Use Postgres" {
		t.Errorf("escalation.resolved: %s", protocoltest.Trace(res))
	}
	reqs := m.Requests()
	if last := reqs[len(reqs)-1]; !strings.Contains(last.Messages[len(last.Messages)-1].Content, "Use Postgres") {
		t.Errorf("the lead was not given the answer: %q", last.Messages[len(last.Messages)-1].Content)
	}
	protocoltest.CheckJournal(t, events)
}

func TestCancel(t *testing.T) {
	g := simpleGoal()
	started := make(chan struct{}, 1)
	m := model.ScriptFunc("lead", func(ctx context.Context, req *model.Request) (*model.Response, error) {
		started <- struct{}{}
		<-ctx.Done() // a model call that never answers
		return nil, ctx.Err()
	})
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "lead", Role: "decides", Model: m}}}}
	ts, queue := newServer(t)
	startWorker(t, ts, queue, &entrusttemporal.Worker{Team: team})
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), g, entrusttemporal.StartOptions{TaskQueue: queue, Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cancelOnceStarted(t, r, started)
}

// cancelOnceStarted cancels r once started says its model call hangs, and
// checks that the run ends cancelled, with a journal that ends with
// run.finished and holds every invariant; it returns the journal.
func cancelOnceStarted(t *testing.T, r *entrusttemporal.Run, started <-chan struct{}) []*orchestrator.Event {
	t.Helper()
	<-started
	if err := r.Cancel(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, err := r.Wait(t.Context())
	if out == nil || out.Cause != orchestrator.CauseCancelled {
		t.Fatalf("outcome %+v, %v: want cancelled", out, err)
	}
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != orchestrator.EventRunFinished {
		t.Errorf("the journal ends with %s, want run.finished", last.Type)
	}
	protocoltest.CheckJournal(t, events)
	return events
}
