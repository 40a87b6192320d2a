// Package temporal runs entrust's delegation runs on Temporal
// (go.temporal.io), so that a run survives the loss of the process that
// runs it and the work of many runs spreads over many worker processes.
//
// A run is a tree of workflows, shaped as its tree of delegations: the run's
// workflow holds the lead's delegation, and each delegation below is a child
// workflow of its delegator's, started when the delegation starts and
// completed when it ends (so a run's history spreads over its delegations,
// the tree shows in Temporal's UI, and a cancellation reaches every
// delegation). The orchestration — acceptance, judgement, gating,
// escalation, verification, budgets — is the same orchestrator.Runtime code
// that runs in process, run by an activity of the run's workflow (the
// orchestrator activity) whose orchestrator.Effects send every effect to the
// workflow of its delegation: each model call and each action tool call is
// an activity of its own, scheduled by that workflow and recorded in its
// history; every decision (a Principal's, a Supervisor's, a goal's checks)
// is recorded there too; a Principal's question waits there for an answer
// sent through the client (an update). Each workflow keeps its delegation's
// events; the run's journal is all of them in order (Run.Events). Should the
// worker running the orchestrator activity die, Temporal starts it again on
// another worker, which resumes the run from the journal
// (orchestrator.Runtime's Resume): every recorded effect comes back from its
// workflow, no completed model call is made again and no tool call runs
// twice.
//
// Secrets are never workflow inputs nor in its history: workers build their
// models from their own environment (Worker's Team), and only goals, events
// and effect results travel through the server.
package temporal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The names under which the workflows, their activities, updates and
// queries are registered.
//
// EventsQuery and QuestionsQuery answer for one workflow of a run's tree,
// not for the run: EventsQuery (an offset) returns that workflow's events
// from the offset (the run's own and its lead's delegation's for the run's
// workflow, a delegation's for its workflow, whose id is
// DelegationWorkflowID), and QuestionsQuery the questions waiting there. A
// query cannot read another workflow, and keeping every event in the run's
// workflow as well would put the whole run back into one history and its
// size limit. The run's journal and questions are Run.Events, Run.Follow
// and Run.Questions, which query each open workflow of the tree and merge
// the events by seq.
const (
	WorkflowName           = "entrust.Run"
	DelegationWorkflowName = "entrust.Delegation"
	OrchestrateActivity    = "entrust.Orchestrate"
	GenerateActivity       = "entrust.Generate"
	CallToolActivity       = "entrust.CallTool"
	AskActivity            = "entrust.Ask"
	effectUpdate           = "entrust.effect"
	askUpdate              = "entrust.ask"
	attemptUpdate          = "entrust.attempt"
	eventsUpdate           = "entrust.events"
	childUpdate            = "entrust.child"
	endUpdate              = "entrust.end"
	AnswerUpdate           = "entrust.answer"
	EventsQuery            = "entrust.events"
	QuestionsQuery         = "entrust.questions"
	snapshotQuery          = "entrust.snapshot"
	defaultHeartbeat       = 10 * time.Second
	defaultEffectTimeout   = 10 * time.Minute
	defaultOrchestrateTime = 24 * time.Hour
)

// RunInput is the input of the workflow: the goal and how to run it, never
// a secret.
type RunInput struct {
	// RunID names the run (its events' run); default the workflow's id.
	RunID string `json:"run_id,omitempty"`
	// Goal is the user's goal. Programmatic verifiers (Go functions) cannot
	// travel: a goal's Verifiers are not run on Temporal.
	Goal agents.Goal `json:"goal"`
	// Config is recorded on run.started as is (orchestrator.Options.Config).
	Config json.RawMessage `json:"config,omitempty"`
	// AskClient sends the Principal's judgements and answers to whoever
	// holds the client (Run.Questions, Run.Answer) instead of the worker's
	// Principal.
	AskClient bool `json:"ask_client,omitempty"`
	// Deny, without AskClient, has every escalation that reaches the top
	// refused (orchestrator.AutoPrincipal{Deny: true}) instead of answered
	// by the worker's Principal.
	Deny bool `json:"deny,omitempty"`
	// ClientVerifies, with AskClient, has the client verify the lead's
	// report too (orchestrator.ReportVerifier).
	ClientVerifies bool `json:"client_verifies,omitempty"`
	// CallTimeout bounds one model or tool call's activity, after which a
	// model call is tried again (on any worker) and a tool call that is not
	// idempotent is reported lost; default 10 minutes.
	CallTimeout time.Duration `json:"call_timeout,omitempty"`
	// Heartbeat is how soon a lost orchestrator activity is started again
	// on another worker; default 10s.
	Heartbeat time.Duration `json:"heartbeat,omitempty"`
}

