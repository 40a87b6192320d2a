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
// orchestrator activity: model and tool calls are activities the workflow
// runs (or the results it recorded), decisions are recorded in the workflow
// once made, ids and the clock are the resumed run's (the journal, which the
// workflow keeps, gives the same act the same id).
type effects struct {
	w       *Worker
	c       client.Client
	wf, run string
	// attempt is the orchestrator activity's attempt, carried by every
	// update and signal; fenced is set once the workflow has refused it (a
	// newer attempt has taken over): no effect is asked for after that.
	attempt int32
	fenced  atomic.Bool
	live    *orchestrator.LiveEffects
	// cancel cancels the run: the workflow was cancelled, which an effect
	// may learn before the activity's heartbeat does.
	cancel context.CancelFunc
	// resumed is set for an attempt that resumes the run: decisions may be
	// recorded in the workflow that its journal does not hold yet.
	resumed bool

	// The events not yet sent, and the context that sends them even after a
	// cancellation, so that the run's last events reach the journal.
	mu      sync.Mutex
	pending []*orchestrator.Event
	sendMu  sync.Mutex
	sendCtx context.Context
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

// flush sends the events not yet sent to the workflow as one signal. An
// event lost with its worker is emitted again by the run that resumes it:
// every event derives from effects the workflow recorded.
func (f *effects) flush() error {
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	if len(batch) == 0 || f.fenced.Load() {
		return nil
	}
	return f.c.SignalWorkflow(f.sendCtx, f.wf, f.run, eventsSignal, eventBatch{Attempt: f.attempt, Events: batch})
}

// update sends the update name to the workflow and waits for its result.
// Its id is made of id and the attempt: an update of a fenced attempt is
// never taken for a newer one's. Once fenced, the attempt's run is
// cancelled and no update is sent any more (fail closed: a fenced attempt
// makes no effect).
func (f *effects) update(ctx context.Context, name, id string, arg any, out any) error {
	if f.fenced.Load() {
		return ErrFenced
	}
	if err := f.flush(); err != nil {
		return err
	}
	if id != "" {
		id = fmt.Sprintf("%s@%d", id, f.attempt)
	}
	h, err := f.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: f.wf, RunID: f.run, UpdateID: id, UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, out)
	}
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
	if err := f.update(ctx, effectUpdate, "generate "+k.String(),
		effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "generate", Agent: agent, Request: wreq, RequestRaw: raw}, &r); err != nil {
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
	err := f.update(ctx, effectUpdate, "tool "+k.String(), effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "tool", Agent: agent, Tool: name,
		Call: &calls[0], CallRaw: raw != nil, Retry: agents.IsIdempotent(t)}, &r)
	if err != nil || r.Result == nil {
		return orchestrator.Called{Result: agents.Errorf("error: the call could not be made: %v", err)}
	}
	return orchestrator.Called{Result: *r.Result, Latency: r.Latency}
}

type keyCtx struct{}

// Decide returns the decision the workflow recorded for k, else asks and
// records the answer.
func (f *effects) Decide(ctx context.Context, k orchestrator.Key, ask func(context.Context) (orchestrator.Decision, error)) (orchestrator.Decision, error) {
	var r effectResult
	if f.resumed {
		if err := f.update(ctx, effectUpdate, "", effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "decide"}, &r); err != nil {
			return orchestrator.Decision{}, err
		}
		if r.Decision != nil {
			return *r.Decision, nil
		}
	}
	d, err := ask(context.WithValue(ctx, keyCtx{}, k))
	if err != nil {
		return d, err
	}
	if err := f.update(ctx, effectUpdate, "decide "+k.String(), effectRequest{Attempt: f.attempt, Key: k.String(), Kind: "decide", Decision: &d}, &r); err != nil {
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

// clientPrincipal is the Principal of a run that asks its client: each
// question waits in the workflow for an answer (Run.Answer).
type clientPrincipal struct{ fx *effects }

func (p *clientPrincipal) ask(ctx context.Context, q Question) (*Answer, error) {
	k, _ := ctx.Value(keyCtx{}).(orchestrator.Key)
	q.ID = k.String()
	var a Answer
	if err := p.fx.update(ctx, askUpdate, "ask "+q.ID, askRequest{Attempt: p.fx.attempt, Question: q}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// JudgeAcceptance asks the client to judge the lead's acceptance.
func (p *clientPrincipal) JudgeAcceptance(ctx context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	ans, err := p.ask(ctx, Question{Goal: g, Agent: agent, Acceptance: a})
	if err != nil {
		return agents.Alignment{}, err
	}
	return *ans.Alignment, nil
}

// AnswerEscalation asks the client to answer an escalation.
func (p *clientPrincipal) AnswerEscalation(ctx context.Context, e *agents.Escalation) (agents.Resolution, error) {
	ans, err := p.ask(ctx, Question{Agent: e.From, Escalation: e})
	if err != nil {
		return agents.Resolution{}, err
	}
	return *ans.Resolution, nil
}

// clientVerifier is a clientPrincipal that also has the client verify the
// lead's report.
type clientVerifier struct{ clientPrincipal }

// VerifyReport asks the client to verify the lead's report.
func (p *clientVerifier) VerifyReport(ctx context.Context, g *agents.Goal, agent string, r *agents.Report) (agents.Verification, error) {
	ans, err := p.ask(ctx, Question{Goal: g, Agent: agent, Report: r})
	if err != nil {
		return agents.Verification{}, err
	}
	return *ans.Verification, nil
}
