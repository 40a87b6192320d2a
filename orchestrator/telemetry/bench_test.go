package telemetry_test

import (
	"context"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// soloModel answers one full delegation, whatever the request: accept, one
// tool call, complete. It reads where the conversation is from the request,
// so one model serves every iteration of a benchmark.
func soloModel(g agents.Goal) *model.Scripted {
	acc, note, done := accept(g, "use note"), protocoltest.WithID("n1", call("note", map[string]string{"text": "hi"})), complete(g, "done", "n1")
	m := model.ScriptFunc("m", func(_ context.Context, req *model.Request) (*model.Response, error) {
		var c model.ToolCall
		switch n := len(req.Messages); {
		case n <= 2:
			c = acc
		case n <= 4:
			c = note
		default:
			c = done
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}},
			Usage: model.Usage{PromptTokens: 100, CompletionTokens: 20}}, nil
	})
	m.SetRecording(false)
	return m
}

// BenchmarkDelegationTracing runs one full delegation (offer, accept, align,
// one tool call, complete, verify) with a scripted model and a Memory sink,
// without and with a Tracer (in-memory exporter, simple span processor).
func BenchmarkDelegationTracing(b *testing.B) {
	g := agents.Goal{Intent: "greet", Objective: "write a greeting", Criteria: []string{"greeting written"}, Constraints: []string{"be brief"}}
	team := orchestrator.Team{Lead: "solo", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "solo", Role: "greets", Model: soloModel(g), Tools: []agents.Tool{noteTool(b)}}},
	}}
	bench := func(b *testing.B, sinks ...orchestrator.Sink) {
		rt, err := orchestrator.New(team, &orchestrator.Options{RunID: "bench", Sinks: sinks})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rt.Run(b.Context(), g); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("off", func(b *testing.B) { bench(b, &orchestrator.Memory{}) })
	b.Run("on", func(b *testing.B) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		defer tp.Shutdown(context.Background())
		// Drop the exported spans after each run so memory stays flat;
		// the export itself is measured.
		reset := orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
			if e.Type == orchestrator.EventRunFinished {
				exp.Reset()
			}
			return nil
		})
		bench(b, &orchestrator.Memory{}, telemetry.NewTracer(tp), reset)
	})
}