// RunResult is the outcome of the workflow.
type RunResult struct {
	Outcome *orchestrator.Outcome `json:"outcome"`
	// Error is the run's error, as orchestrator.Runtime.Run returned it.
	Error string `json:"error,omitempty"`
}

// effectRequest asks the workflow for one effect: a model call, a tool call
// (made by an activity, or its recorded result), or a decision (the recorded
// one, or Decision to record).
type effectRequest struct {
	// Attempt is the orchestrator activity's attempt that asks (fencing).
	Attempt int32           `json:"attempt"`
	Key     string          `json:"key"`
	Kind    string          `json:"kind"` // "generate", "tool", "ask" or "decide"
	Agent   string          `json:"agent,omitempty"`
	Tool    string          `json:"tool,omitempty"`
	Request *model.Request  `json:"request,omitempty"`
	Call    *model.ToolCall `json:"call,omitempty"`
	// RequestRaw and CallRaw say which arguments travel packed (wire.go).
	RequestRaw [][2]int               `json:"request_raw,omitempty"`
	CallRaw    bool                   `json:"call_raw,omitempty"`
	Retry      bool                   `json:"retry,omitempty"` // the tool is idempotent
	Decision   *orchestrator.Decision `json:"decision,omitempty"`
	// Question is the question an "ask" puts to a worker's Principal.
	Question *Question `json:"question,omitempty"`
	// Events are the events before the effect, when they are this
	// workflow's: held before the effect is served.
	Events []*orchestrator.Event `json:"events,omitempty"`
}

// effectResult is what an effect produced.
type effectResult struct {
	Response *model.Response `json:"response,omitempty"`
	// ResponseRaw lists the response's calls whose arguments travel
	// packed (wire.go).
	ResponseRaw []int                  `json:"response_raw,omitempty"`
	Error       string                 `json:"error,omitempty"`
	Result      *agents.Result         `json:"result,omitempty"`
	Decision    *orchestrator.Decision `json:"decision,omitempty"`
	Answer      *Answer                `json:"answer,omitempty"`
	Latency     time.Duration          `json:"latency,omitempty"`
}

// Question is a Principal's question waiting in a run for an answer sent
// through the client: one of Acceptance (judge it), Escalation (answer it)
// or Report (verify it, or with Breaches, accept its breaches or not) is
// set.
type Question struct {
	// ID names the question in Answer.
	ID         string             `json:"id"`
	Goal       *agents.Goal       `json:"goal,omitempty"`
	Agent      string             `json:"agent,omitempty"`
	Acceptance *agents.Acceptance `json:"acceptance,omitempty"`
	Escalation *agents.Escalation `json:"escalation,omitempty"`
	Report     *agents.Report     `json:"report,omitempty"`
	// Breaches are the constraints the lead's Report admits broken: which
	// does the client accept (orchestrator.BreachAcceptor)?
	Breaches []orchestrator.Breach `json:"breaches,omitempty"`
	// Notes are what the runtime noted about the work behind a Report, for
	// its verifier to weigh (orchestrator.VerifyNotes).
	Notes []string `json:"notes,omitempty"`
	// Principal, in a question put to a worker's Principal (Worker.Ask),
	// names the Principal of the worker whose run asks it
	// (Worker.PrincipalName): only a worker with that Principal answers.
	Principal string `json:"principal,omitempty"`
}

// Answer answers a Question: Alignment for an acceptance, Resolution for
// an escalation, Verification for a report, Accepted for breaches (none
// accepted: the goal fails).
type Answer struct {
	ID           string                  `json:"id"`
	Alignment    *agents.Alignment       `json:"alignment,omitempty"`
	Resolution   *agents.Resolution      `json:"resolution,omitempty"`
	Verification *agents.Verification    `json:"verification,omitempty"`
	Accepted     []agents.AcceptedBreach `json:"accepted,omitempty"`
}

