package temporal_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/grpc"
)

// lostHeartbeats is a worker's connection on which, once lost is set, the
// heartbeats never reach the server while the worker believes they did:
// the worker is cut off (or paused) rather than dead, and comes back. It
// counts the updates sent on it to delegations' workflows from then on.
type lostHeartbeats struct {
	lost          atomic.Bool
	toDelegations atomic.Int64
}

func (l *lostHeartbeats) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if l.lost.Load() && strings.HasSuffix(method, "/RecordActivityTaskHeartbeat") {
		return nil
	}
	if u, ok := req.(*workflowservice.UpdateWorkflowExecutionRequest); ok && l.lost.Load() &&
		strings.Contains(u.GetWorkflowExecution().GetWorkflowId(), "/") {
		l.toDelegations.Add(1)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// orchestrations is a worker.Registry that tells when the orchestrator
// activity starts and what it returned.
type orchestrations struct {
	worker.Registry
	started chan int32
	ended   chan error
}

func (o *orchestrations) RegisterActivityWithOptions(a any, opts activity.RegisterOptions) {
	if f, ok := a.(func(context.Context, entrusttemporal.RunInput) (*entrusttemporal.RunResult, error)); ok &&
		opts.Name == entrusttemporal.OrchestrateActivity {
		a = func(ctx context.Context, in entrusttemporal.RunInput) (*entrusttemporal.RunResult, error) {
			o.started <- activity.GetInfo(ctx).Attempt
			res, err := f(ctx, in)
			o.ended <- err
			return res, err
		}
	}
	o.Registry.RegisterActivityWithOptions(a, opts)
}

// heldPrincipal judges the lead's acceptance as by, but the first time
// only once release is closed (entered is closed when it is asked); it
// counts the questions put to it.
type heldPrincipal struct {
	orchestrator.AutoPrincipal
	by      agents.By
	asked   atomic.Int32
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (p *heldPrincipal) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	p.asked.Add(1)
	p.once.Do(func() {
		close(p.entered)
		<-p.release
	})
	return agents.Alignment{Aligned: true, By: p.by}, nil
}

func newHeldPrincipal(by agents.By) *heldPrincipal {
	return &heldPrincipal{by: by, entered: make(chan struct{}), release: make(chan struct{})}
}

// startOnWorker1 starts a run whose first attempt of the orchestrator runs
// on worker 1 (returned), w on a connection whose heartbeats can be lost.
// Worker 1 runs one activity at a time: while it runs attempt 1 it takes
// no other, so a second attempt goes to another worker.
func startOnWorker1(t *testing.T, ts *temporaltest.TestServer, q string, w *entrusttemporal.Worker, opts worker.Options) (*entrusttemporal.Run, *orchestrations, *lostHeartbeats, worker.Worker) {
	t.Helper()
	lost := &lostHeartbeats{}
	conn1 := ts.NewClientWithOptions(client.Options{ConnectionOptions: client.ConnectionOptions{
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(lost.intercept)}}})
	opts.MaxConcurrentActivityExecutionSize = 1
	w1 := worker.New(conn1, q, opts)
	reg := &orchestrations{Registry: w1, started: make(chan int32, 4), ended: make(chan error, 4)}
	w.Register(reg)
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { go w1.Stop() })
	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: q,
		Heartbeat: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a := <-reg.started; a != 1 {
		t.Fatalf("worker 1 started attempt %d", a)
	}
	return r, reg, lost, w1
}

