package temporal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// killer is a model that, once its tools have run, kills its worker (its
// client's connection goes, as when the process dies: no graceful
// shutdown) at the next call, which never answers.
type killer struct {
	model.Model
	runs   *atomic.Int64
	kill   func()
	killed atomic.Bool
	hang   chan struct{}
}

func (k *killer) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	if k.runs.Load() > 0 && k.killed.CompareAndSwap(false, true) {
		k.kill()
	}
	if k.killed.Load() {
		select {
		case <-k.hang:
		case <-ctx.Done():
		}
		return nil, errors.New("killed")
	}
	return k.Model.Generate(ctx, req) // counted by the protocoltest.CountedModel inside
}

func TestKilledWorkerRunContinuesOnAnother(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()

	// Worker 1, on a connection of its own.
	var c1 counts
	team1 := leadWriter(t, dir, &c1)
	conn1 := ts.NewClientWithOptions(client.Options{})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for i := range team1.Members {
		a := *team1.Members[i].Agent
		a.Model = &killer{Model: a.Model, runs: &c1.runs, kill: func() { conn1.Close() }, hang: hang}
		team1.Members[i].Agent = &a
	}
	w1 := worker.New(conn1, q, worker.Options{})
	(&entrusttemporal.Worker{Team: team1}).Register(w1)
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { go w1.Stop() }()

	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: q,
		Heartbeat: 6 * time.Second, CallTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Worker 2 comes once worker 1 is dead.
	for c1.runs.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	var c2 counts
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c2)})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := r.Wait(ctx)
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	protocoltest.CheckJournal(t, events)
	if len(protocoltest.OfType(events, orchestrator.EventRunResumed)) != 1 {
		t.Errorf("want one run.resumed: %s", protocoltest.Trace(events))
	}
	if c2.calls.Load() == 0 {
		t.Error("worker 2 made no model call: the run did not continue there")
	}
	// No tool ran twice, no answered model call was made again: every run
	// and every answered call is in the journal once.
	var ran, called int64
	keys := map[string]bool{}
	for _, e := range events {
		switch {
		case e.Type == orchestrator.EventToolResult && !agents.IsProtocolTool(e.Tool):
			ran++
		case e.Type == orchestrator.EventModelCalled:
			called++
			k := fmt.Sprintf("%s/%s/%d", e.Delegation, e.Conversation, e.Turn)
			if keys[k] {
				t.Errorf("model call %s twice in the journal", k)
			}
			keys[k] = true
		}
	}
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d (worker 1 %d, worker 2 %d), journal %d: want 1", got, c1.runs.Load(), c2.runs.Load(), ran)
	}
	if got := c1.calls.Load() + c2.calls.Load(); got != called {
		t.Errorf("answered model calls %d (worker 1 %d, worker 2 %d), journal %d", got, c1.calls.Load(), c2.calls.Load(), called)
	}
}

// TestHundredDelegationsOnTwoWorkers runs 50 runs (a lead and a writer
// each: 100 delegations) on two workers of one task queue: every run
// completes, and each worker makes model calls. Which worker takes a task
// is the server's choice, so spread holds each worker's first call until
// the other has one, the waiting worker taking no activity meanwhile: the
// check is deterministic. A worker that can get no work still fails it:
// the other's calls then wait, and the test times out.
func TestHundredDelegationsOnTwoWorkers(t *testing.T) {
	ts, q := newServer(t)
	var c [2]counts
	s := newSpread() // each worker makes a model call, deterministically
	for i := range c {
		team := leadWriter(t, t.TempDir(), &c[i])
		for j := range team.Members {
			a := *team.Members[j].Agent
			a.Model = spreadModel{Model: a.Model, s: s, i: i}
			team.Members[j].Agent = &a
		}
		base, err := worker.NewFixedSizeTuner(worker.FixedSizeTunerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		act := spreadSlots{SlotSupplier: base.GetActivityTaskSlotSupplier(), s: s, i: i}
		startWorkerWith(t, ts, q, &entrusttemporal.Worker{Team: team}, worker.Options{Tuner: spreadTuner{WorkerTuner: base, act: act}})
	}
	const runs = 50 // a lead and a writer each: 100 delegations
	// A bound on failing only (the runs take seconds): were a worker given
	// no work at all, the other's calls would wait for its first and the
	// test would hang to go test's timeout instead of saying so.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := range runs {
		wg.Go(func() {
			g := guideGoal()
			g.Objective = fmt.Sprintf("Write onboarding guide number %d for the repository", i)
			r, err := entrusttemporal.Start(ctx, ts.GetDefaultClient(), g, entrusttemporal.StartOptions{TaskQueue: q})
			if err != nil {
				errs <- err
				return
			}
			out, err := r.Wait(ctx)
			if err == nil && out.Status != orchestrator.StatusCompleted {
				err = fmt.Errorf("%s: %s (%s)", r.ID(), out.Status, out.Reason)
			}
			if err == nil && len(out.Children) != 1 {
				err = fmt.Errorf("%s: %d delegations under the lead", r.ID(), len(out.Children))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range c {
		if c[i].calls.Load() == 0 {
			t.Errorf("worker %d made no model call", i+1)
		}
	}
}

// TestStoppedWorkerHandsTheRunOver stops worker 1 (worker.Worker's Stop, as
// an upgrade or an interrupt does) while its orchestrator waits on the
// writer's model call, made on worker 2: the run is not cancelled; worker
// 1's attempt leaves it, sending nothing more, and the retry on worker 2
// takes it over and completes it.
func TestStoppedWorkerHandsTheRunOver(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()
	var c1, c2 counts
	r, reg, _, w1 := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1)}, worker.Options{})
	// Worker 2 makes the calls (worker 1 runs its one activity, the
	// orchestrator); the writer's first model call is held.
	team2, held := heldWriter(t, dir, &c2)
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: team2})

	<-held.entered
	w1.Stop()
	select {
	case err := <-reg.ended:
		if !errors.Is(err, entrusttemporal.ErrWorkerStopped) {
			t.Errorf("attempt 1 ended with %v, want ErrWorkerStopped", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("attempt 1 went on after its worker stopped")
	}
	close(held.release)
	events := completed(t, r)
	if n := len(protocoltest.OfType(events, orchestrator.EventRunResumed)); n != 1 {
		t.Errorf("%d run.resumed: %s", n, protocoltest.Trace(events))
	}
	ran := toolRuns(events)
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d, journal %d: want 1", got, ran)
	}
}

