package temporal

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Worker holds what a worker process runs runs with: the team, whose models
// and tools are this process's own (built from its environment, so no key
// ever travels), and the runtime's options. Every worker of a task queue
// must be given the same team.
type Worker struct {
	// Team is the team every run of the task queue runs.
	Team orchestrator.Team
	// Options are the runtime's options for each run; RunID, Sinks,
	// Effects and Config are set per run, and Principal too when the run
	// asks its client (RunInput.AskClient). A Principal other than an
	// AutoPrincipal (a person, say) is asked by an activity the run's
	// workflow schedules (Ask), on a worker of the task queue whose
	// Principal is the asking worker's (PrincipalName): a worker with
	// another, or none, refuses the question, which is put to another
	// worker. An AutoPrincipal is run in process, as configured. Nil: the
	// zero Options.
	Options *orchestrator.Options
	// PrincipalName names the Principal of Options: a question to it is
	// answered only by a worker whose Principal has the same name, so give
	// it to the workers that share one Principal (a person's desk, a
	// judging policy) and another to any worker with another. Empty: the
	// Principal's Go type (fmt's %T), which does not tell two Principals
	// of one type (two PrincipalFuncs) apart.
	PrincipalName string
}

// Register registers the run's and the delegations' workflows and the
// activities of w on r (a worker.Worker, or temporaltest's registry).
func (w *Worker) Register(r worker.Registry) {
	r.RegisterWorkflowWithOptions(RunWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterWorkflowWithOptions(DelegationWorkflow, workflow.RegisterOptions{Name: DelegationWorkflowName})
	r.RegisterActivityWithOptions(w.Orchestrate, activity.RegisterOptions{Name: OrchestrateActivity})
	r.RegisterActivityWithOptions(w.Generate, activity.RegisterOptions{Name: GenerateActivity})
	r.RegisterActivityWithOptions(w.CallTool, activity.RegisterOptions{Name: CallToolActivity})
	r.RegisterActivityWithOptions(w.Ask, activity.RegisterOptions{Name: AskActivity})
}

// Orchestrate is the orchestrator activity: it runs the run of its workflow
// with the runtime, or resumes it from the workflow's journal when an earlier
// attempt was lost, sending each effect and event to the workflow.
func (w *Worker) Orchestrate(ctx context.Context, in RunInput) (*RunResult, error) {
	info := activity.GetInfo(ctx)
	c := activity.GetClient(ctx)
	wf := info.WorkflowExecution
	// Heartbeats tell the server this worker is alive (from the start: a
	// take-over speaks to every workflow of the tree) and bring the
	// workflow's cancellation to the activity's context.
	defer heartbeat(ctx)()
	// The run is cancelled when the workflow is, not when this worker
	// stops (an upgrade, an interrupt): then the attempt leaves the run as
	// a lost worker would, sending nothing more, and another worker takes
	// it over at once (the activity's retry).
	actx := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(actx))
	defer cancel()
	fx := &effects{w: w, c: c, root: wf.ID, rootRun: wf.RunID, attempt: info.Attempt, live: orchestrator.NewLiveEffects(nil),
		cancel: cancel, sendCtx: context.WithoutCancel(ctx), tree: newTree(wf.ID)}
	var left atomic.Bool
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-actx.Done():
		case <-activity.GetWorkerStopChannel(actx):
		case <-done:
			return
		}
		if stopping(actx) {
			left.Store(true)
			fx.fenced.Store(true) // nothing more is sent
		}
		cancel()
	}()
	var open map[string]bool
	if info.Attempt > 1 {
		// A retry speaks first, so that the workflows refuse the earlier
		// attempts from now on (their worker may be cut off rather than
		// dead): the journal read next is then the whole of what they did.
		var err error
		if open, err = fx.takeOver(ctx); err != nil {
			return nil, fmt.Errorf("entrust: taking the run over: %w", err)
		}
	}
	journal, err := newJournalReader(c, wf.ID, wf.RunID).read(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("entrust: reading the run's journal: %w", err)
	}
	fx.tree.learn(journal)
	if err := fx.endEnded(ctx, open); err != nil {
		return nil, fmt.Errorf("entrust: taking the run over: %w", err)
	}

	var opts orchestrator.Options
	if w.Options != nil {
		opts = *w.Options
	}
	opts.RunID = in.RunID
	opts.Config = in.Config
	// The events go to the workflow in batches, before each effect and at
	// the end (see effects.flush).
	opts.Sinks = []orchestrator.Sink{orchestrator.SinkFunc(fx.emit)}
	defer fx.flush()
	opts.Effects = func(string) orchestrator.Effects { return fx }
	opts.Principal = principal(fx, opts.Principal, principalName(w.PrincipalName, opts.Principal), in)
	rt, err := orchestrator.New(w.Team, &opts)
	if err != nil {
		return nil, err
	}
	var out *orchestrator.Outcome
	if len(journal) == 0 {
		out, err = rt.Run(ctx, in.Goal)
	} else {
		out, err = rt.Resume(ctx, journal, &orchestrator.ResumeOptions{InFlightToEffects: true})
		if errors.Is(err, orchestrator.ErrNotResumable) {
			// Finished before the attempt was lost: the journal has it all.
			if o, rerr := orchestrator.Rebuild(journal); rerr == nil && o != nil {
				return &RunResult{Outcome: o}, nil
			}
		}
	}
	if left.Load() {
		return nil, ErrWorkerStopped
	}
	if fx.fenced.Load() {
		// A newer attempt has the run: this one's outcome is not the run's.
		return nil, ErrFenced
	}
	res := &RunResult{Outcome: out}
	if err != nil {
		res.Error = err.Error()
	}
	if out == nil && err != nil {
		return nil, err
	}
	return res, nil
}