// endsFenced waits for attempt 1, registered by reg, to end fenced.
func endsFenced(t *testing.T, reg *orchestrations) {
	t.Helper()
	select {
	case err := <-reg.ended:
		if !errors.Is(err, entrusttemporal.ErrFenced) {
			t.Errorf("attempt 1 ended with %v, want ErrFenced", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("attempt 1 was not fenced: it went on")
	}
}

// toolRuns counts the action tools' results in events.
func toolRuns(events []*orchestrator.Event) int64 {
	var n int64
	for _, e := range events {
		if e.Type == orchestrator.EventToolResult && !agents.IsProtocolTool(e.Tool) {
			n++
		}
	}
	return n
}

// TestStaleAttemptIsFenced makes two attempts of a run's orchestrator
// overlap: worker 1's attempt stops heartbeating (as seen from the server)
// while the lead's acceptance is put to the workers' Principal (a person,
// say), so Temporal starts attempt 2 on worker 2; worker 1's attempt goes on
// waiting for the answer. The workflow refuses it once attempt 2 has spoken:
// it stops (fenced), no tool runs for it, and the question, put by the
// workflow, is put once: attempt 2 waits for its answer and completes the
// run.
func TestStaleAttemptIsFenced(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()

	var c1, c2 counts
	person := newHeldPrincipal(agents.ByUser)
	r, reg, lost, _ := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1),
		Options: &orchestrator.Options{Principal: person}}, worker.Options{})
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c2), Options: &orchestrator.Options{Principal: person}})

	// The lead's acceptance is put to the Principal (by an activity on
	// worker 2: worker 1 runs attempt 1 and nothing else); from now on the
	// server hears nothing of attempt 1.
	<-person.entered
	lost.lost.Store(true)
	// Attempt 2 takes over: attempt 1, waiting for the answer, is refused.
	endsFenced(t, reg)
	if n := c1.runs.Load() + c2.runs.Load(); n != 0 {
		t.Errorf("%d tool runs before the lead's acceptance was judged", n)
	}

	// The person answers; attempt 2 has the answer and completes the run.
	close(person.release)
	events := completed(t, r)
	if n := person.asked.Load(); n != 1 {
		t.Errorf("the lead's acceptance was put %d times, want once", n)
	}
	if n := len(protocoltest.OfType(events, orchestrator.EventRunResumed)); n != 1 {
		t.Errorf("%d run.resumed: %s", n, protocoltest.Trace(events))
	}
	judged := protocoltest.OfType(events, orchestrator.EventAlignmentJudged)
	if len(judged) == 0 || judged[0].Alignment == nil || judged[0].Alignment.By != person.by {
		t.Errorf("the lead's acceptance was not judged by the person: %s", protocoltest.Trace(judged))
	}
	ran := toolRuns(events)
	// Worker 1, free again, may run attempt 2's calls.
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d (worker 1 %d, worker 2 %d), journal %d: want 1", got, c1.runs.Load(), c2.runs.Load(), ran)
	}
}

// heldModel holds its first call until release is closed (entered is
// closed when it is made).
type heldModel struct {
	model.Model
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (m *heldModel) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	m.once.Do(func() {
		close(m.entered)
		<-m.release
	})
	return m.Model.Generate(ctx, req)
}

// heldWriter is leadWriter whose writer's first model call is held.
func heldWriter(t *testing.T, dir string, c *counts) (orchestrator.Team, *heldModel) {
	t.Helper()
	team := leadWriter(t, dir, c)
	held := &heldModel{Model: team.Members[1].Agent.Model, entered: make(chan struct{}), release: make(chan struct{})}
	writer := *team.Members[1].Agent
	writer.Model = held
	team.Members[1].Agent = &writer
	return team, held
}

// TestStaleAttemptIsFencedInAChild makes attempt 1 lose its heartbeats
// while it waits on the writer's model call, an effect of the writer's
// delegation's workflow (a child of the run's): attempt 2, taking over,
// fences that workflow too, so attempt 1's waiting effect is refused and it
// stops; attempt 2 gets the call's answer and completes the run.
func TestStaleAttemptIsFencedInAChild(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()
	var c1, c2 counts
	r, reg, lost, _ := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1)}, worker.Options{})
	// Worker 2 runs the calls; the writer's first model call is held.
	team2, held := heldWriter(t, dir, &c2)
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: team2})

	<-held.entered
	lost.lost.Store(true)
	endsFenced(t, reg)
	close(held.release)
	events := completed(t, r)
	if n := len(protocoltest.OfType(events, orchestrator.EventRunResumed)); n != 1 {
		t.Errorf("%d run.resumed: %s", n, protocoltest.Trace(events))
	}
	ran := toolRuns(events)
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d, journal %d: want 1", got, ran)
	}
	// The held call, asked by both attempts, was made once.
	if got, want := c1.calls.Load()+c2.calls.Load(), len(protocoltest.OfType(events, orchestrator.EventModelCalled)); got != int64(want) {
		t.Errorf("answered model calls %d, journal %d", got, want)
	}
}