// askRequest is a Principal's question asked by an attempt of the
// orchestrator activity.
type askRequest struct {
	Attempt  int32    `json:"attempt"`
	Question Question `json:"question"`
}

// eventBatch is a batch of events emitted by an attempt of the orchestrator
// activity.
type eventBatch struct {
	Attempt int32                 `json:"attempt"`
	Events  []*orchestrator.Event `json:"events"`
}

// ErrUnknownQuestion is matched by the error of Answer for a question the
// run is not waiting on.
var ErrUnknownQuestion = errors.New("no such question waiting")

// ErrFenced is matched by the error of an orchestrator activity's attempt
// that a newer attempt of the same run has taken over (its worker was
// thought lost, its heartbeats having stopped, and was not): the workflow
// refuses its effects and drops its events, and it stops.
var ErrFenced = errors.New("entrust: a newer attempt of the run's orchestrator has taken over")

// fencedType is the type of the application error a fenced attempt's
// update is refused with.
const fencedType = "entrust.fenced"

func fencedError(attempt, current int32) error {
	return sdktemporal.NewNonRetryableApplicationError(
		fmt.Sprintf("attempt %d of the orchestrator is fenced: attempt %d has taken over", attempt, current), fencedType, nil)
}

// DelegationInput is the input of a delegation's workflow.
type DelegationInput struct {
	// Run is the workflow id of the run's workflow (the root of the tree).
	Run string `json:"run"`
	// Delegation is the delegation's id (orchestrator.Event.Delegation).
	Delegation string `json:"delegation"`
	// CallTimeout bounds one model or tool call's activity (see
	// RunInput.CallTimeout).
	CallTimeout time.Duration `json:"call_timeout,omitempty"`
	// Attempt is the orchestrator activity's attempt that started it, and
	// Events the delegation's first events.
	Attempt int32                 `json:"attempt,omitempty"`
	Events  []*orchestrator.Event `json:"events,omitempty"`
}

// DelegationWorkflowID returns the workflow id of delegation's workflow in
// the run whose workflow id is run: the same for every attempt and every
// worker.
func DelegationWorkflowID(run, delegation string) string { return run + "/" + delegation }

// childInfo tells of a delegation's workflow started by another.
type childInfo struct {
	Workflow string `json:"workflow"`
	Done     bool   `json:"done,omitempty"`
}

// snapshot is what a workflow of the tree holds: its events from the
// offset asked, its children, its waiting questions, and whether it has
// ended.
type snapshot struct {
	Events    []*orchestrator.Event `json:"events,omitempty"`
	Children  []childInfo           `json:"children,omitempty"`
	Questions []*Question           `json:"questions,omitempty"`
	Done      bool                  `json:"done,omitempty"`
}

// childRequest has a workflow start the workflow of a delegation it
// delegated.
type childRequest struct {
	Attempt    int32                 `json:"attempt"`
	Delegation string                `json:"delegation"`
	Events     []*orchestrator.Event `json:"events,omitempty"` // its first
}

