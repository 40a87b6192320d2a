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
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc"
)

// lostHeartbeats is a worker's connection on which, once lost is set, the
// heartbeats never reach the server while the worker believes they did:
// the worker is cut off (or paused) rather than dead, and comes back.
type lostHeartbeats struct{ lost atomic.Bool }

func (l *lostHeartbeats) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if l.lost.Load() && strings.HasSuffix(method, "/RecordActivityTaskHeartbeat") {
		return nil
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

// TestStaleAttemptIsFenced makes two attempts of a run's orchestrator
// overlap: worker 1's attempt stops heartbeating (as seen from the server)
// while it waits on its Principal, so Temporal starts attempt 2 on worker 2;
// then worker 1's attempt comes back and goes on. The workflow refuses it:
// it stops (fenced), no tool runs for it and none of its events reaches the
// journal after attempt 2 took over.
func TestStaleAttemptIsFenced(t *testing.T) {
	ts := newServer(t)
	dir := t.TempDir()

	// Worker 1 runs one activity at a time: while it runs attempt 1 it
	// takes no other, so attempt 2 goes to worker 2.
	var lost lostHeartbeats
	conn1 := ts.NewClientWithOptions(client.Options{ConnectionOptions: client.ConnectionOptions{
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(lost.intercept)}}})
	var c1, c2 counts
	stale := newHeldPrincipal(agents.ByUser)
	w1 := worker.New(conn1, "q", worker.Options{MaxConcurrentActivityExecutionSize: 1})
	reg := &orchestrations{Registry: w1, started: make(chan int32, 4), ended: make(chan error, 4)}
	(&entrusttemporal.Worker{Team: leadWriter(t, dir, &c1), Options: &orchestrator.Options{Principal: stale}}).Register(reg)
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { go w1.Stop() }()

	r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: "q",
		Heartbeat: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a := <-reg.started; a != 1 {
		t.Fatalf("worker 1 started attempt %d", a)
	}
	fresh := newHeldPrincipal(agents.ByPolicy)
	startWorker(t, ts, "q", &entrusttemporal.Worker{Team: leadWriter(t, dir, &c2), Options: &orchestrator.Options{Principal: fresh}})

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
	select {
	case err := <-reg.ended:
		if !errors.Is(err, entrusttemporal.ErrFenced) {
			t.Errorf("attempt 1 ended with %v, want ErrFenced", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("attempt 1 went on")
	}
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
	out, err := r.Wait(t.Context())
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	if events, err = r.Events(t.Context(), 0); err != nil {
		t.Fatal(err)
	}
	protocoltest.CheckJournal(t, events)
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
	var ran int64
	for _, e := range events {
		if e.Type == orchestrator.EventToolResult && !agents.IsProtocolTool(e.Tool) {
			ran++
		}
	}
	// Worker 1, free again, may run attempt 2's calls.
	if got := c1.runs.Load() + c2.runs.Load(); got != ran || ran != 1 {
		t.Errorf("tool runs %d (worker 1 %d, worker 2 %d), journal %d: want 1", got, c1.runs.Load(), c2.runs.Load(), ran)
	}
}
