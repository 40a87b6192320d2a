package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// The states of a delegation; only forward moves are legal.
const (
	stateOffered int32 = iota
	stateWorking
	stateDone
)

// delegation is one goal entrusted to one agent.
type delegation struct {
	run    *run
	rt     *Runtime
	id     string
	parent *delegation
	m      *member
	goal   *agents.Goal
	depth  int
	// authority is what this delegation may grant further; effective is
	// what it may use itself: its own tools ∩ authority.
	authority []string
	effective []string
	sup       Supervision
	meter     *meter
	// offerTS and workTS are the tools of the two phases (see tools).
	offerTS, workTS *agents.Toolset

	state atomic.Int32
	// prompt is what its own prompts show (data), made once by work.
	prompt *prompts.Data
	// delegatorSys is the delegator's system prompt when it is asked about
	// this delegation, rendered once.
	delegatorOnce sync.Once
	delegatorSys  string

	// misalignedTurn is set when an acceptance is judged misaligned, until
	// the next turn: the calls pipelined after it are refused unrun.
	misalignedTurn atomic.Bool

	mu             sync.Mutex
	out            *Outcome
	final          *final
	fanOut         int
	clarifications int // ask_clarification calls, before acceptance
	escalations    int // escalate calls, after it
	// waiting holds the non-blocking escalations raised since the last
	// turn, answered at the next turn boundary (answerWaiting).
	waiting []*agents.Escalation
	// wall is the delegation's wall-time bound (0: none).
	wall time.Duration
	// halted holds the sub-goals a supervisor halted, by fingerprint, with
	// the reason: they are not delegated again unchanged.
	halted        map[string]string
	sinceProgress int
	notes         []string
	// notePinned says the note beforeTurn returned last carries an answer
	// to keep whole; summaries counts the compaction summaries asked for.
	// Only the delegate's loop goroutine touches them.
	notePinned bool
	summaries  int
	// compactSys is the system prompt of its summaries, rendered once; only
	// the loop goroutine touches it.
	compactSys string
	// turnMD is the metadata of its turns, offered and working (see
	// turnMetadata); only the loop goroutine touches it.
	turnMD [2]*model.Metadata
	// chargeFn and refusedFn are charge and refused as the function
	// values its loops and asks take, made once.
	chargeFn  func(model.Usage) error
	refusedFn func(ctx context.Context, call *model.ToolCall, reason string)
	// askTurnFn is the BeforeTurn of the asks its agent is put as a
	// delegator: no model call once the token budget is spent.
	askTurnFn func(context.Context) (string, error)
	// unjudged counts its delegator's failures in a row to judge its
	// acceptance or verify its report.
	unjudged int
	// fb is what the delegate was last told to change (FM-2.5).
	fb feedback
	// planned are the action tools its accepted plan names (none: no
	// check), unplanned those it used all the same (FM-2.6).
	planned, unplanned []string
	// relabelled notes the entries of its last report labelled with other
	// words than the goal's (see fillReport), for its verifier.
	relabelled []string
	// facts are what its checks read of its goal, which never changes
	// within the delegation: made once, on first use (see goalFacts).
	facts goalFacts
}

// setUnjudged adds delta to the count of its delegator's failures in a row to
// judge it (0 resets it) and returns the new count.
func (d *delegation) setUnjudged(delta int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if delta == 0 {
		d.unjudged = 0
	}
	d.unjudged += delta
	return d.unjudged
}

type final struct {
	status Status
	cause  Cause
	reason string
	err    error
}

type ctxKey struct{}

func from(ctx context.Context) *delegation {
	d, _ := ctx.Value(ctxKey{}).(*delegation)
	return d
}

// meter counts a delegation's steps and tokens against its budget and its
// ancestors': a child's budget is carved out of what its parent has left, and
// what the child spends, the parent has spent.
type meter struct {
	parent        *meter
	steps, tokens atomic.Int64
	maxSteps      int64 // 0: no bound
	maxTokens     int64 // 0: no bound
}

