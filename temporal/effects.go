package temporal

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"
)

// effects are the orchestrator.Effects of a run on Temporal, used by the
// orchestrator activity: model and tool calls are activities the workflow of
// their delegation runs (or the results it recorded), decisions are recorded
// there once made, ids and the clock are the resumed run's (the journal,
// which the workflows keep, gives the same act the same id).
type effects struct {
	w *Worker
	c client.Client
	// root and rootRun name the run's workflow, the root of the tree.
	root, rootRun string
	// attempt is the orchestrator activity's attempt, carried by every
	// update; fenced is set once a workflow has refused it (a newer attempt
	// has taken over): no effect is asked for and no event sent after that.
	attempt int32
	fenced  atomic.Bool
	live    *orchestrator.LiveEffects
	// cancel cancels the run: the workflow was cancelled, which an effect
	// may learn before the activity's heartbeat does.
	cancel context.CancelFunc

	// The events not yet sent, and the context that sends them even after a
	// cancellation, so that the run's last events reach the journal.
	mu      sync.Mutex
	pending []*orchestrator.Event
	sendMu  sync.Mutex
	sendCtx context.Context

	tree tree
}

// RecordsCalls reports that the workflow knows the fate of every action tool
// call (orchestrator.CallRecorder): each is an activity it records, so a call
// asked for again gets its recorded result, or waits on the one under way.
func (f *effects) RecordsCalls() bool { return true }

// emit keeps e for the next flush.
func (f *effects) emit(_ context.Context, e *orchestrator.Event) error {
	f.mu.Lock()
	f.pending = append(f.pending, e)
	f.mu.Unlock()
	return nil
}

// flush sends the events not yet sent to the workflows of their
// delegations (see sendEvents).
func (f *effects) flush() error {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	_, err := f.sendEvents(nil)
	return err
}

// sendEvents sends the events not yet sent to the workflows of their
// delegations, in order, one update for each run of events of the same
// workflow; it starts the workflow of a delegation before its first event
// and ends it after its last. Each update is sent once the one before it was
// taken, so the workflows hold a prefix of the run's events at all times:
// an event lost with its worker is emitted again by the attempt that
// resumes the run (every event derives from effects the workflows
// recorded), and a fenced attempt's first refused update stops it. The
// last run of events is kept and returned, unsent, when keep says so of its
// workflow: the caller sends them with its own update (and gives them back
// to pending if it is not taken). f.sendMu is held.
func (f *effects) sendEvents(keep func(wf string) bool) ([]*orchestrator.Event, error) {
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	if f.fenced.Load() {
		return nil, ErrFenced
	}
	sent := 0
	defer func() {
		if sent < len(batch) {
			f.requeue(batch[sent:])
		}
	}()
	target, from := "", 0
	send := func(to int) error {
		if to > from {
			if err := f.call(f.sendCtx, target, eventsUpdate, "", eventBatch{Attempt: f.attempt, Events: batch[from:to]}, nil); err != nil {
				return err
			}
		}
		sent, from = to, to
		return nil
	}
	for i := 0; i < len(batch); i++ {
		e := batch[i]
		d, start, end := f.tree.see(e)
		if start {
			if err := send(i); err != nil {
				return nil, err
			}
			// The delegation's first events go with its workflow's start.
			j := i + 1
			for j < len(batch) && batch[j].Delegation == d && batch[j].Type != orchestrator.EventGoalOffered && !batch[j].Type.Terminal() {
				j++
			}
			if err := f.call(f.sendCtx, f.tree.workflowOf(f.tree.parentOf(d)), childUpdate, "child "+d,
				childRequest{Attempt: f.attempt, Delegation: d, Events: batch[i:j]}, nil); err != nil {
				return nil, err
			}
			f.tree.started(d)
			for _, e := range batch[i+1 : j] {
				f.tree.see(e)
			}
			sent, from, target = j, j, f.tree.workflowOf(d)
			i = j - 1
			continue
		}
		if to := f.tree.workflowOf(e.Delegation); to != target {
			if err := send(i); err != nil {
				return nil, err
			}
			target = to
		}
		if end {
			// The delegation's last events go with its workflow's end.
			if err := f.end(f.sendCtx, d, batch[from:i+1]); err != nil {
				return nil, err
			}
			sent, from = i+1, i+1
		}
	}
	if from < len(batch) && keep != nil && keep(target) {
		sent = len(batch)
		return batch[from:], nil
	}
	return nil, send(len(batch))
}

// requeue gives events not taken back to pending, before those emitted
// since: they are sent again with the next update (unless fenced).
func (f *effects) requeue(events []*orchestrator.Event) {
	if len(events) == 0 || f.fenced.Load() {
		return
	}
	f.mu.Lock()
	f.pending = append(events[:len(events):len(events)], f.pending...)
	f.mu.Unlock()
}

// end ends the workflow of delegation d, its last events with it (gone
// already is ended).
func (f *effects) end(ctx context.Context, d string, last []*orchestrator.Event) error {
	err := f.call(ctx, DelegationWorkflowID(f.root, d), endUpdate, "end "+d, eventBatch{Attempt: f.attempt, Events: last}, nil)
	if err != nil && !closed(err) {
		return err
	}
	f.tree.ended(d)
	return nil
}

