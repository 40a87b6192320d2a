package agents_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

type noteArgs struct {
	Text string `json:"text"`
}

// benchCalls are distinct calls of note, built up front.
func benchCalls(n int) []model.ToolCall {
	calls := make([]model.ToolCall, n)
	for i := range calls {
		calls[i] = model.Call("note", noteArgs{Text: strconv.Itoa(i)})
		calls[i].ID = "c" + strconv.Itoa(i)
	}
	return calls
}

const chunk = 200

// BenchmarkBareLoop is the reference: a hand-written tool loop with no
// validation, no budgets and no events — the floor the Loop is measured
// against.
func BenchmarkBareLoop(b *testing.B) {
	calls := benchCalls(chunk)
	gen := func(_ context.Context, msgs []model.Message) *model.Response {
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{calls[(len(msgs)/2)%chunk]}}}
	}
	note := func(_ context.Context, in noteArgs) (string, error) { return "ok: " + in.Text, nil }
	ctx := context.Background()
	b.ReportAllocs()
	var msgs []model.Message
	for i := 0; b.Loop(); i++ {
		if i%chunk == 0 {
			msgs = nil
		}
		resp := gen(ctx, msgs)
		msgs = append(msgs, resp.Message)
		for _, c := range resp.Message.ToolCalls {
			var in noteArgs
			if err := json.Unmarshal(c.Arguments, &in); err != nil {
				b.Fatal(err)
			}
			out, _ := note(ctx, in)
			msgs = append(msgs, model.Message{Role: model.RoleTool, ToolCallID: c.ID, Content: out})
		}
	}
}

// BenchmarkLoopStep is one step of agents.Loop: a model turn, a call validated
// against the tool's schema, its result — without the orchestrator's events.
func BenchmarkLoopStep(b *testing.B) {
	calls := benchCalls(chunk)
	m := model.ScriptFunc("bench", func(_ context.Context, req *model.Request) (*model.Response, error) {
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{calls[(len(req.Messages)/2)%chunk]}},
			Usage: model.Usage{PromptTokens: 1}}, nil
	})
	m.SetRecording(false)
	note, err := agents.NewTool("note", "notes", func(_ context.Context, in noteArgs) (string, error) { return "ok: " + in.Text, nil })
	if err != nil {
		b.Fatal(err)
	}
	ts, _ := agents.NewToolset(note)
	ctx := context.Background()
	b.ReportAllocs()
	for done := 0; done < b.N; done += chunk {
		l := &agents.Loop{Model: m, Tools: func() *agents.Toolset { return ts }, MaxSteps: min(chunk, b.N-done)}
		if err := l.Run(ctx); err == nil {
			b.Fatal("the loop should stop at its step budget")
		}
	}
}