func (m *meter) step() error {
	for x := m; x != nil; x = x.parent {
		if n := x.steps.Add(1); x.maxSteps > 0 && n > x.maxSteps {
			return &agents.BudgetError{Kind: agents.BudgetSteps, Limit: x.maxSteps, Used: n}
		}
	}
	return nil
}

func (m *meter) charge(u model.Usage) error {
	n := int64(u.Total())
	var err error
	for x := m; x != nil; x = x.parent {
		if t := x.tokens.Add(n); x.maxTokens > 0 && t > x.maxTokens && err == nil {
			err = &agents.BudgetError{Kind: agents.BudgetTokens, Limit: x.maxTokens, Used: t}
		}
	}
	return err
}

// remaining returns what is left of the tightest bound on the chain; ok is
// false when nothing bounds it.
func (m *meter) remaining() (steps, tokens int64, boundSteps, boundTokens bool) {
	steps, tokens = -1, -1
	for x := m; x != nil; x = x.parent {
		if x.maxSteps > 0 {
			if left := x.maxSteps - x.steps.Load(); steps < 0 || left < steps {
				steps = left
			}
		}
		if x.maxTokens > 0 {
			if left := x.maxTokens - x.tokens.Load(); tokens < 0 || left < tokens {
				tokens = left
			}
		}
	}
	return max(steps, 0), max(tokens, 0), steps >= 0, tokens >= 0
}

// tokensLeft is a *BudgetError when a token bound on the chain is spent, so
// no model call starts that could not be paid for.
func (m *meter) tokensLeft() error {
	for x := m; x != nil; x = x.parent {
		if used := x.tokens.Load(); x.maxTokens > 0 && used >= x.maxTokens {
			return &agents.BudgetError{Kind: agents.BudgetTokens, Limit: x.maxTokens, Used: used}
		}
	}
	return nil
}

func (m *meter) exhausted() bool {
	s, t, bs, bt := m.remaining()
	return (bs && s <= 0) || (bt && t <= 0)
}

// carve returns a delegation's meter: the requested budget, else the
// member's default, else the runtime's default steps, capped by what the
// parent has left. The parent's bounds still apply through the chain, so a
// parent with nothing left fails the child's first step.
func (r *run) carve(parent *delegation, req, def agents.Budget) *meter {
	first := func(vs ...int) int64 {
		for _, v := range vs {
			if v > 0 {
				return int64(v)
			}
		}
		return 0
	}
	m := &meter{maxSteps: first(req.Steps, def.Steps, r.rt.limits.DefaultSteps), maxTokens: first(req.Tokens, def.Tokens)}
	if parent != nil {
		m.parent = parent.meter
		ls, lt, bs, bt := parent.meter.remaining()
		if bs && ls > 0 {
			m.maxSteps = min(m.maxSteps, ls)
		}
		if bt && lt > 0 && (m.maxTokens == 0 || m.maxTokens > lt) {
			m.maxTokens = lt
		}
	}
	return m
}

