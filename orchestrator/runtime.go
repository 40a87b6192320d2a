// Package orchestrator is entrust's delegation runtime. It entrusts a goal to
// the lead of a Team and lets it sub-delegate, enforcing the protocol of
// DESIGN.md by code rather than by prompt: no action tool runs before an
// aligned acceptance; authority only narrows; escalations travel up to a
// Principal and their answers come back down; reports are verified before
// they count; budgets, depth and fan-out are bounded; every act is an Event,
// and every delegation ends in exactly one terminal event and an Outcome.
package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// Runtime runs goals on a team. It is immutable once built and safe for
// concurrent use: each Run is a separate run with its own id and events.
type Runtime struct {
	team    Team
	opts    Options
	limits  Limits
	prompts *prompts.Set
	members map[string]*member
	lead    *member
	grants  []string
	known   map[string]bool
	// isKnown reports whether a tool exists at all (Loop.Known), made once.
	isKnown func(name string) bool
	allTool []string // every tool of every member, for plan checks
	// teamHash is the digest of the team that run.started records.
	teamHash string

	protocol *protocolTools
	judgeTS  *agents.Toolset
	answerTS *agents.Toolset
	verifyTS *agents.Toolset
	// verifyBreachTS is verifyTS for a report that breaks a constraint.
	verifyBreachTS *agents.Toolset
	checks         map[string]CheckFunc // the check registry: built-ins and Options.Checks
	// wsDirs are Options.WorkspaceDir's names: as given, and as resolved
	// through symbolic links (workspaceDirs).
	wsDirs []string
}

type member struct {
	Member
	name      string
	gated     []agents.Tool
	toolNames []string
	delegate  agents.Tool
	consult   agents.Tool
	delegates []prompts.Peer
	peers     []prompts.Peer
	// toolsets caches the toolsets of its delegations by shape (see
	// phaseTools).
	toolsets sync.Map
	provider string
}

// New validates team and returns a runtime for it. opts may be nil.
func New(team Team, opts *Options) (*Runtime, error) {
	rt := &Runtime{team: team, members: map[string]*member{}, known: map[string]bool{}}
	if opts != nil {
		rt.opts = *opts
	}
	rt.limits = rt.opts.Limits.withDefaults()
	rt.wsDirs = workspaceDirs(rt.opts.WorkspaceDir)
	rt.checks = builtinChecks()
	for name, fn := range rt.opts.Checks {
		if _, builtin := rt.checks[name]; builtin || fn == nil || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("orchestrator: Options.Checks: %q is a built-in check, empty, or has no function", name)
		}
		rt.checks[name] = fn
	}
	rt.prompts = rt.opts.Prompts
	if rt.prompts == nil {
		rt.prompts = prompts.Default()
	}
	if rt.opts.Principal == nil {
		rt.opts.Principal = AutoPrincipal{}
	}
	if rt.opts.SupervisionFor == nil {
		rt.opts.SupervisionFor = DefaultSupervision
	}
	if rt.opts.Now == nil {
		rt.opts.Now = time.Now
	}
	switch rt.opts.ToolChoice {
	case "", "required", "auto":
	default:
		return nil, fmt.Errorf("orchestrator: ToolChoice %q: want \"required\" or \"auto\"", rt.opts.ToolChoice)
	}
	if err := rt.validate(); err != nil {
		return nil, err
	}
	if err := rt.buildTools(); err != nil {
		return nil, err
	}
	rt.teamHash = hashTeam(&rt.team)
	return rt, nil
}