// heldTool is an idempotent tool whose first call is held until release is
// closed or its context ends (entered is closed when it is made).
type heldTool struct {
	agents.Tool
	once    *sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h heldTool) Idempotent() bool { return true }

func (h heldTool) Call(ctx context.Context, args json.RawMessage) agents.Result {
	held := false
	h.once.Do(func() { held = true })
	if held {
		close(h.entered)
		select {
		case <-h.release:
		case <-ctx.Done():
			return agents.Result{IsError: true, Content: "cut short: " + context.Cause(ctx).Error()}
		}
	}
	return h.Tool.Call(ctx, args)
}

// idempotentWrites makes the writer's tools of team idempotent, its first
// call held by h.
func idempotentWrites(team orchestrator.Team, h heldTool) orchestrator.Team {
	writer := *team.Members[1].Agent
	writer.Tools = nil
	for _, tl := range team.Members[1].Agent.Tools {
		h.Tool = tl
		writer.Tools = append(writer.Tools, h)
	}
	team.Members[1].Agent = &writer
	return team
}

// TestStoppedWorkersCallIsMadeAgain stops worker 2 while it runs the
// writer's (idempotent) tool call: the call is made again on worker 3 and
// the run completes, the orchestrator on worker 1 none the wiser.
func TestStoppedWorkersCallIsMadeAgain(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()
	var c1, c2, c3 counts
	free := heldTool{once: &sync.Once{}}
	free.once.Do(func() {})
	r, _, _, _ := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: idempotentWrites(leadWriter(t, dir, &c1), free)}, worker.Options{})
	held := heldTool{once: &sync.Once{}, entered: make(chan struct{}), release: make(chan struct{})}
	defer close(held.release)
	w2 := startWorker(t, ts, q, &entrusttemporal.Worker{Team: idempotentWrites(leadWriter(t, dir, &c2), held)})
	<-held.entered
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: idempotentWrites(leadWriter(t, dir, &c3), free)})
	w2.Stop()
	events := completed(t, r)
	for _, e := range protocoltest.OfType(events, orchestrator.EventToolResult) {
		if e.IsError {
			t.Errorf("%s's result is an error: %s", e.Tool, e.Result)
		}
	}
	if n := c3.runs.Load(); n != 1 {
		t.Errorf("worker 3 ran %d calls, want the call worker 2 was stopped in", n)
	}
}

// spread makes two workers each make a model call, whatever the server's
// matching does: a worker's model calls wait until the other worker has
// made one too, and while a worker waits so, it takes no new activity (its
// activity slots wait: spreadSlots), so the work left goes to the other,
// whose first call lets both go. Without it, a loaded machine can have one
// worker take every task before the other polls.
type spread struct {
	called [2]chan struct{} // closed at each worker's first model call
	once   [2]sync.Once
}

func newSpread() *spread {
	return &spread{called: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
}

// wait returns once worker i may go on: at once unless it has made a model
// call and the other has not.
func (s *spread) wait(ctx context.Context, i int) error {
	if !closed(s.called[i]) {
		return nil
	}
	select {
	case <-s.called[1-i]:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// held reports whether worker i waits for the other's first model call.
func (s *spread) held(i int) bool { return closed(s.called[i]) && !closed(s.called[1-i]) }

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// spreadModel is worker i's model: each call is noted, then waits for the
// other worker's first.
type spreadModel struct {
	model.Model
	s *spread
	i int
}

func (m spreadModel) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	m.s.once[m.i].Do(func() { close(m.s.called[m.i]) })
	if err := m.s.wait(ctx, m.i); err != nil {
		return nil, err
	}
	return m.Model.Generate(ctx, req)
}

// spreadSlots is worker i's activity slot supplier: it reserves no slot
// (so the worker polls for no activity) while the worker's model call waits
// for the other worker's. The tasks its pollers had already asked for still
// come to it: a few, bounded by its pollers.
type spreadSlots struct {
	worker.SlotSupplier
	s *spread
	i int
}

func (p spreadSlots) ReserveSlot(ctx context.Context, info worker.SlotReservationInfo) (*worker.SlotPermit, error) {
	if err := p.s.wait(ctx, p.i); err != nil {
		return nil, err
	}
	return p.SlotSupplier.ReserveSlot(ctx, info)
}

func (p spreadSlots) TryReserveSlot(info worker.SlotReservationInfo) *worker.SlotPermit {
	if p.s.held(p.i) {
		return nil // an eager activity waits as a polled one does
	}
	return p.SlotSupplier.TryReserveSlot(info)
}

// spreadTuner is worker i's tuner: the SDK's default slots, its activity
// slots spreadSlots.
type spreadTuner struct {
	worker.WorkerTuner
	act worker.SlotSupplier
}

func (t spreadTuner) GetActivityTaskSlotSupplier() worker.SlotSupplier { return t.act }