// RunWorkflow is the workflow of one run, the root of its tree of
// workflows: it runs the orchestrator activity, and holds the run's own
// events and the effects and events of the lead's delegation.
func RunWorkflow(ctx workflow.Context, in RunInput) (*RunResult, error) {
	if in.RunID == "" {
		in.RunID = workflow.GetInfo(ctx).WorkflowExecution.ID
	}
	if in.Heartbeat <= 0 {
		in.Heartbeat = defaultHeartbeat
	}
	if in.CallTimeout <= 0 {
		in.CallTimeout = defaultEffectTimeout
	}
	s := newState(ctx, workflow.GetInfo(ctx).WorkflowExecution.ID, in.CallTimeout)
	s.heartbeat = in.Heartbeat
	if err := s.serve(ctx); err != nil {
		return nil, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: defaultOrchestrateTime,
		HeartbeatTimeout:    in.Heartbeat,
		WaitForCancellation: true,
		RetryPolicy:         &sdktemporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second},
	})
	// The run's last events come after a cancellation: the workflow waits
	// for them.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var res RunResult
	err := workflow.ExecuteActivity(actx, OrchestrateActivity, in).Get(dctx, &res)
	s.ended = true
	// Let the handlers that are still answering finish before the run
	// closes.
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// DelegationWorkflow is the workflow of one delegation below the lead's, a
// child of its delegator's workflow: started when the delegation starts, it
// holds the delegation's effects (its model and tool calls are activities
// it schedules, its decisions and questions are recorded in it) and its
// events, and ends when the delegation ends.
func DelegationWorkflow(ctx workflow.Context, in DelegationInput) error {
	if in.CallTimeout <= 0 {
		in.CallTimeout = defaultEffectTimeout
	}
	s := newState(ctx, in.Run, in.CallTimeout)
	if err := s.append(eventBatch{Attempt: in.Attempt, Events: in.Events}); err != nil {
		return err
	}
	if err := s.serve(ctx); err != nil {
		return err
	}
	// A cancelled delegation still gets its last events: it ends when the
	// orchestrator says so (or with the run's workflow).
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := workflow.Await(dctx, func() bool { return s.ended }); err != nil {
		return err
	}
	return workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
}

type state struct {
	// ctx is the workflow's own context (children are started with it, so
	// that a cancellation reaches them); run is the root's workflow id.
	ctx         workflow.Context
	run         string
	callTimeout time.Duration
	// heartbeat is how soon a question whose worker was lost is put to
	// another worker's Principal.
	heartbeat time.Duration
	// attempt is the newest attempt of the orchestrator activity that has
	// spoken: older ones are fenced.
	attempt   int32
	events    []*orchestrator.Event
	results   map[string]*effectResult
	running   map[string]workflow.Future
	questions map[string]*Question
	answers   map[string]*Answer
	children  []string // delegations, in the order started
	child     map[string]workflow.ChildWorkflowFuture
	ended     bool
}

func newState(ctx workflow.Context, run string, callTimeout time.Duration) *state {
	return &state{ctx: ctx, run: run, callTimeout: callTimeout, heartbeat: defaultHeartbeat, results: map[string]*effectResult{},
		running: map[string]workflow.Future{}, questions: map[string]*Question{}, answers: map[string]*Answer{},
		child: map[string]workflow.ChildWorkflowFuture{}}
}

