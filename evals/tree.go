package evals

import (
	"strconv"

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

// BuildTree derives the delegation tree of a journal from its fold
// (orchestrator.Fold): the root delegation with its descendants, in the order
// they were offered. Events the fold cannot place are ignored and delegations
// whose parent is unknown hang under the root, so a partial journal still
// gives a tree; nil when no delegation was offered.
func BuildTree(events []*orchestrator.Event) *Node {
	var f orchestrator.Fold
	for _, e := range events {
		_ = f.Apply(e) // a partial journal gives what it can
	}
	root, orphans := f.Root(), f.Orphans()
	if root == nil && len(orphans) > 0 {
		root, orphans = orphans[0], orphans[1:]
	}
	if root == nil {
		return nil
	}
	n := nodeOf(root)
	for _, o := range orphans {
		n.Children = append(n.Children, nodeOf(o))
	}
	return n
}

// nodeOf is the report's view of a delegation's outcome and its children's.
func nodeOf(o *orchestrator.Outcome) *Node {
	n := &Node{Delegation: o.Delegation, Agent: o.Agent, Delegator: o.Delegator, ReassignedFrom: o.ReassignedFrom,
		Status: string(o.Status), Reason: o.Reason, Rounds: o.AlignmentRounds, Revisions: o.Revisions,
		Violations: o.Violations, Escalations: len(o.Escalations), Tokens: o.Usage.Total()}
	if o.Goal != nil {
		n.Objective = o.Goal.Objective
	}
	if al := o.Alignment; al != nil {
		aligned := al.Aligned
		n.Aligned = &aligned
		// Every round before the last was misaligned: an aligned one
		// ends the offer.
		n.Misaligned = max(o.AlignmentRounds-1, 0)
		if !aligned {
			n.Misaligned++
		}
	}
	if v := o.Verification; v != nil {
		n.Verdict = string(v.Verdict)
	}
	for _, c := range o.Children {
		n.Children = append(n.Children, nodeOf(c))
	}
	return n
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
