package agents_test

import (
	"context"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// counting returns a tool that counts its runs in ran.
func counting(t *testing.T, name string, ran map[string]int, stop bool) agents.Tool {
	t.Helper()
	tool, err := agents.DefineTool(agents.ToolSpec{Name: name}, func(context.Context, struct{}) (agents.Result, error) {
		ran[name]++
		return agents.Result{Content: "ok", Stop: stop}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

func mustToolset(t *testing.T, tools ...agents.Tool) *agents.Toolset {
	t.Helper()
	ts, err := agents.NewToolset(tools...)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// The tools offered when the model chose its calls govern the whole turn: a
// call that an earlier call of the same turn would unlock is still refused.
func TestLoopAdmitsAgainstTheToolsOfferedForTheTurn(t *testing.T) {
	ran := map[string]int{}
	unlocked := false
	unlock, err := agents.DefineTool(agents.ToolSpec{Name: "unlock"}, func(context.Context, struct{}) (agents.Result, error) {
		unlocked = true
		return agents.Result{Content: "unlocked"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	locked := mustToolset(t, unlock)
	open := mustToolset(t, counting(t, "act", ran, false), counting(t, "done", ran, true))
	m := model.NewScripted("m",
		model.Calls(model.Call("unlock", nil), model.Call("act", nil)), // act chosen while not offered
		model.Calls(model.Call("act", nil)),
		model.Calls(model.Call("done", nil)))
	var violations int
	l := &agents.Loop{
		Model: m, Messages: []model.Message{{Role: model.RoleUser, Content: "go"}},
		Tools: func() *agents.Toolset {
			if unlocked {
				return open
			}
			return locked
		},
		Hooks: agents.Hooks{Violation: func(context.Context, *model.ToolCall, string) { violations++ }},
	}
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ran["act"] != 1 || violations != 1 {
		t.Fatalf("act ran %d times (want 1, in the turn after unlock), %d violations (want 1)", ran["act"], violations)
	}
}
