package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// tool returns a tool named name whose calls return content and stop the
// loop when stop is set.
func tool(t *testing.T, name string, content string, stop bool, runs *atomic.Int64) agents.Tool {
	t.Helper()
	tl, err := agents.DefineTool(agents.ToolSpec{Name: name, Description: name}, func(context.Context, struct{}) (agents.Result, error) {
		runs.Add(1)
		return agents.Result{Content: content, Stop: stop}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestLoopBoundsEachTurn(t *testing.T) {
	var reads, asks, stops atomic.Int64
	big := strings.Repeat("x", 1<<20)
	ts, _ := agents.NewToolset(tool(t, "read", big, false, &reads), tool(t, agents.ToolEscalate, "answered", false, &asks),
		tool(t, "stop", "done", true, &stops))
	var calls []model.ToolCall
	for range 20 {
		calls = append(calls, model.Call("read", nil))
	}
	m := model.NewScripted("m", model.Calls(calls...),
		model.Calls(model.Call(agents.ToolEscalate, nil), model.Call(agents.ToolEscalate, nil), model.Call(agents.ToolEscalate, nil)),
		model.Calls(model.Call("stop", nil)))
	var violations []string
	l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts },
		Hooks: agents.Hooks{Violation: func(_ context.Context, _ *model.ToolCall, reason string) { violations = append(violations, reason) }}}
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if reads.Load() != agents.DefaultMaxCalls || asks.Load() != agents.DefaultMaxAsks {
		t.Errorf("%d reads and %d escalations ran, want %d and %d", reads.Load(), asks.Load(), agents.DefaultMaxCalls, agents.DefaultMaxAsks)
	}
	if len(violations) != 20-agents.DefaultMaxCalls+1 {
		t.Errorf("violations: %q", violations)
	}
	// What the model saw of the first turn's results: each clipped, with a
	// note, and all of them within the turn's bound.
	second := m.Requests()[1]
	total := 0
	for _, msg := range second.Messages {
		if msg.Role != model.RoleTool {
			continue
		}
		total += len(msg.Content)
		if len(msg.Content) > agents.DefaultMaxResult {
			t.Fatalf("a result of %d bytes reached the model", len(msg.Content))
		}
		if strings.HasPrefix(msg.Content, "x") && !strings.Contains(msg.Content, "bytes shown]") {
			t.Fatalf("a clipped result without a note: …%s", msg.Content[len(msg.Content)-80:])
		}
	}
	if total > agents.DefaultMaxTurnResults+20*200 {
		t.Errorf("the turn's results sum to %d bytes", total)
	}
}

// stuck is a tool that ignores its context and returns only when released.
type stuck struct {
	started chan struct{}
	release chan struct{}
}

func (s *stuck) Def() model.ToolDef { return model.ToolDef{Name: "stuck"} }
func (s *stuck) Call(context.Context, json.RawMessage) agents.Result {
	close(s.started)
	<-s.release
	return agents.Result{Content: "finally"}
}

func TestLoopAbandonsAToolAtTheDeadline(t *testing.T) {
	s := &stuck{started: make(chan struct{}), release: make(chan struct{})}
	defer close(s.release)
	ts, _ := agents.NewToolset(s)
	m := model.NewScripted("m", model.Calls(model.Call("stuck", nil)))
	var got agents.Result
	l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts },
		Hooks: agents.Hooks{ToolResult: func(_ context.Context, _ *model.ToolCall, res *agents.Result, _ time.Duration) { got = *res }}}
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		<-s.started
		cancel(errors.New("the run's --timeout"))
	}()
	err := l.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "--timeout") {
		t.Errorf("Run = %v", err)
	}
	if !got.IsError || !strings.Contains(got.Content, "abandoned") {
		t.Errorf("result %+v", got)
	}
}
