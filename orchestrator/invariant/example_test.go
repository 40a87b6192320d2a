package invariant_test

import (
	"fmt"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

// A journal cut off after its delegation was offered breaks invariant 4:
// the delegation never ends, and the run never finishes.
func ExampleCheckJournal() {
	events := []*orchestrator.Event{
		{Seq: 1, Run: "r1", Type: orchestrator.EventRunStarted, Agent: "lead"},
		{Seq: 2, Run: "r1", Type: orchestrator.EventGoalOffered, Delegation: "d1", Agent: "lead", Delegator: "user"},
	}
	for _, v := range invariant.CheckJournal(events) {
		fmt.Println(v)
	}
	// Output:
	// invariant 4 (one_terminal): d1 never ends
	// invariant 4 (one_terminal): 0 run.finished events, want 1
}
