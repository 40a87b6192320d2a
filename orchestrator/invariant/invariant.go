// Package invariant checks a run's journal against the invariants of
// DESIGN.md, one named check per invariant, from the events alone. Every test
// of the runtime, the evals and `run replay` use it, so that "the protocol
// held" means one thing everywhere.
//
// A check reads only what the journal records: what cannot be seen there
// (the runtime's depth and fan-out limits, a tool's effects) is pinned by the
// runtime's own tests instead.
package invariant

import (
	"fmt"
	"slices"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Violation is one breach of an invariant found in a journal.
type Violation struct {
	// Invariant is the invariant's number in DESIGN.md (1 to 8); Check the
	// name of the check that found the breach.
	Invariant int    `json:"invariant"`
	Check     string `json:"check"`
	// Seq is the event at fault, 0 when the breach is an absence.
	Seq int64 `json:"seq,omitempty"`
	// Delegation is the delegation concerned, when there is one.
	Delegation string `json:"delegation,omitempty"`
	Detail     string `json:"detail"`
	// owed marks what only a finished run must show: a delegation ended,
	// an escalation resolved, run.finished.
	owed bool
}

// String renders v on one line: "invariant 4 (one_terminal): d2 has 2
// terminal events (seq 17)".
func (v Violation) String() string {
	s := fmt.Sprintf("invariant %d (%s): %s", v.Invariant, v.Check, v.Detail)
	if v.Seq > 0 {
		s += fmt.Sprintf(" (seq %d)", v.Seq)
	}
	return s
}

// Check is one named check of one invariant.
type Check struct {
	// Invariant is the invariant's number in DESIGN.md.
	Invariant int
	// Name identifies the check, as Violation.Check reports it.
	Name string
	// Doc says what the check requires of the journal.
	Doc string
	// Run checks the events and returns what breaches the invariant.
	Run func(events []*orchestrator.Event) []Violation
}

// The names of the checks, in the order of DESIGN.md's invariants.
const (
	AlignedBeforeAction = "aligned_before_action"
	AuthorityNarrows    = "authority_narrows"
	EscalationsResolved = "escalations_resolved"
	OneTerminal         = "one_terminal"
	BudgetsEnforced     = "budgets_enforced"
	JournalComplete     = "journal_complete"
	NoForgedActs        = "no_forged_acts"
	ContextWithinBudget = "context_within_budget"
)

// Checks returns the checks, one per invariant, in DESIGN.md's order.
func Checks() []Check {
	return []Check{
		{1, AlignedBeforeAction, "no action tool is called in a delegation before its acceptance is judged aligned, unless the runtime refused the call", checkAlignedBeforeAction},
		{2, AuthorityNarrows, "a delegation's tools are within its grant, a sub-delegation's grant within its delegator's, depth grows by one, and no action tool outside a delegation's tools runs", checkAuthority},
		{3, EscalationsResolved, "every escalation and clarification is resolved exactly once, and nothing else is", checkEscalations},
		{4, OneTerminal, "every delegation has exactly one terminal event and nothing of it follows; the run finished once, last", checkTerminals},
		{5, BudgetsEnforced, "no delegation's subtree takes more turns than its step budget", checkBudgets},
		{6, JournalComplete, "one run, run.started first, seq 1, 2, 3…, every delegation offered before it acts under a known parent, and the tree rebuilds", checkJournal},
		{7, NoForgedActs, "each judgement answers an acceptance, each verification a report, and a completion follows an accepting verification", checkForgedActs},
		{8, ContextWithinBudget, "no model call follows a compaction that left its conversation over the context budget", checkContext},
	}
}

// CheckJournal runs every check over a run's events and returns the
// violations found, in the order of the checks; nil when every invariant
// holds.
func CheckJournal(events []*orchestrator.Event) []Violation {
	var out []Violation
	for _, c := range Checks() {
		out = append(out, c.Run(events)...)
	}
	return out
}

// CheckUnfinished runs every check over the events of a run that has not
// finished — a journal cut off by a crash, or a run still going — and
// returns the violations found. What only a finished run owes (every
// delegation ended, every escalation resolved, run.finished last) is not
// asked of it; everything its events already say is, as CheckJournal asks.
func CheckUnfinished(events []*orchestrator.Event) []Violation {
	var out []Violation
	for _, v := range CheckJournal(events) {
		if !v.owed {
			out = append(out, v)
		}
	}
	return out
}

// Run runs the check named name over events; it panics on an unknown name,
// a programming error.
func Run(name string, events []*orchestrator.Event) []Violation {
	for _, c := range Checks() {
		if c.Name == name {
			return c.Run(events)
		}
	}
	panic("invariant: no check named " + name)
}

func violation(inv int, check string, e *orchestrator.Event, format string, args ...any) Violation {
	v := Violation{Invariant: inv, Check: check, Detail: fmt.Sprintf(format, args...)}
	if e != nil {
		v.Seq, v.Delegation = e.Seq, e.Delegation
	}
	return v
}

// refusals pairs the action-tool calls the runtime refused inside the tool
// (its second lock) with their calls: a protocol.violation of kind kinds,
// naming the tool, between a tool.called and its tool.result.
type refusals struct {
	kinds   []orchestrator.ViolationKind
	pending map[string][]*orchestrator.Event // open tool.called by delegation
	refused map[*orchestrator.Event]bool
}

func newRefusals(kinds ...orchestrator.ViolationKind) *refusals {
	return &refusals{kinds: kinds, pending: map[string][]*orchestrator.Event{}, refused: map[*orchestrator.Event]bool{}}
}

// see records e; it returns a tool.result's call when the result closes it.
func (r *refusals) see(e *orchestrator.Event) *orchestrator.Event {
	switch e.Type {
	case orchestrator.EventToolCalled:
		r.pending[e.Delegation] = append(r.pending[e.Delegation], e)
	case orchestrator.EventProtocolViolation:
		if !slices.Contains(r.kinds, e.Violation) {
			return nil
		}
		for _, c := range slices.Backward(r.pending[e.Delegation]) {
			if c.Tool == e.Tool {
				r.refused[c] = true
				break
			}
		}
	case orchestrator.EventToolResult:
		calls := r.pending[e.Delegation]
		for i, c := range slices.Backward(calls) {
			if c.CallID == e.CallID && c.Tool == e.Tool {
				r.pending[e.Delegation] = slices.Delete(calls, i, i+1)
				return c
			}
		}
	}
	return nil
}

func checkAlignedBeforeAction(events []*orchestrator.Event) []Violation {
	aligned := map[string]bool{}
	r := newRefusals(orchestrator.ViolationBeforeAcceptance)
	var suspect []*orchestrator.Event
	for _, e := range events {
		r.see(e)
		switch e.Type {
		case orchestrator.EventAlignmentJudged:
			if e.Aligned != nil && *e.Aligned {
				aligned[e.Delegation] = true
			}
		case orchestrator.EventToolCalled:
			if !agents.IsProtocolTool(e.Tool) && !aligned[e.Delegation] {
				suspect = append(suspect, e)
			}
		}
	}
	var out []Violation
	for _, e := range suspect {
		if !r.refused[e] {
			out = append(out, violation(1, AlignedBeforeAction, e, "%s called in %s before an aligned acceptance", e.Tool, e.Delegation))
		}
	}
	return out
}

// offer is what a goal.offered says of a delegation.
type offer struct {
	e *orchestrator.Event
	// grant is what the goal grants; bounded is false at a root whose goal
	// names no tools (the team's grants, which the journal does not list).
	// A sub-delegation's grant is always explicit, empty when absent.
	grant   []string
	bounded bool
}

func offers(events []*orchestrator.Event) map[string]*offer {
	m := map[string]*offer{}
	for _, e := range events {
		if e.Type == orchestrator.EventGoalOffered {
			o := &offer{e: e, bounded: e.Parent != ""}
			if e.Goal != nil {
				o.grant = e.Goal.Tools
				o.bounded = o.bounded || e.Goal.Tools != nil
			}
			m[e.Delegation] = o
		}
	}
	return m
}

func subset(a, b []string) (string, bool) {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return x, false
		}
	}
	return "", true
}

