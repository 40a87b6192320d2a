package sim_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/prompts"
)

// The simulator answers an offered goal by accepting it in its own words.
func ExampleNew() {
	g := agents.Goal{Intent: "Help newcomers find their way", Objective: "Write a short guide",
		Criteria: []string{"It explains the build"}, Constraints: []string{"No secrets"}}
	d := &prompts.Data{Agent: "writer", Role: "Writes docs.", Goal: &g, Tools: []string{"write_file"}}
	system, _ := prompts.Default().Render(prompts.DelegateSystem, d)
	offer, _ := prompts.Default().Render(prompts.Offer, d)
	accept, _ := agents.DefineTool(agents.ToolSpec{Name: agents.ToolAcceptGoal},
		func(context.Context, agents.Acceptance) (agents.Result, error) { return agents.Result{}, nil })

	m := sim.New("writer", nil)
	resp, err := m.Generate(context.Background(), &model.Request{
		Messages: []model.Message{{Role: model.RoleSystem, Content: system}, {Role: model.RoleUser, Content: offer}},
		Tools:    []model.ToolDef{accept.Def()},
	})
	if err != nil {
		panic(err)
	}
	call := resp.Message.ToolCalls[0]
	var a agents.Acceptance
	_ = json.Unmarshal(call.Arguments, &a)
	fmt.Println(call.Name)
	fmt.Println(a.RestatedIntent)
	fmt.Println(a.AcknowledgedCriteria[0])
	fmt.Println(a.AcknowledgedConstraints[0])
	// Output:
	// accept_goal
	// As I understand it, the purpose turns on help, newcomers and find; I will serve it with write, short and guide.
	// I will make sure that it explains the build, and my report will show the evidence.
	// I will respect it: no secrets.
}

func ExampleDescribe() {
	for _, p := range sim.Personas()[:3] {
		fmt.Printf("%s: %s\n", p, sim.Describe(p))
	}
	// Output:
	// eager: calls an action tool before its acceptance is judged aligned, then behaves
	// yes-man: never declines: accepts even a goal marked impossible
	// drifter: restates an intent with no word in common with the goal's, until told it is misaligned
}
