package telemetry_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A Tracer is registered as a sink; here its spans go to an in-memory
// exporter, in the order they end.
func ExampleNewTracer() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	g := agents.Goal{Intent: "greet the team", Objective: "say hello", Criteria: []string{"hello said"}}
	m := model.NewScripted("small-model",
		model.Calls(model.Call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: "greet them", Plan: []string{"say it"},
			AcknowledgedCriteria: []string{"I will say hello"}, AcknowledgedConstraints: []string{}})),
		model.Calls(model.Call(agents.ToolCompleteGoal, agents.Report{Result: "hello",
			Criteria: []agents.CriterionResult{{Criterion: "hello said", Met: true}}})),
	)
	team := orchestrator.Team{Lead: "greeter", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "greeter", Role: "greets", Model: m}},
	}}
	rt, err := orchestrator.New(team, &orchestrator.Options{Sinks: []orchestrator.Sink{telemetry.NewTracer(tp)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := rt.Run(context.Background(), g); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name, s.Parent.IsValid())
	}
	// Output:
	// chat small-model true
	// execute_tool accept_goal true
	// chat small-model true
	// execute_tool complete_goal true
	// invoke_agent greeter true
	// entrust.run false
}

// Each event is one record; below the handler's level an event costs a
// level check.
func ExampleNewLogSink() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable example
			}
			return a
		},
	})
	sink := telemetry.NewLogSink(slog.New(h))
	aligned := true
	for _, e := range []*orchestrator.Event{
		{Seq: 7, Run: "r1", Type: orchestrator.EventAlignmentJudged, Delegation: "d2", Parent: "d1", Agent: "lead", Round: 1, Aligned: &aligned},
		{Seq: 8, Run: "r1", Type: orchestrator.EventToolCalled, Delegation: "d2", Parent: "d1", Agent: "worker", Tool: "search"},
		{Seq: 9, Run: "r1", Type: orchestrator.EventBudgetExceeded, Delegation: "d2", Parent: "d1", Agent: "worker", Reason: "tokens", Limit: 1000, Used: 1042},
	} {
		_ = sink.Emit(context.Background(), e)
	}
	// Output:
	// level=INFO msg=alignment.judged run=r1 seq=7 delegation=d2 parent=d1 agent=lead round=1 aligned=true
	// level=WARN msg=budget.exceeded run=r1 seq=9 delegation=d2 parent=d1 agent=worker limit=1000 used=1042 reason=tokens
}

func ExampleParseLevel() {
	for _, s := range []string{"debug", "Warning", "", "loud"} {
		l, err := telemetry.ParseLevel(s)
		fmt.Println(l, err)
	}
	// Output:
	// DEBUG <nil>
	// WARN <nil>
	// INFO <nil>
	// INFO log level "loud": want debug, info, warn or error
}

// FromEnv is what a command calls once at start: with no OTEL_EXPORTER_OTLP_*
// endpoint in the environment, tracing is off and no sink is registered.
func ExampleFromEnv() {
	ctx := context.Background()
	sink, shutdown, err := telemetry.FromEnv(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer shutdown(ctx)
	var opts orchestrator.Options
	if sink != nil {
		opts.Sinks = append(opts.Sinks, sink)
	}
	_ = opts // orchestrator.New(team, &opts)
}