// serve registers the queries and updates of a workflow of the tree.
//
// Every update of the orchestrator carries its attempt: once a newer
// attempt has spoken, an older one's updates are refused (by the
// validators) and those still waiting here are answered with the refusal
// (fencing).
func (s *state) serve(ctx workflow.Context) error {
	for _, err := range []error{
		workflow.SetQueryHandler(ctx, EventsQuery, func(from int) ([]*orchestrator.Event, error) {
			return s.eventsFrom(from), nil
		}),
		workflow.SetQueryHandler(ctx, QuestionsQuery, func() ([]*Question, error) { return s.waiting(), nil }),
		workflow.SetQueryHandler(ctx, snapshotQuery, func(from int) (*snapshot, error) {
			// A child not started yet is listed once it is: until then
			// there is nothing of it to read.
			return &snapshot{Events: s.eventsFrom(from), Children: s.childInfo(true), Questions: s.waiting(), Done: s.ended}, nil
		}),
		workflow.SetUpdateHandlerWithOptions(ctx, attemptUpdate, func(ctx workflow.Context, attempt int32) ([]childInfo, error) {
			if err := s.speak(attempt); err != nil {
				return nil, err
			}
			// The children an older attempt had started are listed once
			// they have started (the new attempt speaks to each next): one
			// still starting would not be found, and would go on taking
			// the older attempt's updates.
			if err := workflow.Await(ctx, s.childrenStarted); err != nil {
				return nil, err
			}
			return s.childInfo(false), nil
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, attempt int32) error { return s.fenced(attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, eventsUpdate, func(ctx workflow.Context, batch eventBatch) error {
			return s.append(batch)
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, batch eventBatch) error { return s.fenced(batch.Attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, childUpdate, s.startChild, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req childRequest) error { return s.fenced(req.Attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, endUpdate, func(ctx workflow.Context, last eventBatch) error {
			if err := s.append(last); err != nil {
				return err
			}
			s.ended = true
			return nil
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, last eventBatch) error { return s.fenced(last.Attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, effectUpdate, s.effect, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req effectRequest) error { return s.fenced(req.Attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, askUpdate, s.ask, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, req askRequest) error { return s.fenced(req.Attempt) }}),
		workflow.SetUpdateHandlerWithOptions(ctx, AnswerUpdate, func(ctx workflow.Context, a Answer) error {
			s.answers[a.ID] = &a
			return nil
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, a Answer) error {
			q := s.questions[a.ID]
			switch {
			case q == nil || s.answers[a.ID] != nil:
				return fmt.Errorf("%w: %q", ErrUnknownQuestion, a.ID)
			case q.Acceptance != nil && a.Alignment == nil,
				q.Escalation != nil && a.Resolution == nil,
				q.Report != nil && len(q.Breaches) == 0 && a.Verification == nil:
				return fmt.Errorf("answer to %q: it does not answer what was asked", a.ID)
			}
			for _, b := range a.Accepted {
				if !slices.ContainsFunc(q.Breaches, func(x orchestrator.Breach) bool { return x.Index == b.Constraint }) {
					return fmt.Errorf("answer to %q: constraint %d is not a breach it asks about", a.ID, b.Constraint)
				}
			}
			return nil
		}}),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *state) eventsFrom(from int) []*orchestrator.Event {
	if from < 0 || from > len(s.events) {
		from = len(s.events)
	}
	return s.events[from:]
}

// waiting returns the questions waiting for an answer, by id.
func (s *state) waiting() []*Question {
	var qs []*Question
	for id, q := range s.questions {
		if s.answers[id] == nil {
			qs = append(qs, q)
		}
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i].ID < qs[j].ID })
	return qs
}

// childInfo lists the children (with started, only those whose start is
// known).
func (s *state) childInfo(started bool) []childInfo {
	out := make([]childInfo, 0, len(s.children))
	for _, d := range s.children {
		if started && !s.child[d].GetChildWorkflowExecution().IsReady() {
			continue
		}
		out = append(out, childInfo{Workflow: DelegationWorkflowID(s.run, d), Done: s.child[d].IsReady()})
	}
	return out
}

// childrenStarted reports whether every child's start is known (it
// started, or failed to).
func (s *state) childrenStarted() bool {
	for _, d := range s.children {
		if !s.child[d].GetChildWorkflowExecution().IsReady() {
			return false
		}
	}
	return true
}

// fenced refuses an attempt older than the newest that has spoken.
func (s *state) fenced(attempt int32) error {
	if attempt < s.attempt {
		return fencedError(attempt, s.attempt)
	}
	return nil
}

// speak notes that attempt has spoken, fencing the older ones; it refuses
// an older attempt (for the updates validated before a newer attempt
// spoke).
func (s *state) speak(attempt int32) error {
	if err := s.fenced(attempt); err != nil {
		return err
	}
	s.attempt = attempt
	return nil
}

// append adds a batch of events, skipping those already held (an update
// sent again).
func (s *state) append(batch eventBatch) error {
	if err := s.speak(batch.Attempt); err != nil {
		return err
	}
	for _, e := range batch.Events {
		if n := len(s.events); n > 0 && e.Seq <= s.events[n-1].Seq {
			continue
		}
		s.events = append(s.events, e)
	}
	return nil
}

// startChild starts the workflow of a delegation this workflow's
// delegation delegated, once. The child knows the newest attempt this
// workflow knows; an attempt that a newer one fenced while the child was
// starting is refused, and so never learns that it started: it sends the
// child nothing (the newer attempt, waiting for the start, speaks to it
// first).
func (s *state) startChild(ctx workflow.Context, req childRequest) error {
	if err := s.speak(req.Attempt); err != nil {
		return err
	}
	f := s.child[req.Delegation]
	if f == nil {
		cctx := workflow.WithChildOptions(s.ctx, workflow.ChildWorkflowOptions{
			WorkflowID: DelegationWorkflowID(s.run, req.Delegation)})
		f = workflow.ExecuteChildWorkflow(cctx, DelegationWorkflowName, DelegationInput{Run: s.run, Delegation: req.Delegation,
			CallTimeout: s.callTimeout, Attempt: s.attempt, Events: req.Events})
		s.child[req.Delegation] = f
		s.children = append(s.children, req.Delegation)
	}
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return err
	}
	return s.fenced(req.Attempt)
}

// ask waits for the answer to a Principal's question.
func (s *state) ask(ctx workflow.Context, req askRequest) (*Answer, error) {
	if err := s.speak(req.Attempt); err != nil {
		return nil, err
	}
	q := req.Question
	if s.questions[q.ID] == nil {
		s.questions[q.ID] = &q
	}
	if err := workflow.Await(ctx, func() bool { return s.answers[q.ID] != nil || s.attempt > req.Attempt }); err != nil {
		return nil, err
	}
	if s.answers[q.ID] == nil {
		return nil, fencedError(req.Attempt, s.attempt)
	}
	return s.answers[q.ID], nil
}

// effect serves one effect: the recorded result when there is one, the
// running activity's when it is under way, else a new activity's. A
// question to a worker's Principal is such an effect: the workflow puts it
// (an activity), so an attempt fenced before its request is taken puts no
// question at all, and one fenced after is not told the answer; the newer
// attempt, asking the same question, waits for that same answer.
func (s *state) effect(ctx workflow.Context, req effectRequest) (*effectResult, error) {
	if err := s.append(eventBatch{Attempt: req.Attempt, Events: req.Events}); err != nil {
		return nil, err
	}
	id := req.Kind + " " + req.Key
	if r := s.results[id]; r != nil {
		return r, nil
	}
	if req.Kind == "decide" {
		if req.Decision == nil {
			return &effectResult{}, nil // not recorded
		}
		r := &effectResult{Decision: req.Decision}
		s.results[id] = r
		return r, nil
	}
	f := s.running[id]
	if f == nil {
		opts := workflow.ActivityOptions{StartToCloseTimeout: s.callTimeout,
			RetryPolicy: &sdktemporal.RetryPolicy{MaximumAttempts: 3}}
		var name string
		var arg any
		switch req.Kind {
		case "generate":
			name, arg = GenerateActivity, generateInput{Agent: req.Agent, Request: req.Request, RequestRaw: req.RequestRaw}
		case "tool":
			name, arg = CallToolActivity, toolInput{Agent: req.Agent, Tool: req.Tool, Call: req.Call, CallRaw: req.CallRaw}
			if !req.Retry {
				// A tool that is not idempotent runs at most once: should
				// its worker be lost, the model is told so.
				opts.RetryPolicy.MaximumAttempts = 1
			}
		case "ask":
			// A worker's Principal answers, on any worker of the queue; a
			// person may take hours. A question whose worker is lost
			// (heartbeats stop) is put to another's.
			if req.Question == nil {
				return nil, errors.New("an ask with no question")
			}
			name, arg = AskActivity, askInput{Question: *req.Question}
			opts = workflow.ActivityOptions{StartToCloseTimeout: defaultOrchestrateTime, HeartbeatTimeout: s.heartbeat,
				RetryPolicy: &sdktemporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second}}
		default:
			return nil, fmt.Errorf("unknown effect %q", req.Kind)
		}
		f = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), name, arg)
		s.running[id] = f
	}
	// A fenced attempt is not told the result: the newer attempt asks
	// for it, and the activity's result is recorded then.
	if err := workflow.Await(ctx, func() bool { return f.IsReady() || s.attempt > req.Attempt }); err != nil {
		return nil, err
	}
	if !f.IsReady() {
		return nil, fencedError(req.Attempt, s.attempt)
	}
	var r effectResult
	if err := f.Get(ctx, &r); err != nil {
		if req.Kind != "tool" {
			delete(s.running, id)
			return nil, err
		}
		r = effectResult{Result: &agents.Result{IsError: true,
			Content: "error: the call was lost with the worker running it, or failed there (" + err.Error() + "); whether it took effect is unknown: check before relying on it"}}
	}
	s.results[id] = &r
	delete(s.running, id)
	return &r, nil
}
