package orchestrator_test

import (
	"context"
	"fmt"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A run stopped after its first act (a crash, a kill) is resumed from its
// journal: what was recorded is replayed without calling the model again,
// and the run goes on live from there.
func ExampleRuntime_Resume() {
	goal := agents.Goal{Objective: "say hello", Criteria: []string{"hello is said"}}
	accept := model.Calls(model.Call("accept_goal", agents.Acceptance{
		RestatedIntent: "greet: say hello", Plan: []string{"report"}, AcknowledgedCriteria: []string{"I will say hello"}, AcknowledgedConstraints: []string{},
	}))
	complete := model.Calls(model.Call("complete_goal", agents.Report{
		Result:   "hello",
		Criteria: []agents.CriterionResult{{Criterion: "hello is said", Met: true, Evidence: "the result says it"}},
	}))
	newRuntime := func(m model.Model, sinks ...orchestrator.Sink) *orchestrator.Runtime {
		rt, err := orchestrator.New(orchestrator.Team{Lead: "greeter", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "greeter", Role: "Greets.", Model: m}},
		}}, &orchestrator.Options{Sinks: sinks, SupervisionFor: orchestrator.StructuralOnly})
		if err != nil {
			panic(err)
		}
		return rt
	}

	// The first run: its journal is cut after the acceptance's result, as
	// a kill would leave it.
	journal := &orchestrator.Memory{}
	newRuntime(model.NewScripted("scripted", accept, complete), journal).Run(context.Background(), goal)
	var cut []*orchestrator.Event
	for _, e := range journal.Events() {
		cut = append(cut, e)
		if e.Type == orchestrator.EventToolResult {
			break
		}
	}

	// The resumed run: the model is asked only for the turn not recorded.
	m := model.NewScripted("scripted", complete)
	added := &orchestrator.Memory{}
	out, err := newRuntime(m, added).Resume(context.Background(), cut, nil)
	fmt.Println(out.Status, err, "· model calls:", m.Calls())
	fmt.Println(added.Events()[0].Type, "then", len(added.Events())-1, "new events")
	// Output:
	// completed <nil> · model calls: 1
	// run.resumed then 7 new events
}

// A finished run's journal replayed through the effect seam: the same
// events come back, and the model is not called.
func ExampleRuntime_Replay() {
	goal := agents.Goal{Objective: "say hello", Criteria: []string{"hello is said"}}
	m := model.NewScripted("scripted",
		model.Calls(model.Call("accept_goal", agents.Acceptance{
			RestatedIntent: "greet: say hello", Plan: []string{"report"}, AcknowledgedCriteria: []string{"I will say hello"}, AcknowledgedConstraints: []string{},
		})),
		model.Calls(model.Call("complete_goal", agents.Report{
			Result:   "hello",
			Criteria: []agents.CriterionResult{{Criterion: "hello is said", Met: true, Evidence: "the result says it"}},
		})))
	journal := &orchestrator.Memory{}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "greeter", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "greeter", Role: "Greets.", Model: m}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{journal}, SupervisionFor: orchestrator.StructuralOnly})
	if err != nil {
		panic(err)
	}
	rt.Run(context.Background(), goal)
	calls := m.Calls()

	events, out, err := rt.Replay(context.Background(), journal.Events())
	same := len(events) == len(journal.Events())
	for i, e := range events {
		same = same && e.Type == journal.Events()[i].Type
	}
	fmt.Println(out.Status, err, "· same events:", same, "· model calls:", m.Calls()-calls)
	// Output:
	// completed <nil> · same events: true · model calls: 0
}
