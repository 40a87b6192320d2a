package evals

import (
	"strconv"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Node is one delegation of a trial's delegation tree, rebuilt from the
// journal (goal.offered names each delegation's parent).
type Node struct {
	// Delegation is its id; Agent the delegate; Delegator who entrusted
	// it ("user" at the root); ReassignedFrom the delegation it replaces.
	Delegation     string `json:"delegation"`
	Agent          string `json:"agent"`
	Delegator      string `json:"delegator"`
	ReassignedFrom string `json:"reassigned_from,omitempty"`
	// Objective is the goal's objective.
	Objective string `json:"objective"`
	// Status is the terminal state; "" when the delegation never ended.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Aligned is the last alignment verdict, nil if never judged.
	Aligned *bool `json:"aligned,omitempty"`
	// Rounds counts acceptances, Misaligned those judged misaligned;
	// Revisions counts reports sent back.
	Rounds      int `json:"rounds,omitempty"`
	Misaligned  int `json:"misaligned,omitempty"`
	Revisions   int `json:"revisions,omitempty"`
	Violations  int `json:"violations,omitempty"`
	Escalations int `json:"escalations,omitempty"`
	// Verdict is the last verification's verdict.
	Verdict string `json:"verdict,omitempty"`
	// Tokens are the delegation's own model calls' tokens.
	Tokens int `json:"tokens"`
	// Children are the delegations it made, in the order offered.
	Children []*Node `json:"children,omitempty"`
}

// BuildTree rebuilds the delegation tree of a journal: the root delegation
// with its descendants, in the order they were offered. Events of unknown
// delegations are ignored, so a partial journal still gives a tree; nil when
// no delegation was offered.
func BuildTree(events []*orchestrator.Event) *Node {
	byID := map[string]*Node{}
	var root *Node
	var orphans []*Node
	for _, e := range events {
		if e.Type == orchestrator.EventGoalOffered {
			n := &Node{Delegation: e.Delegation, Agent: e.Agent, Delegator: e.Delegator, ReassignedFrom: e.ReassignedFrom}
			if e.Goal != nil {
				n.Objective = e.Goal.Objective
			}
			byID[e.Delegation] = n
			switch p := byID[e.Parent]; {
			case e.Parent == "" && root == nil:
				root = n
			case p != nil:
				p.Children = append(p.Children, n)
			default:
				orphans = append(orphans, n)
			}
			continue
		}
		n := byID[e.Delegation]
		if n == nil {
			continue
		}
		switch e.Type {
		case orchestrator.EventGoalAccepted:
			n.Rounds++
		case orchestrator.EventAlignmentJudged:
			n.Aligned = e.Aligned
			if e.Aligned != nil && !*e.Aligned {
				n.Misaligned++
			}
		case orchestrator.EventProtocolViolation:
			n.Violations++
		case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
			n.Escalations++
		case orchestrator.EventReportVerified:
			if e.Verification != nil {
				n.Verdict = string(e.Verification.Verdict)
				if e.Verification.Verdict == agents.VerdictRevise {
					n.Revisions++
				}
			}
		case orchestrator.EventModelCalled:
			if e.Usage != nil {
				n.Tokens += e.Usage.Total()
			}
		}
		if e.Type.Terminal() {
			n.Status, n.Reason = string(e.Status), e.Reason
		}
	}
	if root == nil && len(orphans) > 0 {
		root, orphans = orphans[0], orphans[1:]
	}
	if root != nil {
		root.Children = append(root.Children, orphans...)
	}
	return root
}

// Size counts the nodes of the tree.
func (n *Node) Size() int {
	if n == nil {
		return 0
	}
	s := 1
	for _, c := range n.Children {
		s += c.Size()
	}
	return s
}

// Label is a one-line summary of the node, as the text reports show it.
func (n *Node) Label() string {
	s := n.Delegation + " " + n.Agent
	if n.ReassignedFrom != "" {
		s += " (reassigned from " + n.ReassignedFrom + ")"
	}
	st := n.Status
	if st == "" {
		st = "unfinished"
	}
	s += ": " + st
	if n.Misaligned > 0 {
		s += ", " + plural(n.Misaligned, "misaligned acceptance")
	}
	if n.Violations > 0 {
		s += ", " + plural(n.Violations, "violation")
	}
	if n.Revisions > 0 {
		s += ", " + plural(n.Revisions, "revision")
	}
	if n.Escalations > 0 {
		s += ", " + plural(n.Escalations, "escalation")
	}
	return s
}

// plural renders "1 violation", "2 violations".
func plural(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}
