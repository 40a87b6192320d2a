package temporal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/sdk/client"
)

// StartOptions say where and how a run starts.
type StartOptions struct {
	// TaskQueue is the task queue the workers poll. Required.
	TaskQueue string
	// ID is the workflow's id, and the run's; default "entrust-" and a
	// fresh time-based id (orchestrator.NewRunID).
	ID string
	// Config is recorded on run.started (orchestrator.Options.Config). It
	// must hold no secret: it is in the workflow's history.
	Config []byte
	// AskClient sends the Principal's questions to the client (Questions,
	// Answer, or Follow with a Principal) instead of the worker's Principal:
	// the lead's acceptance, the escalations that reach the top, and the
	// breaches of constraints the lead's report admits.
	AskClient bool
	// Deny, without AskClient, refuses every escalation that reaches the
	// top instead of leaving it to the workers' Principal.
	Deny bool
	// ClientVerifies, with AskClient, has the client verify the lead's
	// report too: Follow's Principal must then be an
	// orchestrator.ReportVerifier.
	ClientVerifies bool
	// CallTimeout bounds one model or tool call's activity; default 10
	// minutes (see RunInput.CallTimeout).
	CallTimeout time.Duration
	// Heartbeat is how soon a run whose worker was lost continues on
	// another; default 10s.
	Heartbeat time.Duration
}

// Run is a run started on Temporal.
type Run struct {
	c       client.Client
	id, run string

	mu sync.Mutex
	// where is the workflow of each question seen.
	where map[string]string
}

// Start starts goal as a run on the workers of opts.TaskQueue. Its
// programmatic verifiers (Go functions) cannot travel and are refused.
func Start(ctx context.Context, c client.Client, goal agents.Goal, opts StartOptions) (*Run, error) {
	if opts.TaskQueue == "" {
		return nil, errors.New("entrust: StartOptions.TaskQueue is required")
	}
	if len(goal.Verifiers) > 0 {
		return nil, errors.New("entrust: a goal's programmatic verifiers cannot run on Temporal (they are Go functions); state them as criteria")
	}
	id := opts.ID
	if id == "" {
		id = "entrust-" + orchestrator.NewRunID(time.Now())
	}
	we, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: opts.TaskQueue}, WorkflowName,
		RunInput{RunID: id, Goal: goal, Config: opts.Config, AskClient: opts.AskClient, Deny: opts.Deny, ClientVerifies: opts.ClientVerifies, Heartbeat: opts.Heartbeat, CallTimeout: opts.CallTimeout})
	if err != nil {
		return nil, fmt.Errorf("entrust: starting the run: %w", err)
	}
	return &Run{c: c, id: we.GetID(), run: we.GetRunID(), where: map[string]string{}}, nil
}

// Attach returns the run of workflow id (its latest execution when run is "").
func Attach(c client.Client, id, run string) *Run {
	return &Run{c: c, id: id, run: run, where: map[string]string{}}
}

// ID returns the workflow's id.
func (r *Run) ID() string { return r.id }

// RunID returns Temporal's run id of the run's workflow execution, which
// tells apart runs started under one workflow id ("" for a Run attached to
// the latest execution).
func (r *Run) RunID() string { return r.run }

// Events returns the run's events from the from-th (from 0): the events of
// every workflow of its tree, in order.
func (r *Run) Events(ctx context.Context, from int) ([]*orchestrator.Event, error) {
	events, err := newJournalReader(r.c, r.id, r.run).read(ctx, false)
	if err != nil {
		return nil, err
	}
	if from < 0 || from > len(events) {
		from = len(events)
	}
	return events[from:], nil
}

// Questions returns the Principal's questions waiting for an answer, in
// every workflow of the run's tree.
func (r *Run) Questions(ctx context.Context) ([]*Question, error) {
	jr := newJournalReader(r.c, r.id, r.run)
	if _, err := jr.read(ctx, true); err != nil {
		return nil, err
	}
	r.remember(jr)
	return jr.questions, nil
}

// remember notes in which workflow each question read by jr waits.
func (r *Run) remember(jr *journalReader) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, wf := range jr.where {
		r.where[id] = wf
	}
}

func (r *Run) workflowOf(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.where[id]
}