// update sends the update name to the workflow of delegation d, once the
// events before it are sent, and waits for its result. An effect request
// carries the last of those events when they are of the same workflow (one
// update instead of two).
func (f *effects) update(ctx context.Context, d, name, id string, arg any, out any) error {
	if f.fenced.Load() {
		return ErrFenced
	}
	req, carries := arg.(*effectRequest)
	f.sendMu.Lock()
	kept, err := f.sendEvents(func(wf string) bool { return carries && wf == f.tree.workflowOf(d) })
	if err != nil {
		f.sendMu.Unlock()
		return err
	}
	if carries {
		req.Events = kept
	}
	// The update is sent before the events of any later one.
	h, err := f.start(ctx, f.tree.workflowOf(d), name, id, arg, client.WorkflowUpdateStageAccepted)
	if err != nil {
		f.requeue(kept)
	}
	f.sendMu.Unlock()
	if err == nil {
		err = h.Get(ctx, out)
	}
	return f.check(err)
}

// call sends the update name to workflow wf and waits for its result.
func (f *effects) call(ctx context.Context, wf, name, id string, arg any, out any) error {
	h, err := f.start(ctx, wf, name, id, arg, client.WorkflowUpdateStageCompleted)
	if err == nil {
		err = h.Get(ctx, out)
	}
	return f.check(err)
}

// start sends the update name to workflow wf and waits for it to reach
// stage. Its id is made of id and the attempt: an update of a fenced
// attempt is never taken for a newer one's.
func (f *effects) start(ctx context.Context, wf, name, id string, arg any, stage client.WorkflowUpdateStage) (client.WorkflowUpdateHandle, error) {
	if f.fenced.Load() {
		return nil, ErrFenced
	}
	if id != "" {
		id = fmt.Sprintf("%s@%d", id, f.attempt)
	}
	run := ""
	if wf == f.root {
		run = f.rootRun
	}
	return f.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: wf, RunID: run, UpdateID: id, UpdateName: name, Args: []any{arg}, WaitForStage: stage})
}

// check returns the error of an update. Once fenced, the attempt's run is
// cancelled and no update is sent any more (fail closed: a fenced attempt
// makes no effect).
func (f *effects) check(err error) error {
	var app *sdktemporal.ApplicationError
	switch {
	case err == nil:
	case errors.As(err, &app) && app.Type() == fencedType:
		f.fenced.Store(true)
		f.cancel()
		return fmt.Errorf("%w: %s", ErrFenced, app.Message())
	case sdktemporal.IsCanceledError(err):
		f.cancel()
		return context.Canceled
	}
	return err
}

// Generate has the workflow make the model call as an activity.
func (f *effects) Generate(ctx context.Context, k orchestrator.Key, m model.Model, req *model.Request) (orchestrator.Generated, error) {
	agent := f.w.modelOwner(m)
	if agent == "" {
		return orchestrator.Generated{}, fmt.Errorf("entrust: a model not of the team (%s)", k)
	}
	var r effectResult
	wreq, raw := packRequest(req)
	if err := f.update(ctx, k.Delegation, effectUpdate, "generate "+k.String(),
		&effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "generate", Agent: agent, Request: wreq, RequestRaw: raw}, &r); err != nil {
		return orchestrator.Generated{}, err
	}
	if r.Response != nil {
		unpackCalls(r.Response.Message.ToolCalls, r.ResponseRaw)
	}
	g := orchestrator.Generated{Response: r.Response, Latency: r.Latency}
	if r.Error != "" {
		return g, errors.New(r.Error)
	}
	return g, nil
}

// CallTool has the workflow make the tool call as an activity: retried
// after a lost worker only when the tool is idempotent.
func (f *effects) CallTool(ctx context.Context, k orchestrator.Key, t agents.Tool, call *model.ToolCall) orchestrator.Called {
	agent, name := f.w.toolOwner(t)
	if agent == "" {
		return orchestrator.Called{Result: agents.Errorf("error: %s is not a tool of the team", call.Name)}
	}
	var r effectResult
	calls, raw := packCalls([]model.ToolCall{*call})
	err := f.update(ctx, k.Delegation, effectUpdate, "tool "+k.String(), &effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "tool", Agent: agent, Tool: name,
		Call: &calls[0], CallRaw: raw != nil, Retry: agents.IsIdempotent(t)}, &r)
	if err != nil || r.Result == nil {
		return orchestrator.Called{Result: agents.Errorf("error: the call could not be made: %v", err)}
	}
	return orchestrator.Called{Result: *r.Result, Latency: r.Latency}
}

type keyCtx struct{}

