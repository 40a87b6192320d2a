package orchestrator

import (
	"github.com/entrust-dev/entrust/agents"
)

// Member is an agent in a team, with its place in the delegation graph.
type Member struct {
	Agent *agents.Agent
	// DelegatesTo names the members it may delegate to.
	DelegatesTo []string
	// Consults names the members it may consult.
	Consults []string
	// Budget is the default budget of a delegation to this member, when
	// the delegator names none; still capped by what the delegator has left.
	Budget agents.Budget
	// Supervision, when set, overrides the supervision its trust sets.
	Supervision *Supervision
	// Checks are run on the report of every delegation to this member, as
	// the goal's own are (see agents.CheckSpec).
	Checks []agents.CheckSpec
}

// Team is the roster a runtime runs.
type Team struct {
	// Lead names the member the user's goal is entrusted to.
	Lead    string
	Members []Member
	// Grants names the tools the team grants at the root: the widest
	// authority any delegation can hold. Nil grants every member's tools.
	Grants []string
}
