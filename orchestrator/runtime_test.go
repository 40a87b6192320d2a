package orchestrator_test

import (
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

func TestSingleAgentCompletes(t *testing.T) {
	g := agents.Goal{Intent: "greet the team", Objective: "write a greeting", Criteria: []string{"a greeting is written"}, Constraints: []string{"be brief"}}
	rec := newRecorder(t, "note")
	m := model.NewScripted("m",
		turn(accept(g, "use note")),
		turn(withID("n1", call("note", map[string]string{"text": "hello"}))),
		turn(complete(g, "greeted", "n1")),
	)
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "solo", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "solo", Role: "does things", Model: m, Tools: []agents.Tool{rec.tool}}},
	}}, nil)
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if out.Status != orchestrator.StatusCompleted || rec.runs.Load() != 1 {
		t.Fatalf("status %s, runs %d", out.Status, rec.runs.Load())
	}
	checkJournal(t, mem.Events())
	t.Log(types(mem.Events()))
}
