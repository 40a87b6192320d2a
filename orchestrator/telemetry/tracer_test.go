package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// traced runs team on goal with a Tracer exporting to an in-memory exporter,
// and returns the spans and the journal.
func traced(t *testing.T, ctx context.Context, team orchestrator.Team, goal agents.Goal) (tracetest.SpanStubs, []*orchestrator.Event) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(team, &orchestrator.Options{Sinks: []orchestrator.Sink{mem, telemetry.NewTracer(tp)}})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = rt.Run(ctx, goal)
	return exp.GetSpans(), mem.Events()
}

func attr(s tracetest.SpanStub, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func eventNames(s tracetest.SpanStub) []string {
	var names []string
	for _, e := range s.Events {
		names = append(names, e.Name)
	}
	return names
}

// TestSpansFormOneTraceShapedLikeTheDelegationTree drives a lead that
// delegates to two workers and checks that the spans are one trace whose
// delegation spans nest exactly as the journal's delegations do, with every
// model and tool call under the delegation it belongs to.
func TestSpansFormOneTraceShapedLikeTheDelegationTree(t *testing.T) {
	spans, events := traced(t, t.Context(), twoWorkers(t), leadGoal)
	if n := len(ofType(events, orchestrator.EventGoalCompleted)); n != 3 {
		t.Fatalf("%d delegations completed, want 3", n)
	}

	var run tracetest.SpanStub
	deleg := map[string]tracetest.SpanStub{}
	var chats, tools []tracetest.SpanStub
	for _, s := range spans {
		switch {
		case s.Name == "entrust.run":
			run = s
		case strings.HasPrefix(s.Name, "invoke_agent "):
			deleg[attr(s, "entrust.delegation").AsString()] = s
		case strings.HasPrefix(s.Name, "chat "):
			chats = append(chats, s)
		case strings.HasPrefix(s.Name, "execute_tool "):
			tools = append(tools, s)
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
	if !run.SpanContext.IsValid() || run.Parent.IsValid() {
		t.Fatalf("no root run span: %+v", run)
	}
	traceID := run.SpanContext.TraceID()
	for _, s := range spans {
		if s.SpanContext.TraceID() != traceID {
			t.Errorf("span %q is in trace %s, want %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
	}

	// The delegation tree of the journal, span for span.
	offered := ofType(events, orchestrator.EventGoalOffered)
	if len(deleg) != len(offered) || len(offered) != 3 {
		t.Fatalf("%d delegation spans for %d offers, want 3", len(deleg), len(offered))
	}
	for _, e := range offered {
		s, ok := deleg[e.Delegation]
		if !ok {
			t.Fatalf("no span for delegation %s", e.Delegation)
		}
		want := run.SpanContext.SpanID()
		if e.Parent != "" {
			want = deleg[e.Parent].SpanContext.SpanID()
		}
		if s.Parent.SpanID() != want {
			t.Errorf("delegation %s (%s): parent span %s, want %s", e.Delegation, e.Agent, s.Parent.SpanID(), want)
		}
		if s.Name != "invoke_agent "+e.Agent || attr(s, "gen_ai.agent.name").AsString() != e.Agent {
			t.Errorf("delegation %s: span %q, agent %q", e.Delegation, s.Name, attr(s, "gen_ai.agent.name").AsString())
		}
		if !s.StartTime.Equal(e.Time) {
			t.Errorf("delegation %s starts at %v, want the offer's time %v", e.Delegation, s.StartTime, e.Time)
		}
	}
	lead := deleg["d1"]
	if got := strings.Join(eventNames(lead), " "); got != "goal.accepted alignment.judged goal.reported report.verified" {
		t.Errorf("lead span events: %s", got)
	}
	var w1 tracetest.SpanStub
	for _, s := range deleg {
		if s.Name == "invoke_agent w1" {
			w1 = s
		}
	}
	if got := strings.Join(eventNames(w1), " "); got != "goal.accepted alignment.judged escalation.raised escalation.resolved goal.reported report.verified" {
		t.Errorf("w1 span events: %s", got)
	}

	// One chat span per model call, under its delegation, with the GenAI
	// attributes and the call's latency as its duration.
	calls := ofType(events, orchestrator.EventModelCalled)
	if len(chats) != len(calls) {
		t.Fatalf("%d chat spans for %d model calls", len(chats), len(calls))
	}
	answers := 0
	for i, s := range chats {
		d := attr(s, "entrust.delegation").AsString()
		if s.Parent.SpanID() != deleg[d].SpanContext.SpanID() {
			t.Errorf("chat span %d: not under its delegation %s", i, d)
		}
		if attr(s, "gen_ai.operation.name").AsString() != "chat" || attr(s, "gen_ai.request.model").AsString() == "" ||
			attr(s, "gen_ai.usage.input_tokens").AsInt64() <= 0 || attr(s, "gen_ai.usage.output_tokens").AsInt64() <= 0 ||
			len(attr(s, "gen_ai.response.finish_reasons").AsStringSlice()) != 1 {
			t.Errorf("chat span %d: attributes %v", i, s.Attributes)
		}
		// The lead answers w1's escalation in its own delegation.
		p := attr(s, "entrust.purpose").AsString()
		if p == "answer" {
			answers++
		}
		if p == "answer" && (d != "d1" || s.Name != "chat lead-model") {
			t.Errorf("the answer to the escalation is in %s (%s), want the lead's d1", d, s.Name)
		} else if p != "answer" && p != "turn" {
			t.Errorf("chat span %d: purpose %q", i, p)
		}
		if s.SpanKind != trace.SpanKindClient || s.EndTime.Before(s.StartTime) {
			t.Errorf("chat span %d: kind %v, %v..%v", i, s.SpanKind, s.StartTime, s.EndTime)
		}
	}
	if answers != 1 {
		t.Errorf("%d chat spans answer the escalation, want 1", answers)
	}
	var wantIn int64
	for _, e := range calls {
		wantIn += int64(e.Usage.PromptTokens)
	}
	var gotIn int64
	for _, s := range chats {
		gotIn += attr(s, "gen_ai.usage.input_tokens").AsInt64()
	}
	if gotIn != wantIn {
		t.Errorf("input tokens over the chat spans: %d, want %d", gotIn, wantIn)
	}

	// One span per tool call (protocol tools included), under its
	// delegation; the two notes under the two workers.
	if n := len(ofType(events, orchestrator.EventToolCalled)); len(tools) != n {
		t.Errorf("%d tool spans for %d tool calls", len(tools), n)
	}
	notes := map[string]bool{}
	for _, s := range tools {
		d := attr(s, "entrust.delegation").AsString()
		if s.Parent.SpanID() != deleg[d].SpanContext.SpanID() {
			t.Errorf("tool span %q: not under its delegation %s", s.Name, d)
		}
		if attr(s, "gen_ai.tool.call.id").AsString() == "" || attr(s, "gen_ai.tool.name").AsString() != strings.TrimPrefix(s.Name, "execute_tool ") {
			t.Errorf("tool span %q: attributes %v", s.Name, s.Attributes)
		}
		if s.Name == "execute_tool note" {
			notes[deleg[d].Name] = true
		}
	}
	if !notes["invoke_agent w1"] || !notes["invoke_agent w2"] || len(notes) != 2 {
		t.Errorf("note tool spans under %v, want under w1 and w2", notes)
	}
	for _, s := range spans {
		if s.Status.Code == codes.Error {
			t.Errorf("span %q has status error: %s", s.Name, s.Status.Description)
		}
	}
}

// TestCancelledRunEndsEverySpan cancels a run from inside a worker's tool:
// every span still ends, the failed delegations and the run carry an error
// status, and the tool's error is on its span.
func TestCancelledRunEndsEverySpan(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stop, err := agents.NewTool("stop", "stops the world", func(context.Context, struct{}) (string, error) {
		cancel()
		return "", errors.New("the world stopped")
	})
	if err != nil {
		t.Fatal(err)
	}
	lead := model.NewScripted("lead-model", turn(accept(leadGoal)), turn(delegateTo("w1")), turn(complete(leadGoal, "never")))
	w1 := model.NewScripted("w1-model", turn(accept(subGoal, "use stop")), turn(call("stop", nil)), turn(complete(subGoal, "never")))
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w1"}},
		{Agent: &agents.Agent{Name: "w1", Role: "works", Model: w1, Tools: []agents.Tool{stop}}, Supervision: structural},
	}}
	spans, events := traced(t, ctx, team, leadGoal)
	if n := len(ofType(events, orchestrator.EventGoalFailed)); n != 2 {
		t.Fatalf("%d delegations failed, want 2", n)
	}
	// Every span the journal implies was exported, so ended.
	want := 1 + len(ofType(events, orchestrator.EventGoalOffered)) + len(ofType(events, orchestrator.EventModelCalled)) +
		len(ofType(events, orchestrator.EventToolCalled))
	if len(spans) != want {
		t.Fatalf("%d spans ended, want %d", len(spans), want)
	}
	for _, s := range spans {
		switch {
		case s.Name == "entrust.run", strings.HasPrefix(s.Name, "invoke_agent "), s.Name == "execute_tool stop":
			if s.Status.Code != codes.Error {
				t.Errorf("span %q: status %v, want error", s.Name, s.Status)
			}
		}
		if attr(s, "entrust.unterminated").AsBool() {
			t.Errorf("span %q ended by run.finished, not by its own event", s.Name)
		}
	}
}

// TestTracerEndsOpenSpansAtRunFinished feeds a journal whose delegation and
// tool call never end (a sink attached to a broken producer): run.finished
// ends them.
func TestTracerEndsOpenSpansAtRunFinished(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tr := telemetry.NewTracer(tp)
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, e := range []*orchestrator.Event{
		{Type: orchestrator.EventRunStarted, Agent: "lead"},
		{Type: orchestrator.EventGoalOffered, Delegation: "d1", Agent: "lead", Delegator: "user"},
		{Type: orchestrator.EventToolCalled, Delegation: "d1", Agent: "lead", Tool: "note", CallID: "c1"},
		{Type: orchestrator.EventRunFinished, Agent: "lead", Status: orchestrator.StatusFailed, Reason: "crashed"},
	} {
		e.Seq, e.Run, e.Time = int64(i+1), "r1", t0.Add(time.Duration(i)*time.Second)
		if err := tr.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for _, s := range spans {
		if !s.EndTime.Equal(t0.Add(3 * time.Second)) {
			t.Errorf("span %q ends at %v, want run.finished's time", s.Name, s.EndTime)
		}
		if s.Name != "entrust.run" && !attr(s, "entrust.unterminated").AsBool() {
			t.Errorf("span %q not marked unterminated", s.Name)
		}
	}
}

// A run joins the caller's trace: its span is the child of the span the
// Run's context carries, or, replayed, of the traceparent run.started records.
func TestRunJoinsCallersTrace(t *testing.T) {
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	caller := telemetry.ContextWithTraceparent(context.Background(), tp)
	if got := telemetry.Traceparent(caller); got != tp {
		t.Fatalf("Traceparent(ContextWithTraceparent(%q)) = %q", tp, got)
	}
	runSpan := func(t *testing.T, ctx context.Context, e *orchestrator.Event) tracetest.SpanStub {
		exp := tracetest.NewInMemoryExporter()
		tr := telemetry.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp)))
		t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		e.Seq, e.Run, e.Time, e.Type, e.Agent = 1, "r1", t0, orchestrator.EventRunStarted, "lead"
		_ = tr.Emit(ctx, e)
		_ = tr.Emit(ctx, &orchestrator.Event{Seq: 2, Run: "r1", Time: t0, Type: orchestrator.EventRunFinished, Status: orchestrator.StatusCompleted})
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%d spans, want 1", len(spans))
		}
		return spans[0]
	}
	want := trace.SpanContextFromContext(caller)
	for name, s := range map[string]tracetest.SpanStub{
		"from the context":     runSpan(t, caller, &orchestrator.Event{}),
		"from the traceparent": runSpan(t, context.Background(), &orchestrator.Event{Traceparent: tp}),
	} {
		if s.Parent.SpanID() != want.SpanID() || s.SpanContext.TraceID() != want.TraceID() {
			t.Errorf("%s: run span %s/%s has parent %s, want a child of %s/%s", name,
				s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), want.TraceID(), want.SpanID())
		}
	}
	if s := runSpan(t, context.Background(), &orchestrator.Event{}); s.Parent.IsValid() {
		t.Errorf("without a caller's trace the run span has parent %s, want a new root", s.Parent.SpanID())
	}
}