// delegate runs one delegation to its end and returns its outcome.
func (r *run) delegate(ctx context.Context, parent *delegation, m *member, goal *agents.Goal, grant []string, reassignedFrom, site string) *Outcome {
	rt := r.rt
	d := &delegation{
		run: r, rt: rt, parent: parent, m: m, goal: goal,
		id:        r.fx.NewID("d", site),
		authority: grant,
		effective: intersect(m.toolNames, grant),
	}
	if parent != nil {
		d.depth = parent.depth + 1
	}
	d.chargeFn, d.refusedFn = d.charge, d.refused
	d.askTurnFn = func(context.Context) (string, error) { return "", d.meter.tokensLeft() }
	d.sup = r.supervision(ctx, d.id, m)
	r.ev.addDelegation(d)
	def := m.Budget
	d.meter = r.carve(parent, goal.Budget, def)
	delegator := d.delegatorName()
	d.out = &Outcome{Run: r.id, Delegation: d.id, Parent: d.parentID(), Agent: m.name, Delegator: delegator,
		Depth: d.depth, Goal: goal, ReassignedFrom: reassignedFrom, Start: r.fx.Now()}
	d.offerTS, d.workTS = d.phaseTools()

	wall := goal.Budget.WallTime
	if wall <= 0 {
		wall = def.WallTime
	}
	d.wall = wall
	bs := &BudgetState{Steps: int(d.meter.maxSteps), Tokens: d.meter.maxTokens, WallTimeMS: wall.Milliseconds()}
	offered := &Event{Type: EventGoalOffered, Delegation: d.id, Parent: d.parentID(), Agent: m.name, Delegator: delegator,
		Model: m.Agent.Model.Name(), Provider: m.provider, Goal: goal, Depth: d.depth, Tools: d.effective, ReassignedFrom: reassignedFrom, Budget: bs, Site: site, Supervision: &d.sup}
	r.emit(ctx, offered)
	d.out.Start = offered.Time // a resumed delegation started when the journal says

	if wall > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, wall, &agents.BudgetError{Kind: agents.BudgetWallTime, Limit: wall.Milliseconds()})
		defer cancel()
	}
	ctx = context.WithValue(ctx, ctxKey{}, d)

	err := d.safeWork(ctx)
	d.noteWaiting(ctx)
	return d.finish(ctx, err)
}

func (d *delegation) parentID() string {
	if d.parent == nil {
		return ""
	}
	return d.parent.id
}

func (d *delegation) delegatorName() string {
	if d.parent == nil {
		return string(agents.ByUser)
	}
	return d.parent.m.name
}

// retried records a retry of agent m's call k within d as model.retried;
// answered names the model retried when a fallback took the call over.
func retried(ctx context.Context, d *delegation, m *member, answered string, purpose model.Purpose, k Key, attempt int, err error, wait time.Duration) {
	name, provider := m.answering(answered)
	d.run.emit(ctx, &Event{Type: EventModelRetried, Delegation: d.id, Parent: d.parentID(), Agent: m.name,
		Model: name, Provider: provider, Purpose: purpose, Conversation: k.Conversation, Turn: k.Turn,
		Attempt: attempt, Error: err.Error(), WaitMS: float64(wait) / 1e6})
}

// failedOver records as model.failover that model from failed agent m's
// call k within d, after its retries, and model to takes the call.
func failedOver(ctx context.Context, d *delegation, m *member, purpose model.Purpose, k Key, from, to string, err error) {
	_, provider := m.answering(from)
	d.run.emit(ctx, &Event{Type: EventModelFailover, Delegation: d.id, Parent: d.parentID(), Agent: m.name,
		Model: from, Provider: provider, Fallback: to, Purpose: purpose, Conversation: k.Conversation, Turn: k.Turn, Error: err.Error()})
}

// answering returns the name and provider of the model of m that answers a
// call: its own, or the fallback named answered (model.WithFallback).
func (m *member) answering(answered string) (name, provider string) {
	if answered == "" || answered == m.Agent.Model.Name() {
		return m.Agent.Model.Name(), m.provider
	}
	for cur := m.Agent.Model; cur != nil; {
		if f, ok := cur.(interface{ Models() []model.Model }); ok {
			for _, fm := range f.Models() {
				if fm.Name() == answered {
					return answered, model.ProviderOf(fm)
				}
			}
		}
		u, ok := cur.(interface{ Unwrap() model.Model })
		if !ok {
			break
		}
		cur = u.Unwrap()
	}
	return answered, ""
}

// data is what this delegation's prompts show. The agents it may delegate to
// are listed only when delegate is offered: at the depth limit the prompt
// matches the tools.
func (d *delegation) data() *prompts.Data {
	data := &prompts.Data{Agent: d.m.name, Role: d.m.Agent.Role, Goal: d.goal, Tools: d.effective, Peers: d.m.peers}
	if d.mayDelegate() {
		data.Delegates = d.m.delegates
	}
	return data
}

