package temporal_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// TestWorkersDenyIsKept: a worker configured to refuse every escalation
// (AutoPrincipal{Deny: true}) refuses one that recommends something
// irreversible, though the run did not ask for Deny itself: the worker's
// automatic policy is kept as configured, not replaced by the permissive
// one.
func TestWorkersDenyIsKept(t *testing.T) {
	deny := orchestrator.AutoPrincipal{Deny: true}
	c, id, run := idleRun(t, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{}), Options: &orchestrator.Options{Principal: deny}})
	dec, err := entrusttemporal.AskAs(t.Context(), c, id, run, 1, "d1", deny, func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
		res, err := p.AnswerEscalation(ctx, &agents.Escalation{From: "lead", Question: "may I delete prod?", Recommendation: "delete prod"})
		return orchestrator.Decision{Resolution: &res}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := dec.Resolution; r == nil || !r.Refused || r.By != agents.ByPolicy {
		t.Fatalf("the worker's Deny policy was not kept: the escalation was answered %+v", r)
	}
}

// askWatch is a worker.Registry whose question activity (Worker.Ask)
// tells asked each time it has returned.
type askWatch struct {
	worker.Registry
	asked chan<- struct{}
}

func (o askWatch) RegisterActivityWithOptions(a any, opts activity.RegisterOptions) {
	if opts.Name == entrusttemporal.AskActivity {
		f := reflect.ValueOf(a)
		a = reflect.MakeFunc(f.Type(), func(args []reflect.Value) []reflect.Value {
			defer func() { o.asked <- struct{}{} }()
			return f.Call(args)
		}).Interface()
	}
	o.Registry.RegisterActivityWithOptions(a, opts)
}

// TestQuestionWaitsForItsPrincipal: a worker whose Principal refuses the
// lead's acceptance puts the question to its Principal, and the worker of
// the queue that takes it up first has no Principal. That worker must not
// answer it (it did with the permissive policy: "Aligned, by policy"): the
// question goes on to the worker with the strict Principal, whose judgement
// is the one recorded. A worker with another Principal of another name
// refuses it too.
func TestQuestionWaitsForItsPrincipal(t *testing.T) {
	var judged atomic.Int32
	strict := orchestrator.PrincipalFuncs{Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
		judged.Add(1)
		return agents.Alignment{Aligned: false, By: agents.ByUser}, nil
	}}
	lenient := orchestrator.PrincipalFuncs{Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
		return agents.Alignment{Aligned: true, By: agents.ByUser}, nil
	}}
	ts, q := newServer(t)
	c := ts.GetDefaultClient()
	team := leadWriter(t, t.TempDir(), &counts{})
	// start starts a worker of w on the queue whose orchestrator does
	// nothing (the test speaks for it); its questions are told on asked.
	start := func(w *entrusttemporal.Worker, asked chan struct{}) worker.Worker {
		wk := worker.New(c, q, worker.Options{})
		w.Register(askWatch{idleOrchestrator{wk}, asked})
		if err := wk.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(wk.Stop)
		return wk
	}
	none := make(chan struct{}, 8)
	first := start(&entrusttemporal.Worker{Team: team}, none)
	id, run := startRun(t, c, q)

	type result struct {
		dec orchestrator.Decision
		err error
	}
	done := make(chan result, 1)
	go func() {
		dec, err := entrusttemporal.AskAs(t.Context(), c, id, run, 1, "d1", strict, func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
			al, err := p.JudgeAcceptance(ctx, &agents.Goal{Objective: "o"}, "lead", &agents.Acceptance{})
			return orchestrator.Decision{Alignment: &al}, err
		})
		done <- result{dec, err}
	}()
	// The worker without a Principal is the only one of the queue: it
	// takes the question up first.
	select {
	case <-none:
	case res := <-done:
		t.Fatalf("the question was answered before it reached a worker: %+v, %v", res.dec.Alignment, res.err)
	}
	first.Stop()
	// A worker with another Principal, named otherwise, refuses it too.
	other := make(chan struct{}, 8)
	second := start(&entrusttemporal.Worker{Team: team, PrincipalName: "desk-b", Options: &orchestrator.Options{Principal: lenient}}, other)
	select {
	case <-other:
	case res := <-done:
		t.Fatalf("the strict worker's question was answered %+v (%v) by a worker without its Principal", res.dec.Alignment, res.err)
	}
	second.Stop()
	start(&entrusttemporal.Worker{Team: team, Options: &orchestrator.Options{Principal: strict}}, make(chan struct{}, 8))
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if al := res.dec.Alignment; al == nil || al.Aligned || al.By != agents.ByUser || judged.Load() != 1 {
		t.Fatalf("the acceptance was judged %+v (%d times by the strict Principal), want the strict Principal's refusal, once", al, judged.Load())
	}
}