// Decide returns the decision the workflow recorded for k, else asks and
// records the answer. The workflow is asked first in any case: a fenced
// attempt is refused there before it runs a goal's checks or asks a
// Supervisor, and the events before the question reach the journal before
// the wait for its answer. A question to a person is put by the workflow
// itself (workflowPrincipal), so a fence that arrives after this first
// check still keeps a fenced attempt from putting it.
func (f *effects) Decide(ctx context.Context, k orchestrator.Key, ask func(context.Context) (orchestrator.Decision, error)) (orchestrator.Decision, error) {
	var r effectResult
	if err := f.update(ctx, k.Delegation, effectUpdate, "", &effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "decide"}, &r); err != nil {
		return orchestrator.Decision{}, err
	}
	if r.Decision != nil {
		return *r.Decision, nil
	}
	d, err := ask(context.WithValue(ctx, keyCtx{}, k))
	if err != nil {
		return d, err
	}
	if err := f.update(ctx, k.Delegation, effectUpdate, "decide "+k.String(), &effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "decide", Decision: &d}, &r); err != nil {
		return orchestrator.Decision{}, err
	}
	if r.Decision != nil {
		return *r.Decision, nil // recorded first by another attempt
	}
	return d, nil
}

// NewID is the live effects' (a resume gives recorded acts their ids).
func (f *effects) NewID(kind, site string) string { return f.live.NewID(kind, site) }

// Now is the worker's clock.
func (f *effects) Now() time.Time { return f.live.Now() }

// workflowPrincipal is the Principal of a run whose questions are put
// through the workflow of their delegation, which refuses a fenced attempt's:
// a question to the client waits there for an answer (Run.Answer); one to
// the worker's Principal (worker) is an activity the workflow schedules
// (Worker.Ask).
type workflowPrincipal struct {
	fx     *effects
	worker bool
	// name names the worker's Principal (Question.Principal).
	name string
	// noBreaches: the worker's Principal is no BreachAcceptor, so it accepts
	// no breach (as in process) and is not asked.
	noBreaches bool
}

func (p *workflowPrincipal) ask(ctx context.Context, q Question) (*Answer, error) {
	k, _ := ctx.Value(keyCtx{}).(orchestrator.Key)
	q.ID = k.String()
	q.Notes = orchestrator.VerifyNotes(ctx)
	var a Answer
	if p.worker {
		q.Principal = p.name
		var r effectResult
		if err := p.fx.update(ctx, k.Delegation, effectUpdate, "ask "+q.ID,
			&effectRequest{Attempt: p.fx.attempt, Key: q.ID, Kind: "ask", Question: &q}, &r); err != nil {
			return nil, err
		}
		if r.Error != "" {
			return nil, errors.New(r.Error)
		}
		if r.Answer == nil {
			return nil, fmt.Errorf("question %q: no answer", q.ID)
		}
		a = *r.Answer
	} else if err := p.fx.update(ctx, k.Delegation, askUpdate, "ask "+q.ID, askRequest{Attempt: p.fx.attempt, Question: q}, &a); err != nil {
		return nil, err
	}
	// The workflow's validator refuses an answer of the wrong kind; this
	// holds the worker to it too, so an answer that slipped through (an old
	// workflow, a changed validator) fails the question instead of the
	// worker.
	if (q.Acceptance != nil && a.Alignment == nil) || (q.Escalation != nil && a.Resolution == nil) ||
		(q.Report != nil && len(q.Breaches) == 0 && a.Verification == nil) {
		return nil, fmt.Errorf("answer to %q: it does not answer what was asked", q.ID)
	}
	return &a, nil
}

// JudgeAcceptance asks the client (or the worker's Principal) to judge the lead's acceptance.
func (p *workflowPrincipal) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	ans, err := p.ask(ctx, Question{Goal: g, Agent: agent, Acceptance: a})
	if err != nil {
		return agents.Alignment{}, err
	}
	return *ans.Alignment, nil
}

// AnswerEscalation asks the client (or the worker's Principal) to answer an
// escalation.
func (p *workflowPrincipal) AnswerEscalation(ctx context.Context, e *agents.Escalation) (agents.Resolution, error) {
	ans, err := p.ask(ctx, Question{Agent: e.From, Escalation: e})
	if err != nil {
		return agents.Resolution{}, err
	}
	return *ans.Resolution, nil
}

// AcceptBreaches asks the client (or the worker's Principal) which of the
// constraints the lead's report admits broken it accepts.
func (p *workflowPrincipal) AcceptBreaches(ctx context.Context, g *agents.Goal, agent string, r *agents.Report, bs []orchestrator.Breach) ([]agents.AcceptedBreach, error) {
	if p.noBreaches {
		return nil, nil
	}
	ans, err := p.ask(ctx, Question{Goal: g, Agent: agent, Report: r, Breaches: bs})
	if err != nil {
		return nil, err
	}
	return ans.Accepted, nil
}

// workflowVerifier is a workflowPrincipal that also has the client (or the
// worker's Principal) verify the lead's report.
type workflowVerifier struct{ workflowPrincipal }

// VerifyReport asks the client (or the worker's Principal) to verify the
// lead's report.
func (p *workflowVerifier) VerifyReport(ctx context.Context, g *agents.Goal, agent string, r *agents.Report) (agents.Verification, error) {
	ans, err := p.ask(ctx, Question{Goal: g, Agent: agent, Report: r})
	if err != nil {
		return agents.Verification{}, err
	}
	return *ans.Verification, nil
}
