package orchestrator

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// Fold turns a run's events into its outcome tree, one event at a time. It
// is the only code that does: Rebuild folds a whole journal, a live view
// folds the events a Sink receives and reads the tree between them, and the
// evals and reports derive their trees from it.
//
// The tree holds, for each delegation, who entrusted it to whom, each
// acceptance, alignment, decline, escalation with its resolution,
// consultation, report and verification, its model calls' usage and steps,
// and its terminal state. Children are ordered by creation (delegation
// number), as the runtime orders them; reassignments appear as siblings
// naming the delegation they replace.
//
// A Fold is not safe for concurrent use. The zero value is ready to use.
type Fold struct {
	root    *Outcome
	byID    map[string]*Outcome
	openEsc map[string]*Outcome // the owner of each open escalation, by id
	orphans []*Outcome
}

// Apply folds e into the tree. An event the tree cannot take (it names a
// delegation or a parent never offered, or resolves an escalation never
// raised) is skipped with an error that names it; the fold goes on, so a
// partial journal still gives the tree it can.
func (f *Fold) Apply(e *Event) error {
	if f.byID == nil {
		f.byID, f.openEsc = map[string]*Outcome{}, map[string]*Outcome{}
	}
	if e.Delegation == "" {
		return nil // run.started, run.finished
	}
	switch e.Type {
	case EventGoalOffered:
		return f.offered(e)
	case EventGoalReassigned:
		return nil // the new delegation's goal.offered carries reassigned_from
	}
	o, ok := f.byID[e.Delegation]
	if !ok {
		return fmt.Errorf("event %d (%s) names unknown delegation %q", e.Seq, e.Type, e.Delegation)
	}
	switch e.Type {
	case EventGoalAccepted:
		o.Acceptance = e.Acceptance
		o.AlignmentRounds++ // as the runtime counts them; e.Round says the same
	case EventAlignmentJudged:
		o.Alignment = e.Alignment
	case EventGoalDeclined:
		o.Decline = e.Decline
	case EventEscalationRaised, EventClarificationAsked:
		if e.Escalation == nil {
			return fmt.Errorf("event %d (%s) has no escalation", e.Seq, e.Type)
		}
		rec := EscalationRecord{Escalation: *e.Escalation}
		rec.Escalation.ID = e.ID // the event's id is the one resolutions name
		o.Escalations = append(o.Escalations, rec)
		f.openEsc[e.ID] = o
	case EventEscalationResolved:
		owner, ok := f.openEsc[e.ID]
		if !ok {
			return fmt.Errorf("event %d resolves unknown or already resolved escalation %q", e.Seq, e.ID)
		}
		for i := range owner.Escalations {
			if owner.Escalations[i].Escalation.ID == e.ID {
				owner.Escalations[i].Resolution = e.Resolution
			}
		}
		delete(f.openEsc, e.ID)
	case EventConsultationAnswered:
		if e.Consultation != nil {
			o.Consultations = append(o.Consultations, *e.Consultation)
		}
	case EventGoalReported:
		o.Report = e.Report
	case EventReportVerified:
		o.Verification = e.Verification
		if e.Verification != nil && e.Verification.Verdict == agents.VerdictRevise {
			o.Revisions++
		}
	case EventProtocolViolation:
		o.Violations++
	case EventModelCalled:
		if e.Usage != nil {
			o.Usage = o.Usage.Add(*e.Usage)
		}
		if e.Purpose == model.PurposeTurn {
			o.Steps++
		}
	}
	if e.Type.Terminal() {
		o.Status, o.Cause, o.Reason, o.End = e.Status, e.Cause, e.Reason, e.Time
		if e.Total != nil {
			o.Total = *e.Total
		}
	}
	return nil
}

func (f *Fold) offered(e *Event) error {
	if _, dup := f.byID[e.Delegation]; dup {
		return fmt.Errorf("event %d offers delegation %s a second time", e.Seq, e.Delegation)
	}
	o := &Outcome{Run: e.Run, Delegation: e.Delegation, Parent: e.Parent, Agent: e.Agent, Delegator: e.Delegator,
		Depth: e.Depth, Goal: e.Goal, ReassignedFrom: e.ReassignedFrom, Start: e.Time}
	f.byID[e.Delegation] = o
	if e.Parent == "" {
		if f.root == nil {
			f.root = o
			return nil
		}
		f.orphans = append(f.orphans, o)
		return fmt.Errorf("event %d offers a second root delegation %s", e.Seq, e.Delegation)
	}
	p, ok := f.byID[e.Parent]
	if !ok {
		f.orphans = append(f.orphans, o)
		return fmt.Errorf("delegation %s names unknown parent %q", e.Delegation, e.Parent)
	}
	p.Children = insertChild(p.Children, o)
	return nil
}

// insertChild adds c to children in creation order.
func insertChild(children []*Outcome, c *Outcome) []*Outcome {
	i, _ := slices.BinarySearchFunc(children, c, byCreation)
	return slices.Insert(children, i, c)
}

// byCreation orders delegations by their number ("d2" before "d10").
func byCreation(a, b *Outcome) int {
	return delegationNumber(a.Delegation) - delegationNumber(b.Delegation)
}

func delegationNumber(id string) int {
	n, _ := strconv.Atoi(id[min(1, len(id)):])
	return n
}

// Root returns the root delegation's outcome; nil before one is offered.
func (f *Fold) Root() *Outcome { return f.root }

// Outcome returns the outcome of delegation id; nil if it was not offered.
func (f *Fold) Outcome(id string) *Outcome { return f.byID[id] }

// Orphans returns the delegations whose parent was never offered, and any
// root offered after the first, in the order they came: what a partial or
// inconsistent journal leaves outside the tree.
func (f *Fold) Orphans() []*Outcome { return slices.Clone(f.orphans) }

// Rebuild reconstructs a run's outcome tree from its journal alone, by
// folding every event (see Fold). An event the tree cannot take is an error,
// as is a journal without a root delegation.
func Rebuild(events []*Event) (*Outcome, error) {
	if len(events) == 0 {
		return nil, errors.New("rebuild: no events")
	}
	var f Fold
	for _, e := range events {
		if err := f.Apply(e); err != nil {
			return nil, fmt.Errorf("rebuild: %w", err)
		}
	}
	if f.root == nil {
		return nil, errors.New("rebuild: no root delegation (no goal.offered without a parent)")
	}
	return f.root, nil
}
