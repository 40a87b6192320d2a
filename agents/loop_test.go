package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

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

// A result's Recall puts a short form of its call in the conversation the
// loop keeps; the response, as hooks and journals see it, stays whole.
func TestLoopRecallsAShortForm(t *testing.T) {
	note, _ := agents.NewTool("note", "notes", func(_ context.Context, in struct {
		Text string `json:"text"`
	}) (agents.Result, error) {
		return agents.Result{Content: "noted", Recall: []byte(`{"text":"…"}`)}, nil
	})
	stop, _ := agents.NewTool("stop", "stops", func(context.Context, struct{}) (agents.Result, error) {
		return agents.Result{Content: "stopped", Stop: true}, nil
	})
	ts, _ := agents.NewToolset(note, stop)
	long := `{"text":"` + strings.Repeat("long ", 20) + `"}`
	m := model.NewScripted("m", model.Calls(model.Call("note", long)), model.Calls(model.Call("stop", nil)))
	var first *model.Response
	l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, Hooks: agents.Hooks{
		ModelCalled: func(_ context.Context, _ *model.Request, resp *model.Response, _ time.Duration, _ error) {
			if first == nil {
				first = resp
			}
		}}}
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := string(first.Message.ToolCalls[0].Arguments); got != long {
		t.Fatalf("the response was changed to %s", got)
	}
	if kept := m.Requests()[1].Messages[0].ToolCalls[0].Arguments; string(kept) != `{"text":"…"}` {
		t.Fatalf("the next turn was sent %s, want the short form", kept)
	}
}

// A result sent over a wire (a Temporal worker's tool call) comes back
// without a recall, and a recall of null leaves the call as it was.
func TestLoopRecallOverAWire(t *testing.T) {
	b, err := json.Marshal(agents.Result{Content: "wrote it"})
	if err != nil {
		t.Fatal(err)
	}
	var back agents.Result
	if err := json.Unmarshal(b, &back); err != nil || back.Recall != nil {
		t.Fatalf("%s came back with recall %q (%v)", b, back.Recall, err)
	}
	write, _ := agents.NewTool("write", "writes", func(_ context.Context, in struct {
		Text string `json:"text"`
	}) (agents.Result, error) {
		return agents.Result{Content: "wrote", Recall: json.RawMessage("null")}, nil
	})
	stop, _ := agents.NewTool("stop", "stops", func(context.Context, struct{}) (agents.Result, error) {
		return agents.Result{Content: "stopped", Stop: true}, nil
	})
	ts, _ := agents.NewToolset(write, stop)
	m := model.NewScripted("m", model.Calls(model.Call("write", `{"text":"x"}`)), model.Calls(model.Call("stop", nil)))
	l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }}
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := string(m.Requests()[1].Messages[0].ToolCalls[0].Arguments); got != `{"text":"x"}` {
		t.Fatalf("the call's arguments became %s", got)
	}
}