func checkAuthority(events []*orchestrator.Event) []Violation {
	var out []Violation
	of := offers(events)
	for _, e := range events {
		if e.Type != orchestrator.EventGoalOffered {
			continue
		}
		o := of[e.Delegation]
		if o.bounded {
			if t, ok := subset(e.Tools, o.grant); !ok {
				out = append(out, violation(2, AuthorityNarrows, e, "%s holds %s, which its goal does not grant", e.Delegation, t))
			}
		}
		p := of[e.Parent]
		if e.Parent == "" || p == nil {
			continue
		}
		if e.Depth != p.e.Depth+1 {
			out = append(out, violation(2, AuthorityNarrows, e, "%s is at depth %d under %s at depth %d", e.Delegation, e.Depth, e.Parent, p.e.Depth))
		}
		if p.bounded {
			if t, ok := subset(o.grant, p.grant); !ok {
				out = append(out, violation(2, AuthorityNarrows, e, "%s is granted %s, beyond %s's grant", e.Delegation, t, e.Parent))
			}
		}
	}
	r := newRefusals(orchestrator.ViolationBeyondAuthority, orchestrator.ViolationBeforeAcceptance)
	for _, e := range events {
		c := r.see(e)
		if c == nil || agents.IsProtocolTool(c.Tool) || r.refused[c] {
			continue
		}
		if o := of[c.Delegation]; o != nil && !slices.Contains(o.e.Tools, c.Tool) {
			out = append(out, violation(2, AuthorityNarrows, c, "%s ran %s, which it does not hold (it holds %v)", c.Delegation, c.Tool, o.e.Tools))
		}
	}
	return out
}