func (rt *Runtime) validate() error {
	var errs []error
	if rt.limits.MaxReassign < 0 {
		errs = append(errs, fmt.Errorf("Limits.MaxReassign %d: want 0 (no reassignment) or more", rt.limits.MaxReassign))
	}
	if len(rt.team.Members) == 0 {
		return errors.New("orchestrator: team has no members")
	}
	for i := range rt.team.Members {
		m := &rt.team.Members[i]
		if m.Agent == nil {
			errs = append(errs, fmt.Errorf("member %d: no agent", i))
			continue
		}
		if err := m.Agent.Validate(); err != nil {
			errs = append(errs, err)
		}
		if _, dup := rt.members[m.Agent.Name]; dup {
			errs = append(errs, fmt.Errorf("two members named %q", m.Agent.Name))
		}
		mm := &member{Member: *m, name: m.Agent.Name}
		if m.Agent.Model != nil {
			mm.provider = model.ProviderOf(m.Agent.Model)
		}
		for _, t := range m.Agent.Tools {
			n := t.Def().Name
			mm.toolNames = append(mm.toolNames, n)
			rt.known[n] = true
			if !slices.Contains(rt.allTool, n) {
				rt.allTool = append(rt.allTool, n)
			}
		}
		rt.members[mm.name] = mm
	}
	for _, m := range rt.members {
		for _, t := range m.DelegatesTo {
			if _, ok := rt.members[t]; !ok {
				errs = append(errs, fmt.Errorf("%s delegates to unknown agent %q", m.name, t))
			} else if t == m.name {
				errs = append(errs, fmt.Errorf("%s delegates to itself", m.name))
			}
		}
		for _, t := range m.Consults {
			if _, ok := rt.members[t]; !ok {
				errs = append(errs, fmt.Errorf("%s consults unknown agent %q", m.name, t))
			}
		}
	}
	for _, m := range rt.members {
		for _, c := range m.Checks {
			if why := rt.validSpec(c, nil); why != "" {
				errs = append(errs, fmt.Errorf("%s: %s", m.name, why))
			}
		}
	}
	lead, ok := rt.members[rt.team.Lead]
	if !ok {
		errs = append(errs, fmt.Errorf("lead %q is not a member", rt.team.Lead))
	}
	rt.lead = lead
	if rt.team.Grants == nil {
		rt.grants = slices.Clone(rt.allTool)
	} else {
		for _, g := range rt.team.Grants {
			if !rt.known[g] {
				errs = append(errs, fmt.Errorf("team grants unknown tool %q", g))
			}
		}
		rt.grants = slices.Clone(rt.team.Grants)
	}
	slices.Sort(rt.grants)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("orchestrator: invalid team: %w", err)
	}
	return nil
}

