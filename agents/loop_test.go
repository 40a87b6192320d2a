package agents_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

func TestLoopRefusesToolsNotOffered(t *testing.T) {
	other, _ := agents.NewTool("stop", "stops", func(context.Context, struct{}) (agents.Result, error) {
		return agents.Result{Content: "stopped", Stop: true}, nil
	})
	ts, _ := agents.NewToolset(other)
	m := model.NewScripted("m",
		model.Calls(model.Call("greet", map[string]string{"name": "Ada"})), // exists, not offered
		model.Calls(model.Call("fly", nil)),                                // does not exist
		model.Calls(model.Call("stop", nil)))
	var violations []string
	l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, Known: func(n string) bool { return n == "greet" },
		Hooks: agents.Hooks{Violation: func(_ context.Context, c *model.ToolCall, reason string) { violations = append(violations, reason) }}}
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(violations) != 2 || !strings.Contains(violations[0], "not allowed now") || !strings.Contains(violations[1], "unknown tool") {
		t.Fatalf("violations %q", violations)
	}
	if got := l.Messages[1].Content; !strings.Contains(got, "refused") || !strings.Contains(got, "stop") {
		t.Fatalf("refusal %q does not name the tools allowed", got)
	}
}

func TestLoopBudgetsAndProse(t *testing.T) {
	t.Run("steps", func(t *testing.T) {
		m := model.ScriptFunc("m", func(context.Context, *model.Request) (*model.Response, error) {
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{model.Call("greet", map[string]any{"name": "x", "times": 1 + len("x")%3})}}}, nil
		})
		ts, _ := agents.NewToolset(greetTool(t))
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, MaxSteps: 4}
		var be *agents.BudgetError
		if err := l.Run(t.Context()); !errors.As(err, &be) || be.Kind != "steps" || l.Steps() != 4 {
			t.Fatalf("err %v steps %d", err, l.Steps())
		}
	})
	t.Run("tokens", func(t *testing.T) {
		m := model.NewScripted("m", model.Text("a"), model.Text("b"))
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return nil }, Charge: func(u model.Usage) error {
			return &agents.BudgetError{Kind: "tokens", Limit: 1, Used: int64(u.Total())}
		}}
		var be *agents.BudgetError
		if err := l.Run(t.Context()); !errors.As(err, &be) || m.Calls() != 1 {
			t.Fatalf("err %v calls %d", err, m.Calls())
		}
	})
	t.Run("prose is nudged then refused", func(t *testing.T) {
		m := model.NewScripted("m", model.Text("a"), model.Text("b"), model.Text("c"))
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return nil }, MaxNudges: 2, Nudge: "use a tool"}
		if err := l.Run(t.Context()); !errors.Is(err, agents.ErrNoToolCall) || m.Calls() != 3 {
			t.Fatalf("err %v calls %d", err, m.Calls())
		}
		if l.Messages[1].Content != "use a tool" {
			t.Fatalf("nudge %+v", l.Messages[1])
		}
	})
	t.Run("identical turns are a stall", func(t *testing.T) {
		same := model.Calls(model.Call("greet", map[string]string{"name": "Ada"}))
		m := model.NewScripted("m", same, same, same, same, same, same)
		ts, _ := agents.NewToolset(greetTool(t))
		var repeats []int
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, RepeatLimit: 3,
			Hooks: agents.Hooks{Repeated: func(_ context.Context, _ *model.ToolCall, n int) { repeats = append(repeats, n) }}}
		if err := l.Run(t.Context()); !errors.Is(err, agents.ErrStalled) {
			t.Fatalf("err %v", err)
		}
		if len(repeats) != 4 || repeats[0] != 3 {
			t.Fatalf("repeats %v", repeats)
		}
	})
	t.Run("a rejudged act is not a repeat", func(t *testing.T) {
		same := model.Calls(model.Call("greet", map[string]string{"name": "Ada"}))
		m := model.NewScripted("m", same, same, same, same, same, same)
		ts, _ := agents.NewToolset(greetTool(t))
		var repeats []int
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, RepeatLimit: 3, MaxSteps: 6,
			Rejudged: func(name string) bool { return name == "greet" },
			Hooks:    agents.Hooks{Repeated: func(_ context.Context, _ *model.ToolCall, n int) { repeats = append(repeats, n) }}}
		if err := l.Run(t.Context()); errors.Is(err, agents.ErrStalled) || len(repeats) != 0 || m.Calls() != 6 {
			t.Fatalf("err %v repeats %v calls %d", err, repeats, m.Calls())
		}
	})
	t.Run("missing call ids are filled", func(t *testing.T) {
		stop, _ := agents.NewTool("stop", "", func(context.Context, struct{}) (agents.Result, error) { return agents.Result{Stop: true}, nil })
		ts, _ := agents.NewToolset(stop)
		m := model.ScriptFunc("m", func(context.Context, *model.Request) (*model.Response, error) {
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{{Name: "stop", ID: "", Arguments: []byte(`{}`)}}}}, nil
		})
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }}
		if err := l.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if id := l.Messages[0].ToolCalls[0].ID; id == "" || l.Messages[1].ToolCallID != id {
			t.Fatalf("ids %q / %q", id, l.Messages[1].ToolCallID)
		}
	})
}