func checkEscalations(events []*orchestrator.Event) []Violation {
	var out []Violation
	raised := map[string]*orchestrator.Event{}
	resolved := map[string]int{}
	var order []string
	for _, e := range events {
		switch e.Type {
		case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
			if _, dup := raised[e.ID]; dup {
				out = append(out, violation(3, EscalationsResolved, e, "escalation %s raised twice", e.ID))
				continue
			}
			raised[e.ID] = e
			order = append(order, e.ID)
		case orchestrator.EventEscalationResolved:
			if raised[e.ID] == nil {
				out = append(out, violation(3, EscalationsResolved, e, "resolution of %s, which was never raised", e.ID))
				continue
			}
			resolved[e.ID]++
			if resolved[e.ID] > 1 {
				out = append(out, violation(3, EscalationsResolved, e, "escalation %s resolved %d times", e.ID, resolved[e.ID]))
			}
		}
	}
	for _, id := range order {
		if resolved[id] == 0 {
			e := raised[id]
			v := violation(3, EscalationsResolved, e, "escalation %s of %s is never resolved", id, e.Delegation)
			v.owed = true
			out = append(out, v)
		}
	}
	return out
}

func checkTerminals(events []*orchestrator.Event) []Violation {
	var out []Violation
	terminals := map[string]int{}
	ended := map[string]bool{}
	var order []string
	finished := 0
	for _, e := range events {
		switch {
		case e.Type == orchestrator.EventGoalOffered:
			order = append(order, e.Delegation)
		case e.Type.Terminal():
			terminals[e.Delegation]++
			if terminals[e.Delegation] > 1 {
				out = append(out, violation(4, OneTerminal, e, "%s ends a second time (%s)", e.Delegation, e.Type))
			}
			ended[e.Delegation] = true
		case e.Type == orchestrator.EventRunFinished:
			finished++
		case e.Delegation != "" && ended[e.Delegation] && e.Type != orchestrator.EventGoalReassigned:
			out = append(out, violation(4, OneTerminal, e, "%s follows the end of %s", e.Type, e.Delegation))
		}
	}
	for _, id := range order {
		if terminals[id] == 0 {
			out = append(out, Violation{Invariant: 4, Check: OneTerminal, Delegation: id, Detail: id + " never ends", owed: true})
		}
	}
	switch {
	case finished != 1:
		out = append(out, Violation{Invariant: 4, Check: OneTerminal, Detail: fmt.Sprintf("%d run.finished events, want 1", finished), owed: finished == 0})
	case len(events) > 0 && events[len(events)-1].Type != orchestrator.EventRunFinished:
		out = append(out, violation(4, OneTerminal, events[len(events)-1], "run.finished is not the last event"))
	}
	return out
}

func checkBudgets(events []*orchestrator.Event) []Violation {
	var out []Violation
	of := offers(events)
	turns := map[string]int{}
	for _, e := range events {
		if e.Type != orchestrator.EventModelCalled || e.Purpose != model.PurposeTurn {
			continue
		}
		// A turn counts against its delegation and every ancestor's.
		for id := e.Delegation; id != ""; {
			o := of[id]
			if o == nil {
				break
			}
			turns[id]++
			if b := o.e.Budget; b != nil && b.Steps > 0 && turns[id] == b.Steps+1 {
				out = append(out, violation(5, BudgetsEnforced, e, "%s's delegation tree takes turn %d of a %d-step budget", id, turns[id], b.Steps))
			}
			id = o.e.Parent
		}
	}
	return out
}