// slowChildStart is a worker interceptor that holds the first start of a
// delegation's workflow by the run's workflow until the run's workflow is
// signalled releaseSignal (held is closed when it holds): the child is
// listed by its parent but not started yet, as when the server is slow to
// start it. It also tells, on settled, how the run's workflow first handled
// an attempt's take-over (the update by which it speaks first): true when
// the handler waits, false when it returned at once.
type slowChildStart struct {
	interceptor.WorkerInterceptorBase
	once    sync.Once
	held    chan struct{}
	settle  sync.Once
	settled chan bool
}

const releaseSignal = "test.release"

func (s *slowChildStart) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	if workflow.GetInfo(ctx).WorkflowType.Name != entrusttemporal.WorkflowName {
		return next
	}
	return &slowChildInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, s: s}
}

type slowChildInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	s *slowChildStart
}

// ExecuteUpdate tells whether the take-over's handler waits: a coroutine
// started before the handler runs only runs once the handler has returned
// or blocked (the workflow's coroutines take turns, deterministically).
func (i *slowChildInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	if in.Name != entrusttemporal.AttemptUpdate {
		return i.Next.ExecuteUpdate(ctx, in)
	}
	returned := false
	workflow.Go(ctx, func(workflow.Context) {
		waits := !returned
		i.s.settle.Do(func() { i.s.settled <- waits })
	})
	out, err := i.Next.ExecuteUpdate(ctx, in)
	returned = true
	return out, err
}

func (i *slowChildInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&slowChildOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, s: i.s})
}

type slowChildOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	s    *slowChildStart
	held bool
}

// heldChild is the future of a child whose start is held.
type heldChild struct {
	workflow.Future
	started workflow.Future
}

func (c heldChild) GetChildWorkflowExecution() workflow.Future { return c.started }

func (c heldChild) SignalChildWorkflow(ctx workflow.Context, name string, data any) workflow.Future {
	panic("not used")
}

func (o *slowChildOutbound) ExecuteChildWorkflow(ctx workflow.Context, typ string, args ...any) workflow.ChildWorkflowFuture {
	if o.held {
		return o.Next.ExecuteChildWorkflow(ctx, typ, args...)
	}
	o.held = true
	result, setResult := workflow.NewFuture(ctx)
	started, setStarted := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		o.s.once.Do(func() { close(o.s.held) })
		workflow.GetSignalChannel(ctx, releaseSignal).Receive(ctx, nil)
		f := o.Next.ExecuteChildWorkflow(ctx, typ, args...)
		setStarted.Chain(f.GetChildWorkflowExecution())
		setResult.Chain(f)
	})
	return heldChild{Future: result, started: started}
}

// notFoundOnDelegations is a connection that closes notFound the first time
// an update sent on it to a delegation's workflow finds no such workflow.
type notFoundOnDelegations struct {
	once     sync.Once
	notFound chan struct{}
}

func (n *notFoundOnDelegations) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if u, ok := req.(*workflowservice.UpdateWorkflowExecutionRequest); ok && err != nil &&
		strings.Contains(u.GetWorkflowExecution().GetWorkflowId(), "/") {
		n.once.Do(func() { close(n.notFound) })
	}
	return err
}