func (d *delegation) render(name string, data *prompts.Data) string {
	s, err := d.rt.prompts.Render(name, data)
	if err != nil {
		// A user's template failed: say so where it is seen rather than
		// sending an empty prompt.
		return "[template " + name + " failed: " + err.Error() + "]"
	}
	return s
}

// safeWork is work that turns a panic (a provider's, a Principal's, the
// runtime's own) into this delegation's failure, so that it still ends with its
// one terminal event rather than inside its delegator's tool call.
func (d *delegation) safeWork(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: panic: %v", errInternal, p)
		}
	}()
	if d.parent == nil {
		if reason := d.rt.invalidGoal(d.goal); reason != "" {
			d.setFinal(StatusFailed, CauseInvalid, reason)
			return nil
		}
	}
	return d.work(ctx)
}

var errInternal = errors.New("internal error")

// work runs the delegate's conversation until a terminal act or an error.
func (d *delegation) work(ctx context.Context) error {
	rt := d.rt
	d.prompt = d.data()
	system := d.render(prompts.DelegateSystem, d.prompt)
	offer := d.render(prompts.Offer, d.prompt)
	choice := model.ToolChoice{Mode: model.ChoiceRequired}
	if rt.opts.ToolChoice == "auto" {
		choice = model.ToolChoice{}
	}
	// The loop, its effects and the room for the turns of a short
	// delegation (offer, accept, work, report), allocated at once.
	w := &struct {
		l    agents.Loop
		fx   conversation
		msgs [8]model.Message
	}{fx: conversation{d: d, m: d.m, purpose: model.PurposeTurn}}
	w.msgs[0] = model.Message{Role: model.RoleSystem, Content: system}
	w.msgs[1] = model.Message{Role: model.RoleUser, Content: offer}
	l := &w.l
	*l = agents.Loop{
		Model:       d.m.Agent.Model,
		Messages:    w.msgs[:2],
		Tools:       d.tools,
		Known:       rt.isKnown,
		ToolChoice:  choice,
		MaxNudges:   rt.limits.MaxNudges,
		RepeatLimit: max(rt.limits.RepeatLimit, 0),
		// An acceptance or a report sent again is judged again, and one
		// that ignores its feedback is caught as such (FM-2.5), not as a
		// repeat (FM-1.3).
		Rejudged:       func(n string) bool { return n == agents.ToolAcceptGoal || n == agents.ToolCompleteGoal },
		MaxCalls:       rt.limits.MaxToolCalls,
		MaxAsks:        rt.limits.MaxAsks,
		MaxResult:      rt.limits.MaxToolResult,
		MaxTurnResults: rt.limits.MaxTurnResults,
		BeforeTurn:     d.beforeTurn,
		Charge:         d.chargeFn,
		Effects:        &w.fx,
		Waited:         d.waited,
		Metadata:       d.turnMetadata,
	}
	l.Hooks.Violation = d.refusedFn
	l.Hooks.Prose = func(ctx context.Context, text string, n int) {
		d.violation(ctx, ViolationProse, nil, fmt.Sprintf("answered in prose instead of a protocol call (%d of %d reminders)", n, rt.limits.MaxNudges))
		// The reminder, rendered only when needed, names the tools offered now.
		l.Nudge = d.render(prompts.Nudge, &prompts.Data{Tools: d.tools().Names()})
	}
	l.Hooks.Repeated = func(ctx context.Context, call *model.ToolCall, n int) { d.onRepeated(ctx, call, n, l.Steps()) }
	l.Window = d.window(true)
	l.PinNote = func(string) bool { return d.notePinned }
	l.Hooks.Compacted = d.compacted(model.PurposeTurn)
	return l.Run(ctx)
}