// principal returns the Principal of a run, given the worker's (local):
//   - with AskClient, the client's, asked through the run's workflow;
//   - with Deny, the policy that refuses;
//   - else the worker's automatic policy as it is configured (Deny kept),
//     in process: it asks no one, so there is nothing to fence;
//   - else the worker's, when it may be a person (anything but nil or an
//     AutoPrincipal): asked through the workflow too, which puts the
//     question to the worker's Principal by an activity (Worker.Ask), so
//     an attempt the workflow has fenced puts no question to anyone, and
//     the question carries name, so that only a worker with the same
//     Principal answers it;
//   - else (none) the automatic policy, in process.
func principal(fx *effects, local orchestrator.Principal, name string, in RunInput) orchestrator.Principal {
	switch {
	case in.AskClient && in.ClientVerifies:
		return &workflowVerifier{workflowPrincipal{fx: fx}}
	case in.AskClient:
		return &workflowPrincipal{fx: fx}
	case in.Deny:
		return orchestrator.AutoPrincipal{Deny: true}
	case local == nil:
		return orchestrator.AutoPrincipal{}
	case automatic(local):
		return local
	}
	_, accepts := local.(orchestrator.BreachAcceptor)
	p := workflowPrincipal{fx: fx, worker: true, name: name, noBreaches: !accepts}
	if _, ok := local.(orchestrator.ReportVerifier); ok {
		return &workflowVerifier{p}
	}
	return &p
}

// automatic reports whether p is the runtime's automatic policy, which is
// run in process rather than asked.
func automatic(p orchestrator.Principal) bool {
	switch p.(type) {
	case orchestrator.AutoPrincipal, *orchestrator.AutoPrincipal:
		return true
	}
	return false
}

// principalName is the name of Principal p, named (Worker.PrincipalName)
// or not.
func principalName(named string, p orchestrator.Principal) string {
	if named != "" {
		return named
	}
	return fmt.Sprintf("%T", p)
}

// ErrWorkerStopped is matched by the error of an orchestrator activity's
// attempt whose worker stopped (worker.Worker's Stop: an upgrade, an
// interrupt): the attempt left the run, sending nothing more, and the
// activity's retry takes it over on another worker. A model call, a
// question or an idempotent tool call under way there fails with it too,
// and is made again elsewhere (a call to any other tool is reported lost,
// its effect unknown).
var ErrWorkerStopped = errors.New("entrust: the worker is stopping: the run goes on on another")

// stopping reports whether the worker running the activity of ctx is
// stopping.
func stopping(ctx context.Context) bool {
	select {
	case <-activity.GetWorkerStopChannel(ctx):
		return true
	default:
		return false
	}
}