// TestStaleAttemptIsFencedAtAChildStart makes attempt 1 lose its heartbeats
// while the workflow of the writer's delegation, which it asked the run's
// workflow to start, is listed but not started yet. Attempt 2, taking over,
// speaks to that workflow only once it has started; attempt 1, refused when
// the start is known, never learns of it: it sends the writer's workflow
// nothing, and ends fenced.
func TestStaleAttemptIsFencedAtAChildStart(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()
	slow := &slowChildStart{held: make(chan struct{}), settled: make(chan bool, 1)}
	var c1, c2 counts
	r, reg, lost, _ := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1)},
		worker.Options{Interceptors: []interceptor.WorkerInterceptor{slow}})
	nf := &notFoundOnDelegations{notFound: make(chan struct{})}
	conn2 := ts.NewClientWithOptions(client.Options{ConnectionOptions: client.ConnectionOptions{
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(nf.intercept)}}})
	w2 := worker.New(conn2, q, worker.Options{Interceptors: []interceptor.WorkerInterceptor{slow}})
	reg2 := &orchestrations{Registry: w2, started: make(chan int32, 16), ended: make(chan error, 16)}
	(&entrusttemporal.Worker{Team: leadWriter(t, dir, &c2)}).Register(reg2)
	if err := w2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w2.Stop)

	select {
	case <-slow.held:
	case <-time.After(time.Minute):
		t.Fatal("the writer's workflow was not started")
	}
	lost.lost.Store(true)
	select {
	case <-reg2.started:
	case <-time.After(time.Minute):
		t.Fatal("no second attempt")
	}
	// With the fence at the start, attempt 2's take-over waits in the run's
	// workflow for the writer's workflow to start; without it, attempt 2
	// finds no writer's workflow and passes it by. Either way the start
	// goes on once that is settled.
	select {
	case waits := <-slow.settled:
		if !waits {
			<-nf.notFound
		}
	case <-time.After(time.Minute):
		t.Fatal("attempt 2 did not take the run over")
	}
	if err := ts.GetDefaultClient().SignalWorkflow(t.Context(), r.ID(), "", releaseSignal, nil); err != nil {
		t.Fatal(err)
	}
	endsFenced(t, reg)
	if n := lost.toDelegations.Load(); n != 0 {
		t.Errorf("attempt 1 sent %d updates to the writer's workflow after attempt 2 took over", n)
	}
	events := completed(t, r)
	ran := toolRuns(events)
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d, journal %d: want 1", got, ran)
	}
}

// idleOrchestrator is a worker.Registry whose orchestrator activity does
// nothing until it is cancelled: the test speaks for the orchestrator.
type idleOrchestrator struct{ worker.Registry }

func (o idleOrchestrator) RegisterActivityWithOptions(a any, opts activity.RegisterOptions) {
	if opts.Name == entrusttemporal.OrchestrateActivity {
		a = func(ctx context.Context, in entrusttemporal.RunInput) (*entrusttemporal.RunResult, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
	}
	o.Registry.RegisterActivityWithOptions(a, opts)
}

// idleRun starts a run on a worker of w whose orchestrator does nothing
// (the test speaks for it): it returns the client, the run's workflow id and
// run id.
func idleRun(t *testing.T, w *entrusttemporal.Worker) (client.Client, string, string) {
	t.Helper()
	ts, q := newServer(t)
	c := ts.GetDefaultClient()
	wk := worker.New(c, q, worker.Options{})
	w.Register(idleOrchestrator{wk})
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Stop)
	id, run := startRun(t, c, q)
	return c, id, run
}

// startRun starts a run of guideGoal on queue, ended when t ends: it
// returns the run's workflow id and run id.
func startRun(t *testing.T, c client.Client, queue string) (id, run string) {
	t.Helper()
	r, err := entrusttemporal.Start(t.Context(), c, guideGoal(), entrusttemporal.StartOptions{TaskQueue: queue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), r.ID(), "", "test over") })
	return r.ID(), r.RunID()
}