// tools are the tools offered for the next turn: while the goal is offered,
// the three acts of an offer, and the action tools and delegate deferred so
// that a first move may follow accept_goal in its turn and run once the
// acceptance is judged aligned; the working set after.
func (d *delegation) tools() *agents.Toolset {
	if d.state.Load() == stateOffered {
		return d.offerTS
	}
	return d.workTS
}

// turnMetadata describes a turn of the delegate's own conversation: one
// value per phase, made once (a request's metadata is not modified).
func (d *delegation) turnMetadata() *model.Metadata {
	phase, i := model.PhaseOffered, 0
	if d.state.Load() != stateOffered {
		phase, i = model.PhaseWorking, 1
	}
	if d.turnMD[i] == nil {
		md := goalMetadata(model.PurposeTurn, d.m.name, d.id, d.goal)
		md.Tools, md.Phase = d.effective, phase
		d.turnMD[i] = &md
	}
	return d.turnMD[i]
}

// goalMetadata is a request's metadata about goal g (nil: none), asked of
// agent in delegation id.
func goalMetadata(purpose model.Purpose, agent, id string, g *agents.Goal) model.Metadata {
	md := model.Metadata{Purpose: purpose, Agent: agent, Delegation: id}
	if g != nil {
		md.Intent, md.Objective, md.Criteria, md.Constraints = g.Intent, g.Objective, g.Criteria, g.Constraints
	}
	return md
}