func checkJournal(events []*orchestrator.Event) []Violation {
	var out []Violation
	if len(events) == 0 {
		return []Violation{{Invariant: 6, Check: JournalComplete, Detail: "the journal is empty"}}
	}
	if events[0].Type != orchestrator.EventRunStarted {
		out = append(out, violation(6, JournalComplete, events[0], "the journal starts with %s, not run.started", events[0].Type))
	}
	run := events[0].Run
	offered := map[string]bool{}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			out = append(out, violation(6, JournalComplete, e, "event %d has seq %d: the journal has a gap or is out of order", i+1, e.Seq))
			break
		}
		if e.Run != run {
			out = append(out, violation(6, JournalComplete, e, "event of run %q in the journal of %q", e.Run, run))
		}
		if e.Type == orchestrator.EventGoalOffered {
			if e.Parent != "" && !offered[e.Parent] {
				out = append(out, violation(6, JournalComplete, e, "%s names unknown parent %q", e.Delegation, e.Parent))
			}
			offered[e.Delegation] = true
			continue
		}
		if e.Delegation != "" && !offered[e.Delegation] {
			out = append(out, violation(6, JournalComplete, e, "%s names %s before it was offered", e.Type, e.Delegation))
		}
	}
	if len(out) == 0 {
		if _, err := orchestrator.Rebuild(events); err != nil {
			// A run cut off before its goal was offered has no tree yet.
			out = append(out, Violation{Invariant: 6, Check: JournalComplete, Detail: err.Error(), owed: len(offered) == 0})
		}
	}
	return out
}

func checkForgedActs(events []*orchestrator.Event) []Violation {
	var out []Violation
	accepted := map[string]int{} // last acceptance round by delegation
	judged := map[string]int{}
	reported := map[string]int{}
	verified := map[string]int{}
	lastVerdict := map[string]agents.Verdict{}
	for _, e := range events {
		id := e.Delegation
		switch e.Type {
		case orchestrator.EventGoalAccepted:
			accepted[id] = e.Round
		case orchestrator.EventAlignmentJudged:
			if accepted[id] == 0 || accepted[id] != e.Round || judged[id] == e.Round {
				out = append(out, violation(7, NoForgedActs, e, "%s's alignment judged for round %d, which no acceptance awaits", id, e.Round))
			}
			judged[id] = e.Round
		case orchestrator.EventGoalReported:
			reported[id] = e.Round
		case orchestrator.EventReportVerified:
			if reported[id] == 0 || reported[id] != e.Round || verified[id] == e.Round {
				out = append(out, violation(7, NoForgedActs, e, "%s's report verified for round %d, which no report awaits", id, e.Round))
			}
			verified[id] = e.Round
			if e.Verification != nil {
				lastVerdict[id] = e.Verification.Verdict
			}
		case orchestrator.EventGoalCompleted:
			if lastVerdict[id] != agents.VerdictAccept {
				out = append(out, violation(7, NoForgedActs, e, "%s completed without an accepting verification", id))
			}
		}
	}
	return out
}

func checkContext(events []*orchestrator.Event) []Violation {
	var out []Violation
	type conv struct {
		delegation string
		purpose    model.Purpose
	}
	over := map[conv]*orchestrator.Event{} // compactions still over budget
	for _, e := range events {
		switch e.Type {
		case orchestrator.EventContextCompacted:
			if c := e.Compaction; c != nil && c.After > c.Budget {
				over[conv{e.Delegation, e.Purpose}] = e
			} else {
				delete(over, conv{e.Delegation, e.Purpose})
			}
		case orchestrator.EventBudgetExceeded:
			if e.BudgetKind() == agents.BudgetContext {
				for k := range over {
					if k.delegation == e.Delegation {
						delete(over, k)
					}
				}
			}
		case orchestrator.EventModelCalled:
			if c := over[conv{e.Delegation, e.Purpose}]; c != nil {
				out = append(out, violation(8, ContextWithinBudget, e, "%s's %s call follows a compaction to %d tokens, over its budget of %d (seq %d)",
					e.Delegation, e.Purpose, c.Compaction.After, c.Compaction.Budget, c.Seq))
				delete(over, conv{e.Delegation, e.Purpose})
			}
		}
	}
	return out
}
