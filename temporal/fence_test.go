package temporal_test

import (
	"context"
	"errors"
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
// only once release is closed (entered is closed when it is asked).
type heldPrincipal struct {
	orchestrator.AutoPrincipal
	by      agents.By
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (p *heldPrincipal) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
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
// on worker 1, w on a connection whose heartbeats can be lost. Worker 1
// runs one activity at a time: while it runs attempt 1 it takes no other,
// so a second attempt goes to another worker.
func startOnWorker1(t *testing.T, ts *temporaltest.TestServer, q string, w *entrusttemporal.Worker, opts worker.Options) (*entrusttemporal.Run, *orchestrations, *lostHeartbeats) {
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
	return r, reg, lost
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
// while it waits on its Principal, so Temporal starts attempt 2 on worker 2;
// then worker 1's attempt comes back and goes on. The workflow refuses it:
// it stops (fenced), no tool runs for it and none of its events reaches the
// journal after attempt 2 took over.
func TestStaleAttemptIsFenced(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()

	var c1, c2 counts
	stale := newHeldPrincipal(agents.ByUser)
	r, reg, lost := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1),
		Options: &orchestrator.Options{Principal: stale}}, worker.Options{})
	fresh := newHeldPrincipal(agents.ByPolicy)
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c2), Options: &orchestrator.Options{Principal: fresh}})

	// Attempt 1 is asked to judge the lead's acceptance; from now on the
	// server hears nothing of it.
	<-stale.entered
	lost.lost.Store(true)
	// Attempt 2 takes over and is asked in turn.
	select {
	case <-fresh.entered:
	case <-time.After(time.Minute):
		t.Fatal("no second attempt")
	}
	if n := c1.runs.Load() + c2.runs.Load(); n != 0 {
		t.Fatalf("%d tool runs before the lead's acceptance was judged", n)
	}
	// Attempt 1 comes back, judges, and would go on with the run.
	close(stale.release)
	endsFenced(t, reg)
	if n := c1.runs.Load() + c2.runs.Load(); n != 0 {
		t.Errorf("%d tool runs for attempt 1 after attempt 2 took over", n)
	}
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Alignment != nil && e.Alignment.By == stale.by {
			t.Errorf("attempt 1's judgement is in the journal: %s", protocoltest.Trace(events))
		}
	}

	// Attempt 2 goes on and completes the run.
	close(fresh.release)
	events = completed(t, r)
	if n := len(protocoltest.OfType(events, orchestrator.EventRunResumed)); n != 1 {
		t.Errorf("%d run.resumed: %s", n, protocoltest.Trace(events))
	}
	judged := protocoltest.OfType(events, orchestrator.EventAlignmentJudged)
	if len(judged) == 0 || judged[0].Alignment == nil || judged[0].Alignment.By != fresh.by {
		t.Errorf("the lead's acceptance was not judged by attempt 2: %s", protocoltest.Trace(judged))
	}
	for _, e := range events {
		if e.Alignment != nil && e.Alignment.By == stale.by {
			t.Errorf("attempt 1's judgement is in the journal: %s", protocoltest.Trace(events))
		}
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

// TestStaleAttemptIsFencedInAChild makes attempt 1 lose its heartbeats
// while it waits on the writer's model call, an effect of the writer's
// delegation's workflow (a child of the run's): attempt 2, taking over,
// fences that workflow too, so attempt 1's waiting effect is refused and it
// stops; attempt 2 gets the call's answer and completes the run.
func TestStaleAttemptIsFencedInAChild(t *testing.T) {
	ts, q := newServer(t)
	dir := t.TempDir()
	var c1, c2 counts
	r, reg, lost := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1)}, worker.Options{})
	// Worker 2 runs the calls; the writer's first model call is held.
	team2 := leadWriter(t, dir, &c2)
	held := &heldModel{Model: team2.Members[1].Agent.Model, entered: make(chan struct{}), release: make(chan struct{})}
	writer := *team2.Members[1].Agent
	writer.Model = held
	team2.Members[1].Agent = &writer
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
// start it.
type slowChildStart struct {
	interceptor.WorkerInterceptorBase
	once sync.Once
	held chan struct{}
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
	slow := &slowChildStart{held: make(chan struct{})}
	var c1, c2 counts
	r, reg, lost := startOnWorker1(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, dir, &c1)},
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
	// Without the fence at the start, attempt 2 finds no writer's workflow
	// and passes it by; with it, attempt 2 waits for the start. Either
	// way the start goes on now.
	select {
	case <-nf.notFound:
	case <-time.After(3 * time.Second):
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

// TestStaleAttemptAsksNothing has attempt 1 of a run's orchestrator come to
// a decision after attempt 2 has spoken to the run's workflow: it is
// refused before it asks (no check run, no question put to a Principal),
// while attempt 2 asks and its decision is recorded.
func TestStaleAttemptAsksNothing(t *testing.T) {
	ts, q := newServer(t)
	c := ts.GetDefaultClient()
	w := worker.New(c, q, worker.Options{})
	(&entrusttemporal.Worker{Team: leadWriter(t, t.TempDir(), &counts{})}).Register(idleOrchestrator{w})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	r, err := entrusttemporal.Start(t.Context(), c, guideGoal(), entrusttemporal.StartOptions{TaskQueue: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), r.ID(), "", "test over") })
	desc, err := c.DescribeWorkflowExecution(t.Context(), r.ID(), "")
	if err != nil {
		t.Fatal(err)
	}
	run := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	h, err := c.UpdateWorkflow(t.Context(), client.UpdateWorkflowOptions{WorkflowID: r.ID(), UpdateName: entrusttemporal.AttemptUpdate,
		Args: []any{int32(2)}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(t.Context(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	ask := func(context.Context) (orchestrator.Decision, error) {
		asked.Add(1)
		return orchestrator.Decision{Alignment: &agents.Alignment{Aligned: true, By: agents.ByPolicy}}, nil
	}
	if _, err := entrusttemporal.DecideAs(t.Context(), c, r.ID(), run, 1, "d1", ask); !errors.Is(err, entrusttemporal.ErrFenced) {
		t.Errorf("attempt 1's decision: %v, want ErrFenced", err)
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("attempt 1 asked %d times after attempt 2 spoke", n)
	}
	dec, err := entrusttemporal.DecideAs(t.Context(), c, r.ID(), run, 2, "d1", ask)
	if err != nil || dec.Alignment == nil || asked.Load() != 1 {
		t.Errorf("attempt 2's decision: %+v, %v, asked %d times", dec, err, asked.Load())
	}
}
