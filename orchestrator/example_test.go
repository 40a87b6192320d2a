package orchestrator_test

import (
	"context"
	"fmt"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A goal entrusted to one agent on a scripted model: it accepts, restating the
// goal; acts; and reports, citing the call its evidence rests on. The runtime
// checks the citation and verifies the report before it counts.
func ExampleRuntime_Run() {
	goal := agents.Goal{
		Intent:      "welcome a new colleague",
		Objective:   "write a one-line greeting",
		Criteria:    []string{"the greeting names the colleague"},
		Constraints: []string{"one line"},
	}
	// A tool says what its calls may change (Kind), for the runtime to
	// weigh a call cited as evidence: "say" has an effect in the world.
	say, _ := agents.DefineTool(agents.ToolSpec{Name: "say", Description: "says a line", Kind: agents.KindActs},
		func(_ context.Context, in struct {
			Line string `json:"line"`
		}) (agents.Result, error) {
			return agents.Result{Content: "said: " + in.Line}, nil
		})
	m := model.NewScripted("scripted",
		model.Calls(model.Call("accept_goal", agents.Acceptance{
			RestatedIntent:          "make Ada feel welcome",
			Plan:                    []string{"say one line with say"},
			AcknowledgedCriteria:    []string{"I will name Ada"},
			AcknowledgedConstraints: []string{"a single line"},
		})),
		model.Calls(model.ToolCall{ID: "say-1", Name: "say", Arguments: []byte(`{"line":"Welcome, Ada!"}`)}),
		model.Calls(model.Call("complete_goal", agents.Report{
			Result:      "Welcome, Ada!",
			Criteria:    []agents.CriterionResult{{Criterion: "the greeting names the colleague", Met: true, Evidence: "it says Ada", Cites: []string{"say-1"}}},
			Constraints: []agents.ConstraintResult{{Constraint: "one line", Respected: true, Evidence: "a single line"}},
		})),
	)
	rt, err := orchestrator.New(orchestrator.Team{
		Lead:    "greeter",
		Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "greeter", Role: "Greets people.", Model: m, Tools: []agents.Tool{say}}}},
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := rt.Run(context.Background(), goal)
	fmt.Println(out.Status, err)
	fmt.Println(out.Acceptance.RestatedIntent)
	fmt.Println(out.Report.Result, out.Verification.Verdict)
	// Output:
	// completed <nil>
	// make Ada feel welcome
	// Welcome, Ada! accept
}