// speak has attempt of the orchestrator speak to workflow id, fencing the
// older ones.
func speak(t *testing.T, c client.Client, id string, attempt int32) {
	t.Helper()
	h, err := c.UpdateWorkflow(t.Context(), client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: entrusttemporal.AttemptUpdate,
		Args: []any{attempt}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(t.Context(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaleAttemptAsksNothing has attempt 1 of a run's orchestrator come to
// a decision after attempt 2 has spoken to the run's workflow: it is
// refused before it asks (no check run, no question put to a Principal),
// while attempt 2 asks and its decision is recorded.
func TestStaleAttemptAsksNothing(t *testing.T) {
	c, id, run := idleRun(t, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{})})
	speak(t, c, id, 2)
	var asked atomic.Int32
	ask := func(context.Context) (orchestrator.Decision, error) {
		asked.Add(1)
		return orchestrator.Decision{Alignment: &agents.Alignment{Aligned: true, By: agents.ByPolicy}}, nil
	}
	if _, err := entrusttemporal.DecideAs(t.Context(), c, id, run, 1, "d1", ask); !errors.Is(err, entrusttemporal.ErrFenced) {
		t.Errorf("attempt 1's decision: %v, want ErrFenced", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("attempt 1 asked %d times after attempt 2 spoke", n)
	}
	dec, err := entrusttemporal.DecideAs(t.Context(), c, id, run, 2, "d1", ask)
	if err != nil || dec.Alignment == nil || asked.Load() != 1 {
		t.Errorf("attempt 2's decision: %+v, %v, asked %d times", dec, err, asked.Load())
	}
}

// TestFenceAfterTheCheckPutsNoQuestion has attempt 2 speak to the run's
// workflow after attempt 1's decision passed its first check and before
// attempt 1 puts its question to the worker's Principal (a person, say):
// the question is put through the workflow, which refuses it, so no one is
// asked for attempt 1; attempt 2's question is put, once.
func TestFenceAfterTheCheckPutsNoQuestion(t *testing.T) {
	var asked atomic.Int32
	person := orchestrator.PrincipalFuncs{Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
		asked.Add(1)
		return agents.Alignment{Aligned: true, By: agents.ByUser}, nil
	}}
	c, id, run := idleRun(t, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{}),
		Options: &orchestrator.Options{Principal: person}})
	judge := func(between func()) func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
		return func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
			between()
			al, err := p.JudgeAcceptance(ctx, &agents.Goal{Objective: "o"}, "lead", &agents.Acceptance{})
			return orchestrator.Decision{Alignment: &al}, err
		}
	}
	_, err := entrusttemporal.AskAs(t.Context(), c, id, run, 1, "d1", person, judge(func() { speak(t, c, id, 2) }))
	if !errors.Is(err, entrusttemporal.ErrFenced) {
		t.Errorf("attempt 1's judgement: %v, want ErrFenced", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("attempt 1, fenced, put %d questions to the Principal", n)
	}
	dec, err := entrusttemporal.AskAs(t.Context(), c, id, run, 2, "d1", person, judge(func() {}))
	if err != nil || dec.Alignment == nil || dec.Alignment.By != agents.ByUser || asked.Load() != 1 {
		t.Errorf("attempt 2's judgement: %+v, %v, asked %d times", dec, err, asked.Load())
	}
}

// notingVerifier is a Principal that verifies reports, keeping the notes it
// was given.
type notingVerifier struct {
	orchestrator.AutoPrincipal
	notes chan []string
}

func (v notingVerifier) VerifyReport(ctx context.Context, g *agents.Goal, agent string, r *agents.Report) (agents.Verification, error) {
	v.notes <- orchestrator.VerifyNotes(ctx)
	return agents.Verification{Verdict: agents.VerdictAccept}, nil
}

// TestWorkersVerifierIsGivenTheNotes: a report put to the worker's
// Principal (by an activity) comes with what the runtime noted about the
// work behind it, as in process.
func TestWorkersVerifierIsGivenTheNotes(t *testing.T) {
	v := notingVerifier{notes: make(chan []string, 1)}
	c, id, run := idleRun(t, &entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{}),
		Options: &orchestrator.Options{Principal: v}})
	want := []string{"used write_file, which the plan never named"}
	_, err := entrusttemporal.AskAs(t.Context(), c, id, run, 1, "d1", v, func(ctx context.Context, p orchestrator.Principal) (orchestrator.Decision, error) {
		pv, ok := p.(orchestrator.ReportVerifier)
		if !ok {
			t.Fatal("the run's Principal does not verify, though the worker's does")
		}
		ver, err := pv.VerifyReport(orchestrator.WithVerifyNotes(ctx, want), &agents.Goal{Objective: "o"}, "lead", &agents.Report{Result: "done"})
		return orchestrator.Decision{Verification: &ver}, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-v.notes; !slices.Equal(got, want) {
		t.Errorf("the worker's verifier was given %q, want %q", got, want)
	}
}