func (d *delegation) beforeTurn(ctx context.Context) (string, error) {
	d.misalignedTurn.Store(false)
	if err := d.meter.step(); err != nil {
		return "", err
	}
	if err := d.meter.tokensLeft(); err != nil {
		return "", err
	}
	d.answerWaiting(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.out.Steps++
	var note string
	d.notePinned = len(d.notes) > 0 // answers to a stall, a delegate's escalations
	if len(d.notes) > 0 {
		note = strings.Join(d.notes, "\n")
		d.notes = nil
	}
	if every := d.sup.ProgressEvery; every > 0 && d.state.Load() == stateWorking {
		d.sinceProgress++
		switch d.sinceProgress {
		case every:
			note = strings.TrimSpace(note + "\nReport your progress with report_progress.")
		case 2 * every:
			d.run.emit(ctx, &Event{Type: EventSupervisionIntervened, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(),
				Intervention: &Intervention{Action: ActionStalled, Reason: fmt.Sprintf("no progress reported in %d steps", d.sinceProgress)}})
			note = strings.TrimSpace(note + "\nYou have not reported progress for " + strconv.Itoa(d.sinceProgress) +
				" steps. Report progress now, or escalate if you are blocked.")
		}
	}
	return note, nil
}

func (d *delegation) charge(u model.Usage) error {
	d.mu.Lock()
	d.out.Usage = d.out.Usage.Add(u)
	d.mu.Unlock()
	return d.meter.charge(u)
}

func (d *delegation) addNote(s string) {
	d.mu.Lock()
	d.notes = append(d.notes, s)
	d.mu.Unlock()
}

// addChild records a delegation d made (or one it replaced by
// reassignment) once it has ended, in the order of creation, as Fold orders
// them: concurrent delegations end in any order.
func (d *delegation) addChild(o *Outcome) {
	d.mu.Lock()
	d.out.Children = insertChild(d.out.Children, o)
	d.mu.Unlock()
}

// refused records a call the loop refused: a tool not offered now, or none.
func (d *delegation) refused(ctx context.Context, call *model.ToolCall, reason string) {
	kind := ViolationUnknownTool
	if call != nil {
		d.run.ev.addCall(d, call, agents.KindUnknown, &agents.Result{IsError: true})
		if agents.IsProtocolTool(call.Name) || d.rt.known[call.Name] {
			kind = ViolationNotAllowed
		}
	}
	d.violation(ctx, kind, call, reason)
}

// violation records a protocol violation of this delegation's agent; call is
// the refused call, when there is one.
func (d *delegation) violation(ctx context.Context, kind ViolationKind, call *model.ToolCall, reason string) {
	e := &Event{Type: EventProtocolViolation, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Violation: kind, Reason: reason}
	if call != nil {
		e.Tool, e.CallID, e.Arguments = call.Name, call.ID, journalArgs(call.Arguments)
	}
	d.recordViolation(ctx, e)
}

// delegatorFailed records that this delegation's agent, asked as a delegator
// for purpose (a judgement, an answer, a verification), gave nothing usable.
func (d *delegation) delegatorFailed(ctx context.Context, purpose model.Purpose, reason string) {
	d.recordViolation(ctx, &Event{Type: EventProtocolViolation, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name,
		Violation: ViolationDelegatorFailed, Purpose: purpose, Reason: reason})
}

func (d *delegation) recordViolation(ctx context.Context, e *Event) {
	d.mu.Lock()
	d.out.Violations++
	d.mu.Unlock()
	d.run.emit(ctx, e)
}

// onRepeated records a stall and puts it to the delegator, whose answer
// reaches the delegate before its next turn.
func (d *delegation) onRepeated(ctx context.Context, call *model.ToolCall, n, turn int) {
	reason := fmt.Sprintf("%s called %d times in a row with the same arguments", call.Name, n)
	d.run.emit(ctx, &Event{Type: EventSupervisionIntervened, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(),
		Tool: call.Name, Intervention: &Intervention{Action: ActionStalled, Reason: reason}})
	if n != d.rt.limits.RepeatLimit {
		return // escalate once per stall
	}
	d.violation(ctx, ViolationRepeated, call, reason)
	esc := &agents.Escalation{Kind: agents.KindBlocked, Blocking: true, From: d.m.name, Delegation: d.id, Goal: d.goal, Origin: agents.ByRuntime,
		Question:       fmt.Sprintf("The runtime stopped %s: it %s. How should it proceed?", d.m.name, reason),
		Recommendation: "Change approach, or report what is done and what is not."}
	res := d.escalateUp(ctx, esc, EventEscalationRaised, Key{Delegation: d.id, Turn: turn}.String()+"/stalled")
	d.addNote("Your delegator answers the stall: " + formatResolution(res))
}

// finish records the delegation's end: its outcome and its one terminal event.
// The context's own error classifies an error caused by its end whatever
// cause it carries.
func (d *delegation) finish(ctx context.Context, err error) *Outcome {
	ctxErr := ctx.Err()
	d.state.Store(stateDone)
	r := d.run
	d.mu.Lock()
	f := d.final
	d.mu.Unlock()
	if f == nil {
		f = &final{status: StatusFailed, err: err}
		var be *agents.BudgetError
		switch {
		case err == nil:
			f.cause, f.reason = CauseIncomplete, "the conversation ended without a protocol act"
		case errors.As(err, &be):
			if be.Kind == agents.BudgetWallTime {
				// The deadline's cause was made before anything ran.
				be = &agents.BudgetError{Kind: be.Kind, Limit: be.Limit, Used: r.fx.Now().Sub(d.out.Start).Milliseconds()}
			}
			f.cause, f.reason = CauseBudget, "budget exceeded: "+string(be.Kind)
			switch be.Kind {
			case agents.BudgetWallTime:
				f.reason += fmt.Sprintf(" (%s of %s)", time.Duration(be.Used)*time.Millisecond, time.Duration(be.Limit)*time.Millisecond)
			case agents.BudgetContext: // said below
			default:
				f.reason += fmt.Sprintf(" (%d of %d)", be.Used, be.Limit)
			}
			if be.Kind == agents.BudgetContext {
				f.reason += fmt.Sprintf(" (what may not be compacted — the contract and the last turn — needs %d tokens, over %s's context budget of %d)",
					be.Used, d.m.name, be.Limit)
			}
			r.emit(ctx, &Event{Type: EventBudgetExceeded, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name,
				Reason: string(be.Kind), Limit: be.Limit, Used: be.Used})
		case errors.Is(err, context.DeadlineExceeded), errors.Is(ctxErr, context.DeadlineExceeded):
			f.cause, f.reason = CauseDeadline, "deadline exceeded"
			if !errors.Is(err, context.DeadlineExceeded) {
				f.reason += ": " + err.Error()
			}
		case errors.Is(err, context.Canceled), ctxErr != nil:
			f.cause, f.reason, f.err = CauseCancelled, "cancelled", errors.Join(ErrCancelled, context.Canceled, err)
			if !errors.Is(err, context.Canceled) {
				f.reason += ": " + err.Error()
			}
		case errors.Is(err, errInternal):
			f.cause, f.reason = CauseInternal, err.Error()
		case errors.Is(err, agents.ErrNoToolCall):
			f.cause, f.reason = CauseNoProtocolCall, "answered in prose instead of a protocol call, past every reminder"
		case errors.Is(err, agents.ErrStalled):
			f.cause, f.reason = CauseStalled, "stalled: kept repeating the same call"
		default:
			f.cause, f.reason = CauseProvider, "model error: "+err.Error()
		}
	}
	d.mu.Lock()
	out := d.out
	out.Status, out.Cause, out.Reason, out.Failure = f.status, f.cause, f.reason, f.err
	out.End = r.fx.Now()
	out.Total = out.Usage
	for _, c := range out.Children {
		out.Total = out.Total.Add(c.Total)
	}
	total := out.Total
	d.mu.Unlock()

	e := &Event{Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Status: out.Status, Cause: out.Cause, Reason: out.Reason, Total: &total}
	switch out.Status {
	case StatusCompleted:
		e.Type = EventGoalCompleted
		e.Reason = ""
		if out.Report != nil {
			e.Result = out.Report.Result
		}
	case StatusDeclined:
		e.Type = EventGoalDeclined
		e.Decline = out.Decline
	default:
		e.Type = EventGoalFailed
		if out.Failure != nil {
			e.Error = out.Failure.Error()
		}
	}
	r.emit(ctx, e)
	return out
}

// setFinal records the terminal act; the first one wins.
func (d *delegation) setFinal(status Status, cause Cause, reason string) {
	d.mu.Lock()
	if d.final == nil {
		d.final = &final{status: status, cause: cause, reason: reason}
	}
	d.mu.Unlock()
}

// phaseTools returns the toolsets of the two phases, built once for each
// shape of delegation an agent takes on (its effective tools, whether it may
// delegate, whether progress is wanted, whether its goal has constraints):
// toolsets are immutable.
func (d *delegation) phaseTools() (offer, work *agents.Toolset) {
	progress := d.sup.ProgressEvery > 0 || d.rt.opts.Supervisor != nil
	key := strings.Join(d.effective, "\x00") + "\x00" + strconv.FormatBool(d.mayDelegate()) + strconv.FormatBool(progress) +
		strconv.FormatBool(len(d.goal.Constraints) > 0)
	if ts, ok := d.m.toolsets.Load(key); ok {
		p := ts.(*[2]*agents.Toolset)
		return p[0], p[1]
	}
	offer, work = d.buildTools()
	d.m.toolsets.Store(key, &[2]*agents.Toolset{offer, work})
	return offer, work
}

// buildTools returns the toolsets of the two phases. Both begin with the
// delegate's effective action tools (gated) and delegate, where it may
// delegate, so that the prefix of the prompt stays the same from one phase
// to the next; the offer adds its three acts, working its protocol tools:
// consult only with peers, report_progress only when supervision asks for
// progress, complete_goal's constraints only when the goal has some.
func (d *delegation) buildTools() (offer, work *agents.Toolset) {
	var tools []agents.Tool
	for _, t := range d.m.gated {
		if slices.Contains(d.effective, t.Def().Name) {
			tools = append(tools, t)
		}
	}
	if d.mayDelegate() {
		tools = append(tools, d.m.delegate)
	}
	p := d.rt.protocol
	working := slices.Clone(tools)
	if d.m.consult != nil {
		working = append(working, d.m.consult)
	}
	working = append(working, p.escalate)
	if d.sup.ProgressEvery > 0 || d.rt.opts.Supervisor != nil {
		working = append(working, p.progress)
	}
	if len(d.goal.Constraints) > 0 {
		working = append(working, p.complete)
	} else {
		working = append(working, p.completeFree)
	}
	offer, err := agents.NewToolset(p.accept, p.decline, p.clarify)
	if err == nil {
		offer, err = offer.Deferring(tools...)
	}
	if err == nil {
		work, err = agents.NewToolset(working...)
	}
	if err != nil {
		panic("orchestrator: " + err.Error()) // names are checked in New
	}
	return offer, work
}

// modelEvent sets the zero e to the model.called event of call k made by
// agent within d: the response in full, as recorded (see recorded), so that
// a resumed run need not call again, or the error, whose text is failed. It
// names the model that answered (member.answering) and its provider.
func modelEvent(e *Event, d *delegation, agent, answered, provider string, purpose model.Purpose, k Key, resp *model.Response, msg *model.Message, raw []int, latency time.Duration, err error, failed string) {
	e.Type, e.Delegation, e.Parent, e.Agent = EventModelCalled, d.id, d.parentID(), agent
	e.Model, e.Provider = answered, provider
	e.Purpose, e.Conversation, e.Turn = purpose, k.Conversation, k.Turn
	e.LatencyMS = float64(latency) / 1e6
	if err != nil {
		e.Error = failed
	} else if resp != nil {
		e.Usage = &resp.Usage
		e.FinishReason = resp.FinishReason
		if resp.Model != e.Model {
			e.ResponseModel = resp.Model
		}
		e.Message, e.RawArguments = msg, raw
	}
}

// recorded is the message of resp as its model.called records it. The
// response is not modified once returned: the event points into it rather
// than copy it. But the loop fills in missing call ids in place, and
// arguments that cannot be stored as they are are kept as a string (their
// indexes in raw): then the event keeps a copy of what the model said.
//
// stored has a bit set for each of the response's first 64 tool calls
// whose arguments can be stored as they are.
func recorded(resp *model.Response) (msg *model.Message, raw []int, stored uint64) {
	if resp == nil {
		return nil, nil, 0
	}
	copied := false
	for i, c := range resp.Message.ToolCalls {
		ok := storable(c.Arguments)
		if ok && i < 64 {
			stored |= 1 << i
		}
		copied = copied || c.ID == "" || !ok
	}
	if !copied {
		return &resp.Message, nil, stored
	}
	m := resp.Message
	m.ToolCalls = slices.Clone(m.ToolCalls)
	for i, c := range m.ToolCalls {
		if !storable(c.Arguments) {
			m.ToolCalls[i].Arguments = journalArgs(c.Arguments)
			raw = append(raw, i)
		}
	}
	return &m, raw, stored
}

// journalArgs keeps a call's arguments as they were written when they can be
// stored as JSON, and as a JSON string when they cannot, so that whatever a
// model wrote is one valid journal line that every reader can read back.
func journalArgs(args json.RawMessage) json.RawMessage {
	if storable(args) {
		return args
	}
	b, _ := json.Marshal(string(args))
	return b
}

// jsonStrings follows valid JSON byte by byte, telling the bytes inside
// its strings from the others.
type jsonStrings struct{ in, escaped bool }

// outside reports whether c, the next byte, is outside every string (a
// string's quotes are inside it).
func (s *jsonStrings) outside(c byte) bool {
	switch {
	case s.escaped:
		s.escaped = false
	case s.in:
		s.escaped = c == '\\'
		s.in = c != '"'
	case c == '"':
		s.in = true
	default:
		return true
	}
	return false
}

// mayDelegate reports whether the delegate may sub-delegate: it has agents to
// delegate to and the depth limit is not reached.
func (d *delegation) mayDelegate() bool {
	return d.m.delegate != nil && d.depth < d.rt.limits.MaxDepth
}