// Answer answers a waiting question. An answer to no waiting question, or
// not to what was asked, is refused (ErrUnknownQuestion for the former).
func (r *Run) Answer(ctx context.Context, a Answer) error {
	wf := r.workflowOf(a.ID)
	if wf == "" {
		if _, err := r.Questions(ctx); err != nil {
			return err
		}
		if wf = r.workflowOf(a.ID); wf == "" {
			return fmt.Errorf("%w: %q", ErrUnknownQuestion, a.ID)
		}
	}
	run := ""
	if wf == r.id {
		run = r.run
	}
	h, err := r.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wf, RunID: run, UpdateName: AnswerUpdate,
		Args: []any{a}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// Cancel asks the run to stop: it ends cancelled, its last events in its
// journal.
func (r *Run) Cancel(ctx context.Context) error { return r.c.CancelWorkflow(ctx, r.id, r.run) }

// Wait waits for the run to end and returns its outcome and error, as
// orchestrator.Runtime.Run would.
func (r *Run) Wait(ctx context.Context) (*orchestrator.Outcome, error) {
	var res RunResult
	if err := r.c.GetWorkflow(ctx, r.id, r.run).Get(ctx, &res); err != nil {
		return nil, err
	}
	if res.Error != "" {
		return res.Outcome, errors.New(res.Error)
	}
	return res.Outcome, nil
}

// FollowOptions configure Follow.
type FollowOptions struct {
	// Sinks receive each of the run's events once, in order.
	Sinks []orchestrator.Sink
	// Principal answers the run's questions (a run started with
	// AskClient); nil leaves them to Questions and Answer.
	Principal orchestrator.Principal
	// Every is how often the run is polled; default 200ms.
	Every time.Duration
}

// Follow sends the run's events to opts.Sinks as they come and has
// opts.Principal answer its questions, until the run ends; it returns the
// run's outcome as Wait does.
func (r *Run) Follow(ctx context.Context, opts FollowOptions) (*orchestrator.Outcome, error) {
	every := opts.Every
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	var out *orchestrator.Outcome
	var werr error
	go func() {
		defer close(done)
		out, werr = r.Wait(ctx)
	}()
	jr := newJournalReader(r.c, r.id, r.run)
	asked := map[string]bool{}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		finished := false
		select {
		case <-done:
			finished = true
		case <-t.C:
		case <-ctx.Done():
			<-done
			return out, werr
		}
		events, err := jr.read(ctx, false)
		if err != nil {
			if finished {
				return out, werr
			}
			continue
		}
		r.remember(jr)
		for _, e := range events {
			for _, s := range opts.Sinks {
				if err := s.Emit(ctx, e); err != nil {
					return nil, err
				}
			}
		}
		if finished {
			return out, werr
		}
		if opts.Principal == nil {
			continue
		}
		for _, q := range jr.questions {
			if asked[q.ID] {
				continue
			}
			asked[q.ID] = true
			a, err := answer(ctx, opts.Principal, q)
			if err != nil {
				return nil, fmt.Errorf("entrust: answering %s: %w", q.ID, err)
			}
			if err := r.Answer(ctx, *a); err != nil {
				return nil, fmt.Errorf("entrust: answering %s: %w", q.ID, err)
			}
		}
	}
}

// answer has p answer q (a verifier is given q's notes: VerifyNotes).
func answer(ctx context.Context, p orchestrator.Principal, q *Question) (*Answer, error) {
	ctx = orchestrator.WithVerifyNotes(ctx, q.Notes)
	a := &Answer{ID: q.ID}
	switch {
	case q.Acceptance != nil:
		al, err := p.JudgeAcceptance(ctx, q.Goal, q.Agent, q.Acceptance)
		a.Alignment = &al
		return a, err
	case q.Escalation != nil:
		res, err := p.AnswerEscalation(ctx, q.Escalation)
		a.Resolution = &res
		return a, err
	case len(q.Breaches) > 0:
		// A Principal that is no BreachAcceptor accepts none, as in process.
		ba, ok := p.(orchestrator.BreachAcceptor)
		if !ok {
			return a, nil
		}
		acc, err := ba.AcceptBreaches(ctx, q.Goal, q.Agent, q.Report, q.Breaches)
		a.Accepted = acc
		return a, err
	case q.Report != nil:
		v, ok := p.(orchestrator.ReportVerifier)
		if !ok {
			return nil, errors.New("the Principal does not verify reports")
		}
		ver, err := v.VerifyReport(ctx, q.Goal, q.Agent, q.Report)
		a.Verification = &ver
		return a, err
	}
	return nil, errors.New("an empty question")
}