// hashTeam digests what a team is made of: its lead, grants and members'
// names, roles, models, tools, delegates, consultations, budgets and
// supervision.
func hashTeam(t *Team) string {
	type memberDigest struct {
		Name, Role, Model string
		Tools             []string
		DelegatesTo       []string
		Consults          []string
		Budget            agents.Budget
		Supervision       *Supervision
	}
	v := struct {
		Lead    string
		Grants  []string
		Members []memberDigest
	}{Lead: t.Lead, Grants: t.Grants}
	for _, m := range t.Members {
		md := memberDigest{Name: m.Agent.Name, Role: m.Agent.Role, Model: m.Agent.Model.Name(),
			DelegatesTo: m.DelegatesTo, Consults: m.Consults, Budget: m.Budget, Supervision: m.Supervision}
		for _, tl := range m.Agent.Tools {
			md.Tools = append(md.Tools, tl.Def().Name)
		}
		v.Members = append(v.Members, md)
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Team returns the team the runtime runs.
func (rt *Runtime) Team() Team { return rt.team }

// Run entrusts goal to the team's lead and returns the outcome of the whole
// delegation tree once every delegation in it has ended. The error is nil
// only when the goal was completed and verified; otherwise it is a
// *GoalError (matching ErrDeclined or ErrFailed), joined with any error a
// Sink returned. The outcome is never nil.
func (rt *Runtime) Run(ctx context.Context, goal agents.Goal) (*Outcome, error) {
	id := rt.opts.RunID
	if id == "" {
		id = NewRunID(rt.opts.Now())
	}
	r := rt.newRun(id)
	g := goal
	if g.Intent == "" {
		g.Intent = g.Objective
	}
	// Zero fields of the goal's budget inherit the runtime's.
	if g.Budget.Steps == 0 {
		g.Budget.Steps = rt.opts.Budget.Steps
	}
	if g.Budget.Tokens == 0 {
		g.Budget.Tokens = rt.opts.Budget.Tokens
	}
	if g.Budget.WallTime == 0 {
		g.Budget.WallTime = rt.opts.Budget.WallTime
	}
	start := rt.startEvent(ctx, &g)
	r.emit(ctx, &start)
	return r.finishRun(ctx, r.entrust(ctx, nil, rt.lead, &g, rt.rootGrant(&g), siteRoot))
}

// siteRoot is where the root delegation is made.
const siteRoot = "root"

func (rt *Runtime) newRun(id string) *run {
	r := &run{rt: rt, id: id}
	if rt.opts.Effects != nil {
		r.fx = rt.opts.Effects(id)
	} else {
		r.fx = NewLiveEffects(rt.opts.Now)
	}
	for _, s := range rt.opts.Sinks {
		if c, ok := s.(Committer); ok {
			r.committers = append(r.committers, c)
		}
		if _, ok := s.(Borrower); !ok {
			r.keepers = true
		}
	}
	if !r.keepers {
		r.lent = new(Event)
	}
	if len(r.committers) > 0 {
		r.fx = committing{Effects: r.fx, r: r}
	}
	return r
}

// committing are a run's live effects when a sink commits in groups: each
// effect commits the sinks before it is made (see Committer). A resumed
// run's effects replayed from its journal are not made, and commit nothing.
type committing struct {
	Effects
	r *run
}

// Generate commits, then calls through; a failed commit fails the call,
// which is not made.
func (c committing) Generate(ctx context.Context, k Key, m model.Model, req *model.Request) (Generated, error) {
	if err := c.r.commit(); err != nil {
		return Generated{}, err
	}
	return c.Effects.Generate(ctx, k, m, req)
}

// CallTool commits, then calls through; after a failed commit the tool is
// not run and the call's result is the error.
func (c committing) CallTool(ctx context.Context, k Key, t agents.Tool, call *model.ToolCall) Called {
	if err := c.r.commit(); err != nil {
		return Called{Result: agents.Result{Content: "not run: " + err.Error(), IsError: true}}
	}
	return c.Effects.CallTool(ctx, k, t, call)
}

// RecordsCalls answers for the effects it wraps (CallRecorder), so that a
// resumed run hands its calls in flight to effects that know their fate
// whether or not a sink commits.
func (c committing) RecordsCalls() bool { return recordsCalls(c.Effects) }

// Decide commits, then calls through. After a failed commit ask gets a
// cancelled context, as at any cancellation, so that a Principal is not
// asked to decide what the journal does not show, while the runtime's own
// checks still answer.
func (c committing) Decide(ctx context.Context, k Key, ask func(context.Context) (Decision, error)) (Decision, error) {
	if err := c.r.commit(); err != nil {
		ctx, cancel := context.WithCancelCause(ctx)
		cancel(err)
		return c.Effects.Decide(ctx, k, ask)
	}
	return c.Effects.Decide(ctx, k, ask)
}

// ErrJournalWrite is matched by a run's error when a sink that commits in
// groups (a Journal) could not write what it held before an effect: the
// effect was not made, nor any after it (fail closed: write-ahead holds
// or the run ends).
var ErrJournalWrite = errors.New("the journal could not be written before an effect")

// commit writes what the sinks hold back. An error, recorded as an Emit's
// is, is returned, matching ErrJournalWrite, for the effect not to be made;
// once one commit failed every later one fails with it, whatever the sink
// does next, so no model is called and no tool runs again and the run ends.
// (A context the run would cancel costs every step's derived contexts an
// allocation or two; failing each effect costs nothing.)
func (r *run) commit() error {
	r.mu.Lock()
	failed := r.commitErr
	r.mu.Unlock()
	if failed != nil {
		return failed // a journal that lost a group stays behind its run
	}
	var first error
	for _, c := range r.committers {
		if err := c.Commit(); err != nil && first == nil {
			first = fmt.Errorf("%w: %w", ErrJournalWrite, err)
		}
	}
	if first == nil {
		return nil
	}
	r.mu.Lock()
	if r.sinkErr == nil {
		r.sinkErr = first
	}
	r.commitErr = first
	r.mu.Unlock()
	return first
}

// startEvent is the run.started event of a run of g: the goal, the team's
// hash, the caller's configuration and the trace ctx belongs to.
func (rt *Runtime) startEvent(ctx context.Context, g *agents.Goal) Event {
	e := Event{Type: EventRunStarted, Agent: rt.lead.name, Goal: g, TeamHash: rt.teamHash, Config: rt.opts.Config,
		Verifiers: len(g.Verifiers)}
	e.GoalHash = GoalDigest(&e)
	if rt.opts.Traceparent != nil {
		e.Traceparent = rt.opts.Traceparent(ctx)
	}
	return e
}

// rootGrant is what the root delegation of g may use: the goal's tools
// narrow what the team grants.
func (rt *Runtime) rootGrant(g *agents.Goal) []string {
	if g.Tools != nil {
		return intersect(g.Tools, rt.grants)
	}
	return rt.grants
}

// finishRun emits run.finished for the root's outcome and returns the run's
// outcome and error.
func (r *run) finishRun(ctx context.Context, out *Outcome) (*Outcome, error) {
	total := out.Total
	r.emit(ctx, &Event{Type: EventRunFinished, Agent: r.rt.lead.name, Status: out.Status, Cause: out.Cause, Reason: out.Reason, Total: &total, Result: resultOf(out)})
	r.commit()
	err := out.Err()
	r.mu.Lock()
	if r.sinkErr != nil {
		err = errors.Join(err, r.sinkErr)
	}
	r.mu.Unlock()
	return out, err
}

func resultOf(o *Outcome) string {
	if o.Report != nil && o.Status == StatusCompleted {
		return o.Report.Result
	}
	return ""
}

// NewRunID returns a fresh run id: the time and a random suffix, so ids sort
// by time and do not collide.
func NewRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// run is the state of one Run.
type run struct {
	rt *Runtime
	id string
	fx Effects
	// committers are the sinks that commit in groups (see Committer).
	committers []Committer
	// keepers says a sink is not a Borrower: it may keep the events it is
	// given, which are then its own. Else the sinks are lent the run's one
	// event, lent, reused from event to event.
	keepers bool
	lent    *Event
	// replay, when the run is resumed or replayed, holds its journal.
	replay *replay
	// observe, when set, sees every event instead of the sinks (Replay).
	observe func(*Event)

	mu      sync.Mutex // orders events: seq, time and sinks
	seq     int64
	last    time.Time // the latest event's time
	sinkErr error
	// commitErr is the first failed commit's error: every effect after it
	// fails with it (see commit).
	commitErr error

	ev evidence // what the run did, for the reports' citations
}

// emit numbers e, stamps it and sends it to the sinks with ctx, the context
// of the act it records. An event a resumed run emits again, which its
// journal holds, is not sent. emit keeps nothing of e itself: the sinks get
// a copy, of its own when one of them may keep it (see Borrower), so a
// caller's event need not be allocated.
func (r *run) emit(ctx context.Context, e *Event) {
	now := r.clock()
	r.mu.Lock()
	defer r.mu.Unlock() // a panicking sink must not leave the run locked
	if !r.stamp(e, now) {
		return
	}
	p := r.lent
	if r.keeps() {
		p = kept(e)
	} else {
		*p = *e
	}
	r.send(ctx, p)
}

// emitFill emits the event fill sets on a zero Event, as emit does, but
// builds it where the sinks take it: in memory of its own when a sink may
// keep it, else in the run's lent event, under the lock, so fill must be
// quick and call no code of the user's (a model's name, an error's text).
// An agent step's events are emitted so: neither copied nor, when every
// sink borrows, allocated.
func (r *run) emitFill(ctx context.Context, fill func(e *Event)) {
	now := r.clock()
	if r.keeps() {
		e := new(Event)
		fill(e)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.stamp(e, now) {
			r.send(ctx, e)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.lent = Event{}
	fill(r.lent)
	if r.stamp(r.lent, now) {
		r.send(ctx, r.lent)
	}
}

// clock is the time of an event about to be emitted. A live run reads its
// clock before it takes the lock, which orders the events and their sinks;
// a replay's clock is read in event order (stamp).
func (r *run) clock() time.Time {
	if r.replay != nil {
		return time.Time{}
	}
	return r.fx.Now()
}

// keeps reports whether what the events are sent to may keep them: a sink
// that does not borrow, or a replay's observer.
func (r *run) keeps() bool { return r.keepers || r.observe != nil }

// stamp names e's run and gives it its number and time, under r.mu; false
// means it is not to be sent (a resumed run's event its journal holds).
func (r *run) stamp(e *Event, now time.Time) bool {
	e.Run = r.id
	if r.replay != nil {
		if old, ok := r.replay.again(e); ok {
			e.Time = old.Time
			if r.observe == nil {
				e.Seq = old.Seq
				return false
			}
			r.seq++
			e.Seq = r.seq
			return true
		}
	}
	r.seq++
	e.Seq = r.seq
	if now.IsZero() {
		now = r.fx.Now()
	}
	if now.Before(r.last) {
		now = r.last // read before another event took the lock: times never go back
	}
	r.last, e.Time = now, now
	return true
}

// send gives e to the replay's observer or to the sinks, under r.mu.
func (r *run) send(ctx context.Context, e *Event) {
	if r.observe != nil {
		r.observe(e)
		return
	}
	for _, s := range r.rt.opts.Sinks {
		if err := s.Emit(ctx, e); err != nil && r.sinkErr == nil {
			r.sinkErr = err
		}
	}
}

// kept returns a copy of e of its own, for a sink to keep.
func kept(e *Event) *Event {
	c := new(Event)
	*c = *e
	return c
}

// invalidGoal says what makes a user's goal impossible to offer, or "".
func (rt *Runtime) invalidGoal(g *agents.Goal) string {
	if strings.TrimSpace(g.Objective) == "" {
		return "the goal has no objective"
	}
	for _, t := range g.Tools {
		if !slices.Contains(rt.grants, t) {
			return fmt.Sprintf("the goal grants %q, which the team does not grant (it grants %v)", t, rt.grants)
		}
	}
	for _, c := range g.Checks {
		if why := rt.validSpec(c, g); why != "" {
			return why
		}
	}
	return ""
}

// entrust delegates goal to m and, while the delegate declines and another
// agent the delegator may delegate to can take it, reassigns it (at most
// Limits.MaxReassign times), preferring the agent the decliner suggested.
// Only a decline is reassigned: after any other end — a failure, a halt, a
// rejected report, a misalignment, a spent budget — the outcome goes back to
// the delegator's model, which decides. A reassigned attempt draws on what
// is left of the original grant.
func (r *run) entrust(ctx context.Context, parent *delegation, m *member, goal *agents.Goal, grant []string, site string) *Outcome {
	out := r.delegate(ctx, parent, m, goal, grant, "", site)
	if parent == nil {
		return out
	}
	tried := []string{m.name}
	for range r.rt.limits.MaxReassign {
		if out.Status != StatusDeclined || ctx.Err() != nil || parent.meter.exhausted() {
			break
		}
		left, ok := r.leftOf(out.Delegation, goal)
		if !ok {
			break
		}
		next := r.candidate(parent, tried, out)
		if next == nil {
			break
		}
		tried = append(tried, next.name)
		r.emit(ctx, &Event{Type: EventGoalReassigned, Delegation: out.Delegation, Parent: parent.id, Agent: next.name,
			Delegator: parent.m.name, Reason: out.Reason})
		parent.addChild(out)
		out = r.delegate(ctx, parent, next, left, grant, out.Delegation, site+"/reassigned "+strconv.Itoa(len(tried)-1))
	}
	return out
}

// leftOf is goal with the budget of delegation id's grant that is left: a
// reassigned attempt draws on it and never gets a fresh one. ok is false
// when a bound of it is spent.
func (r *run) leftOf(id string, goal *agents.Goal) (*agents.Goal, bool) {
	r.ev.mu.Lock()
	d := r.ev.dels[id]
	r.ev.mu.Unlock()
	if d == nil {
		return nil, false
	}
	g := *goal
	m := d.meter
	if m.maxSteps > 0 {
		if g.Budget.Steps = int(m.maxSteps - m.steps.Load()); g.Budget.Steps <= 0 {
			return nil, false
		}
	}
	if m.maxTokens > 0 {
		if g.Budget.Tokens = int(m.maxTokens - m.tokens.Load()); g.Budget.Tokens <= 0 {
			return nil, false
		}
	}
	if d.wall > 0 {
		if g.Budget.WallTime = d.wall - r.fx.Now().Sub(d.out.Start); g.Budget.WallTime <= 0 {
			return nil, false
		}
	}
	return &g, true
}

// candidate picks the next agent for a declined goal: the one the decliner
// suggested if the delegator may use it, else the next of the delegator's
// delegates not yet tried.
func (r *run) candidate(parent *delegation, tried []string, out *Outcome) *member {
	ok := func(name string) bool {
		return slices.Contains(parent.m.DelegatesTo, name) && !slices.Contains(tried, name)
	}
	if out.Decline != nil && ok(out.Decline.SuggestedAgent) {
		return r.rt.members[out.Decline.SuggestedAgent]
	}
	for _, n := range parent.m.DelegatesTo {
		if ok(n) {
			return r.rt.members[n]
		}
	}
	return nil
}

// supervision is how closely d's delegate is supervised: the member's own
// setting, else SupervisionFor's, which is an effect (trust changes).
func (r *run) supervision(ctx context.Context, id string, m *member) Supervision {
	rt := r.rt
	var s Supervision
	if m.Supervision != nil {
		s = *m.Supervision
	} else {
		dec, _ := r.fx.Decide(ctx, Key{Delegation: id, Conversation: "supervision"}, func(context.Context) (Decision, error) {
			var s Supervision
			if rt.opts.SupervisionForModel != nil {
				s = rt.opts.SupervisionForModel(m.name, ModelID(m.Agent.Model))
			} else {
				s = rt.opts.SupervisionFor(m.name)
			}
			return Decision{Supervision: &s}, nil
		})
		if dec.Supervision != nil {
			s = *dec.Supervision
		}
	}
	if s.MaxRevisions <= 0 {
		s.MaxRevisions = rt.limits.MaxRevisions
	}
	return s
}

// intersect returns the names in a that are also in b, sorted.
func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
