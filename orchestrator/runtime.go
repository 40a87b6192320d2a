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
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	allTool []string // every tool of every member, for plan checks

	offerTS  *agents.Toolset
	escalate agents.Tool
	progress agents.Tool
	complete agents.Tool
	judgeTS  *agents.Toolset
	answerTS *agents.Toolset
	verifyTS *agents.Toolset
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
	provider  string
}

// New validates team and returns a runtime for it. opts may be nil.
func New(team Team, opts *Options) (*Runtime, error) {
	rt := &Runtime{team: team, members: map[string]*member{}, known: map[string]bool{}}
	if opts != nil {
		rt.opts = *opts
	}
	rt.limits = rt.opts.Limits.withDefaults()
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
	return rt, nil
}

func (rt *Runtime) validate() error {
	var errs []error
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

// Team returns the team the runtime runs.
func (rt *Runtime) Team() Team { return rt.team }

// Run entrusts goal to the team's lead and returns the outcome of the whole
// delegation tree once every delegation in it has ended. The error is nil
// only when the goal was completed and verified; otherwise it is a
// *GoalError (matching ErrDeclined or ErrFailed), joined with any error a
// Sink returned. The outcome is never nil.
func (rt *Runtime) Run(ctx context.Context, goal agents.Goal) (*Outcome, error) {
	r := &run{rt: rt, id: rt.opts.RunID}
	if r.id == "" {
		r.id = NewRunID(rt.opts.Now())
	}
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
	// The goal's tools narrow what the team grants.
	grant := rt.grants
	if g.Tools != nil {
		grant = intersect(g.Tools, rt.grants)
	}
	r.emit(&Event{Type: EventRunStarted, Agent: rt.lead.name, Goal: &g})
	out := r.entrust(ctx, nil, rt.lead, &g, grant)
	total := out.Total
	r.emit(&Event{Type: EventRunFinished, Agent: rt.lead.name, Status: out.Status, Cause: out.Cause, Reason: out.Reason, Total: &total, Result: resultOf(out)})
	err := out.Error()
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

	mu      sync.Mutex // orders events: seq, time and sinks
	seq     int64
	sinkErr error

	nDeleg, nEsc, nCons atomic.Int64
}

func (r *run) emit(e *Event) {
	r.mu.Lock()
	defer r.mu.Unlock() // a panicking sink must not leave the run locked
	r.seq++
	e.Seq = r.seq
	e.Time = r.rt.opts.Now()
	e.Run = r.id
	for _, s := range r.rt.opts.Sinks {
		if err := s.Emit(e); err != nil && r.sinkErr == nil {
			r.sinkErr = err
		}
	}
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
	return ""
}

// entrust delegates goal to m and, while it is not completed and another
// agent can take it, reassigns it.
func (r *run) entrust(ctx context.Context, parent *delegation, m *member, goal *agents.Goal, grant []string) *Outcome {
	out := r.delegate(ctx, parent, m, goal, grant, "")
	if parent == nil {
		return out
	}
	tried := []string{m.name}
	for range r.rt.limits.MaxReassign {
		if out.Status == StatusCompleted || ctx.Err() != nil || parent.meter.exhausted() {
			break
		}
		next := r.candidate(parent, tried, out)
		if next == nil {
			break
		}
		tried = append(tried, next.name)
		r.emit(&Event{Type: EventGoalReassigned, Delegation: out.Delegation, Parent: parent.id, Agent: next.name,
			Delegator: parent.m.name, Reason: out.Reason})
		parent.addChild(out)
		out = r.delegate(ctx, parent, next, goal, grant, out.Delegation)
	}
	return out
}

// candidate picks the next agent for a goal that failed or was declined: the
// one the decliner suggested if the delegator may use it, else the next of the
// delegator's delegates not yet tried.
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

func (rt *Runtime) supervision(m *member) Supervision {
	s := rt.opts.SupervisionFor(m.name)
	if m.Supervision != nil {
		s = *m.Supervision
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
