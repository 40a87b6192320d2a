package orchestrator_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

// call is shorthand for a scripted tool call.
func call(name string, args any) model.ToolCall { return model.Call(name, args) }

func turn(calls ...model.ToolCall) model.Turn { return model.Calls(calls...) }

var (
	accept       = protocoltest.Accept
	complete     = protocoltest.Complete
	delegateTo   = protocoltest.DelegateTo
	ofType       = protocoltest.OfType
	checkJournal = protocoltest.CheckJournal
	withID       = protocoltest.WithID
)

func judge(aligned bool, gaps ...string) model.ToolCall {
	return call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: aligned, Gaps: gaps})
}

func verdict(v agents.Verdict, feedback string) model.ToolCall {
	return call(agents.ToolVerifyReport, agents.Verification{Verdict: v, Feedback: feedback})
}

// recorder is an action tool that counts its runs.
type recorder struct {
	runs  atomic.Int64
	tool  agents.Tool // declared to act when its name says nothing
	plain agents.Tool // declaring nothing
}

func newRecorder(t testing.TB, name string) *recorder {
	t.Helper()
	r := &recorder{}
	tool, err := agents.NewTool(name, "records that it ran", func(ctx context.Context, in struct {
		Text string `json:"text"`
	}) (string, error) {
		r.runs.Add(1)
		return "ok: " + in.Text, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.tool, r.plain = tool, tool
	if agents.KindFromName(name) == agents.KindUnknown {
		r.tool = acts(tool) // note, act, draft: it records something
	}
	return r
}

// acts is t declared as a tool with effects (agents.KindActs), as a test's
// note or fetch tool that the runtime could not place by its name.
func acts(t agents.Tool) agents.Tool { return protocoltest.Declared(t, agents.KindActs) }

var structural = &orchestrator.Supervision{Level: "test"}

func newRuntime(t testing.TB, team orchestrator.Team, opts *orchestrator.Options) (*orchestrator.Runtime, *orchestrator.Memory) {
	t.Helper()
	mem := &orchestrator.Memory{}
	if opts == nil {
		opts = &orchestrator.Options{}
	}
	opts.Sinks = append(opts.Sinks, mem)
	rt, err := orchestrator.New(team, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rt, mem
}

func types(events []*orchestrator.Event) string {
	var b strings.Builder
	for _, e := range events {
		if e.Type == orchestrator.EventModelCalled {
			continue
		}
		b.WriteString(string(e.Type))
		if e.Tool != "" {
			b.WriteString("(" + e.Tool + ")")
		}
		b.WriteString(" ")
	}
	return b.String()
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// actionBeforeAlignment returns the breaches of invariant 1: action tools
// called before an aligned acceptance and not refused.
func actionBeforeAlignment(events []*orchestrator.Event) []invariant.Violation {
	return invariant.Run(invariant.AlignedBeforeAction, events)
}

func lastToolMessage(req *model.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == model.RoleTool {
			return req.Messages[i].Content
		}
	}
	return ""
}

func solo(m model.Model, tools ...agents.Tool) orchestrator.Team {
	return orchestrator.Team{Lead: "solo", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "solo", Role: "does things", Model: m, Tools: tools}},
	}}
}

// writer is t declared as a writer of the file its path names
// (agents.KindWritesFiles), which no name makes a tool.
func writer(t agents.Tool) agents.Tool { return protocoltest.Declared(t, agents.KindWritesFiles) }