// heartbeat records the activity of ctx's heartbeat until the function it
// returns is called: the server hears that this worker is alive, and a
// cancellation of the activity reaches ctx.
func heartbeat(ctx context.Context) (stop func()) {
	hctx, stop := context.WithCancel(ctx)
	every := max(activity.GetInfo(ctx).HeartbeatTimeout/4, 10*time.Millisecond)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			activity.RecordHeartbeat(hctx)
			select {
			case <-hctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return stop
}

type askInput struct {
	Question Question `json:"question"`
}

// Ask is the question activity: this worker's Principal (Options.Principal)
// answers a question a run's workflow puts to it. Its error is a result,
// not a failure (the runtime fails closed on it, as in process); only a
// lost worker has the question put again, to another. A worker without a
// Principal to ask (none, or an AutoPrincipal, which is never asked by
// activity), or whose Principal is not the one the question is for
// (Question.Principal, Worker.PrincipalName), answers nothing: the
// activity fails, and its retry puts the question to another worker of the
// queue, so the question waits until a worker with that Principal takes
// it (the activity's last failure says why).
func (w *Worker) Ask(ctx context.Context, in askInput) (*effectResult, error) {
	defer heartbeat(ctx)()
	var p orchestrator.Principal
	if w.Options != nil {
		p = w.Options.Principal
	}
	q := &in.Question
	if p == nil || automatic(p) {
		return nil, fmt.Errorf("entrust: question %q is for Principal %q, and this worker has none to put it to: it is put to another worker of the queue", q.ID, q.Principal)
	}
	if name := principalName(w.PrincipalName, p); q.Principal != "" && q.Principal != name {
		return nil, fmt.Errorf("entrust: question %q is for Principal %q, and this worker's is %q: it is put to another worker of the queue", q.ID, q.Principal, name)
	}
	a, err := answer(ctx, p, q)
	if err != nil && stopping(ctx) {
		return nil, fmt.Errorf("%w: %v", ErrWorkerStopped, err) // put again to another worker's Principal
	}
	r := &effectResult{Answer: a}
	if err != nil {
		r.Answer, r.Error = nil, err.Error()
	}
	return r, nil
}

type generateInput struct {
	Agent      string         `json:"agent"`
	Request    *model.Request `json:"request"`
	RequestRaw [][2]int       `json:"request_raw,omitempty"`
}

type toolInput struct {
	Agent   string          `json:"agent"`
	Tool    string          `json:"tool"`
	Call    *model.ToolCall `json:"call"`
	CallRaw bool            `json:"call_raw,omitempty"`
}

// Generate is the model call activity: the named agent's model answers the
// request. A model's error is a result, not a failure: the runtime retries
// and fails closed as it does in process.
func (w *Worker) Generate(ctx context.Context, in generateInput) (*effectResult, error) {
	m := w.member(in.Agent)
	if m == nil || m.Agent.Model == nil {
		return nil, fmt.Errorf("entrust: no agent %q with a model on this worker", in.Agent)
	}
	unpackRequest(in.Request, in.RequestRaw)
	start := time.Now()
	resp, err := m.Agent.Model.Generate(ctx, in.Request)
	if err != nil && stopping(ctx) {
		return nil, fmt.Errorf("%w: %v", ErrWorkerStopped, err) // made again on another worker
	}
	r := &effectResult{Latency: time.Since(start)}
	r.Response, r.ResponseRaw = packResponse(resp)
	if err != nil {
		r.Error = err.Error()
	}
	return r, nil
}

// CallTool is the tool call activity: the named agent's tool runs the call.
func (w *Worker) CallTool(ctx context.Context, in toolInput) (*effectResult, error) {
	t := w.tool(in.Agent, in.Tool)
	if t == nil {
		return nil, fmt.Errorf("entrust: no tool %q of agent %q on this worker", in.Tool, in.Agent)
	}
	if in.CallRaw {
		calls := []model.ToolCall{*in.Call}
		unpackCalls(calls, []int{0})
		in.Call = &calls[0]
	}
	start := time.Now()
	res := agents.CallWithin(ctx, t, in.Call.Arguments)
	if res.IsError && stopping(ctx) {
		// Cut short by the stop: an idempotent tool runs again on another
		// worker; of any other, the model is told the call was lost and
		// its effect unknown.
		return nil, fmt.Errorf("%w: %s", ErrWorkerStopped, res.Content)
	}
	return &effectResult{Result: &res, Latency: time.Since(start)}, nil
}

func (w *Worker) member(name string) *orchestrator.Member {
	for i := range w.Team.Members {
		if m := &w.Team.Members[i]; m.Agent != nil && m.Agent.Name == name {
			return m
		}
	}
	return nil
}

func (w *Worker) tool(agent, name string) agents.Tool {
	if m := w.member(agent); m != nil {
		for _, t := range m.Agent.Tools {
			if t.Def().Name == name {
				return t
			}
		}
	}
	return nil
}

// modelOwner names the member whose model m is; tool names the member and
// tool t is. Models and tools are told apart by identity: the runtime hands
// the effects the team's own values.
func (w *Worker) modelOwner(m model.Model) string {
	for _, mm := range w.Team.Members {
		if mm.Agent != nil && sameValue(mm.Agent.Model, m) {
			return mm.Agent.Name
		}
	}
	return ""
}

func (w *Worker) toolOwner(t agents.Tool) (agent, name string) {
	for _, mm := range w.Team.Members {
		if mm.Agent == nil {
			continue
		}
		for _, tt := range mm.Agent.Tools {
			if sameValue(tt, t) {
				return mm.Agent.Name, tt.Def().Name
			}
		}
	}
	return "", ""
}

// sameValue compares two interface values, false for values that cannot be
// compared.
func sameValue(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
