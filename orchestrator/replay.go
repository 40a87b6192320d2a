package orchestrator

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/entrust-dev/entrust/agents/model"
)

// Rebuild reconstructs a run's outcome tree from its journal alone: the
// delegations and who entrusted them to whom, each acceptance, alignment,
// decline, escalation with its resolution, consultation, report and
// verification, every model call's usage, and the terminal states. Children
// are ordered by delegation id (the order they were offered). Reassignments
// appear as siblings naming the delegation they replace.
func Rebuild(events []*Event) (*Outcome, error) {
	if len(events) == 0 {
		return nil, errors.New("rebuild: no events")
	}
	byID := map[string]*Outcome{}
	openEsc := map[string]*Outcome{} // the owner of each open escalation, by id
	var root *Outcome
	get := func(e *Event) (*Outcome, error) {
		o, ok := byID[e.Delegation]
		if !ok {
			return nil, fmt.Errorf("rebuild: event %d (%s) names unknown delegation %q", e.Seq, e.Type, e.Delegation)
		}
		return o, nil
	}
	for _, e := range events {
		if e.Delegation == "" {
			continue
		}
		if e.Type == EventGoalOffered {
			o := &Outcome{Run: e.Run, Delegation: e.Delegation, Parent: e.Parent, Agent: e.Agent, Delegator: e.Delegator,
				Depth: e.Depth, Goal: e.Goal, ReassignedFrom: e.ReassignedFrom, Start: e.Time}
			byID[e.Delegation] = o
			if e.Parent == "" {
				if root == nil {
					root = o
				}
			} else if p, ok := byID[e.Parent]; ok {
				p.Children = append(p.Children, o)
			} else {
				return nil, fmt.Errorf("rebuild: delegation %s names unknown parent %q", e.Delegation, e.Parent)
			}
			continue
		}
		if e.Type == EventGoalReassigned {
			continue // the new delegation's goal.offered carries reassigned_from
		}
		o, err := get(e)
		if err != nil {
			return nil, err
		}
		switch e.Type {
		case EventGoalAccepted:
			o.Acceptance, o.AlignmentRounds = e.Acceptance, e.Round
		case EventAlignmentJudged:
			o.Alignment = e.Alignment
		case EventGoalDeclined:
			o.Decline = e.Decline
		case EventEscalationRaised, EventClarificationAsked:
			if e.Escalation == nil {
				return nil, fmt.Errorf("rebuild: event %d has no escalation", e.Seq)
			}
			o.Escalations = append(o.Escalations, EscalationRecord{Escalation: *e.Escalation})
			openEsc[e.ID] = o
		case EventEscalationResolved:
			owner, ok := openEsc[e.ID]
			if !ok {
				return nil, fmt.Errorf("rebuild: event %d resolves unknown or already resolved escalation %q", e.Seq, e.ID)
			}
			for i := range owner.Escalations {
				if owner.Escalations[i].Escalation.ID == e.ID {
					owner.Escalations[i].Resolution = e.Resolution
				}
			}
			delete(openEsc, e.ID)
		case EventConsultationAnswered:
			if e.Consultation != nil {
				o.Consultations = append(o.Consultations, *e.Consultation)
			}
		case EventGoalReported:
			o.Report = e.Report
		case EventReportVerified:
			o.Verification = e.Verification
			if e.Verification != nil && e.Verification.Verdict == "revise" {
				o.Revisions++
			}
		case EventProtocolViolation:
			o.Violations++
		case EventContextCompacted:
			o.Compactions++
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
	}
	if root == nil {
		return nil, errors.New("rebuild: no root delegation (no goal.offered without a parent)")
	}
	for _, o := range byID {
		slices.SortFunc(o.Children, func(a, b *Outcome) int { return delegationNumber(a.Delegation) - delegationNumber(b.Delegation) })
	}
	return root, nil
}

func delegationNumber(id string) int {
	n, _ := strconv.Atoi(id[min(1, len(id)):])
	return n
}
