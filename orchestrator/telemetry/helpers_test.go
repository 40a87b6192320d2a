package telemetry_test

import (
	"context"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

func call(name string, args any) model.ToolCall { return model.Call(name, args) }

func turn(calls ...model.ToolCall) model.Turn { return model.Calls(calls...) }

var (
	accept   = protocoltest.Accept
	complete = protocoltest.Complete
)

func noteTool(t testing.TB) agents.Tool {
	t.Helper()
	tool, err := agents.NewTool("note", "writes a note", func(ctx context.Context, in struct {
		Text string `json:"text"`
	}) (string, error) {
		return "noted: " + in.Text, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return protocoltest.Declared(tool, agents.KindActs)
}

var structural = &orchestrator.Supervision{Level: "test"}

// The goals of the two-worker team: the lead's, and the sub-goal it
// delegates to each worker.
var (
	leadGoal = agents.Goal{Intent: "ship the release notes", Objective: "write the release notes",
		Criteria: []string{"notes written"}, Constraints: []string{"be brief"}}
	subGoal = agents.Goal{Intent: "cover one area", Objective: "write one section", Criteria: []string{"section written"}}
)

func delegateTo(agent string) model.ToolCall {
	return call(agents.ToolDelegate, agents.DelegateArgs{Agent: agent, Intent: subGoal.Intent,
		Objective: subGoal.Objective, Criteria: subGoal.Criteria})
}

// twoWorkers is a lead that delegates to two workers at once, each of which
// accepts, writes one note and completes; w1 first escalates a question,
// which the lead answers. The workers are supervised structurally.
func twoWorkers(t testing.TB) orchestrator.Team {
	t.Helper()
	lead := model.NewScripted("lead-model",
		turn(accept(leadGoal, "delegate the sections")),
		turn(delegateTo("w1"), delegateTo("w2")),
		turn(call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "the API section"})),
		turn(complete(leadGoal, "notes written", "d2", "d3")),
	)
	worker := func(name string) orchestrator.Member {
		turns := []model.Turn{turn(accept(subGoal, "use note"))}
		if name == "w1" {
			turns = append(turns, turn(call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity,
				Question: "which section?", Options: []string{"API", "CLI"}})))
		}
		turns = append(turns,
			turn(protocoltest.WithID(name+"-note", call("note", map[string]string{"text": name}))),
			turn(complete(subGoal, name+" done", name+"-note")),
		)
		m := model.NewScripted(name+"-model", turns...)
		return orchestrator.Member{Agent: &agents.Agent{Name: name, Role: "writes", Model: m, Tools: []agents.Tool{noteTool(t)}},
			Supervision: structural}
	}
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w1", "w2"}},
		worker("w1"), worker("w2"),
	}}
}

func ofType(events []*orchestrator.Event, typ orchestrator.EventType) []*orchestrator.Event {
	var out []*orchestrator.Event
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
