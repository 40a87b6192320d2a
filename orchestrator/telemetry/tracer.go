// Package telemetry turns a run's events into OpenTelemetry spans and
// log/slog records. Both are orchestrator.Sinks: tracing and logging cost
// nothing when off because no sink is registered, and the runtime knows
// nothing of either.
//
// A Tracer makes one trace per run, shaped like its delegation tree: a span
// for the run, one per delegation (child of its delegator's delegation span,
// the root delegation under the run span), one per model call (GenAI
// semantic conventions: gen_ai.operation.name "chat", gen_ai.request.model,
// gen_ai.usage.input_tokens…) and one per tool call ("execute_tool"), each
// under the delegation it belongs to. The acts in between (acceptance,
// alignment, escalations, consultations, verification, violations,
// interventions, budgets) are span events on the delegation span. The span
// names are "entrust.run", "invoke_agent <agent>", "chat <model>" and
// "execute_tool <tool>". FromEnv builds a Tracer exporting over OTLP/HTTP
// when the standard OTEL_EXPORTER_* variables ask for it.
//
// NewLogSink writes each event as a log/slog record at a level that says
// what it means; ParseLevel reads the --log-level flag.
package telemetry

import (
	"context"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName is the name of the tracer a Tracer takes from its
// TracerProvider.
const InstrumentationName = "github.com/entrust-dev/entrust/orchestrator/telemetry"

// Attribute keys. The gen_ai.* keys follow the OpenTelemetry GenAI semantic
// conventions; entrust.* keys are this project's own.
const (
	keyOperation     = attribute.Key("gen_ai.operation.name")
	keyAgentName     = attribute.Key("gen_ai.agent.name")
	keyRequestModel  = attribute.Key("gen_ai.request.model")
	keyResponseModel = attribute.Key("gen_ai.response.model")
	keyInputTokens   = attribute.Key("gen_ai.usage.input_tokens")
	keyOutputTokens  = attribute.Key("gen_ai.usage.output_tokens")
	keyCachedTokens  = attribute.Key("gen_ai.usage.cache_read.input_tokens")
	keyFinishReasons = attribute.Key("gen_ai.response.finish_reasons")
	keyToolName      = attribute.Key("gen_ai.tool.name")
	keyToolCallID    = attribute.Key("gen_ai.tool.call.id")
	keyToolType      = attribute.Key("gen_ai.tool.type")
	keyErrorType     = attribute.Key("error.type")

	keyRun            = attribute.Key("entrust.run")
	keyAgent          = attribute.Key("entrust.agent")
	keyPurpose        = attribute.Key("entrust.purpose")
	keyDelegation     = attribute.Key("entrust.delegation")
	keyParent         = attribute.Key("entrust.parent")
	keyDelegator      = attribute.Key("entrust.delegator")
	keyDepth          = attribute.Key("entrust.depth")
	keyTools          = attribute.Key("entrust.tools")
	keyReassignedFrom = attribute.Key("entrust.reassigned_from")
	keyObjective      = attribute.Key("entrust.goal.objective")
	keyBudgetSteps    = attribute.Key("entrust.budget.steps")
	keyBudgetTokens   = attribute.Key("entrust.budget.tokens")
	keyStatus         = attribute.Key("entrust.status")
	keyReason         = attribute.Key("entrust.reason")
	keyTotalInput     = attribute.Key("entrust.total.input_tokens")
	keyTotalOutput    = attribute.Key("entrust.total.output_tokens")
	keyProtocol       = attribute.Key("entrust.protocol_tool")
	keyUnterminated   = attribute.Key("entrust.unterminated")
	keySeq            = attribute.Key("entrust.seq")
)

// maxText bounds the free text copied into an attribute.
const maxText = 512

// Tracer is an orchestrator.Sink that turns events into spans. The runtime
// emits a run's events in order under its lock, so a Tracer keeps the spans
// still open (runs, delegations, tool calls) in maps and ends each at the
// event that ends it, with the event's time; whatever is still open when
// run.finished arrives is ended then, so a cancelled run leaks no span.
// Spans take the events' timestamps, so a replayed journal gives the same
// timings. A Tracer is safe for concurrent use by many runs.
type Tracer struct {
	tracer trace.Tracer

	mu   sync.Mutex
	runs map[string]*runSpans
}

type runSpans struct {
	span  trace.Span
	deleg map[string]trace.Span
	// tools are open tool spans; a stack per key because a provider that
	// omits call ids gets loop-assigned ids that can repeat in one
	// delegation (its own loop and an ask it answers as a delegator).
	tools map[toolKey][]trace.Span
}

type toolKey struct{ delegation, callID, tool string }

// NewTracer returns a Tracer whose spans come from tp; nil uses a no-op
// provider.
func NewTracer(tp trace.TracerProvider) *Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Tracer{
		tracer: tp.Tracer(InstrumentationName),
		runs:   map[string]*runSpans{},
	}
}

// Emit turns e into span starts, ends and events. It never fails. The run's
// span is the child of the span ctx carries at run.started (the caller's
// trace), else of the run.started's traceparent (a replayed journal), else
// the root of a new trace.
func (t *Tracer) Emit(ctx context.Context, e *orchestrator.Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.runs[e.Run]
	if r == nil {
		// A sink attached mid-run, or the run.started itself.
		r = t.startRun(ctx, e)
		if e.Type == orchestrator.EventRunStarted {
			return nil
		}
	}
	switch e.Type {
	case orchestrator.EventRunStarted:
		// Only the first one opens the run.
	case orchestrator.EventGoalOffered:
		t.startDelegation(r, e)
	case orchestrator.EventModelCalled:
		t.modelCall(r, e)
	case orchestrator.EventToolCalled:
		t.toolCalled(r, e)
	case orchestrator.EventToolResult:
		toolResult(r, e)
	case orchestrator.EventGoalCompleted, orchestrator.EventGoalFailed, orchestrator.EventGoalDeclined:
		endDelegation(r, e)
	case orchestrator.EventRunFinished:
		endRun(r, e)
		delete(t.runs, e.Run)
	case orchestrator.EventGoalReassigned:
		// Names the delegation that ended; it belongs to the delegator.
		spanEvent(r.spanOf(e.Parent, ""), e)
	default:
		spanEvent(r.spanOf(e.Delegation, e.Parent), e)
	}
	return nil
}

func (t *Tracer) startRun(ctx context.Context, e *orchestrator.Event) *runSpans {
	attrs := []attribute.KeyValue{keyRun.String(e.Run), keyAgent.String(e.Agent)}
	if e.Type == orchestrator.EventRunStarted && e.Goal != nil {
		attrs = append(attrs, keyObjective.String(clip(e.Goal.Objective)))
	}
	opts := []trace.SpanStartOption{trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...)}
	parent := trace.SpanContextFromContext(ctx)
	if !parent.IsValid() && e.Traceparent != "" {
		parent = trace.SpanContextFromContext(ContextWithTraceparent(context.Background(), e.Traceparent))
	}
	if !parent.IsValid() {
		opts = append(opts, trace.WithNewRoot())
	}
	_, span := t.tracer.Start(trace.ContextWithSpanContext(context.Background(), parent), "entrust.run", opts...)
	r := &runSpans{span: span, deleg: map[string]trace.Span{}, tools: map[toolKey][]trace.Span{}}
	t.runs[e.Run] = r
	return r
}

// spanOf returns the open span of the delegation id, else of parent, else
// the run's.
func (r *runSpans) spanOf(id, parent string) trace.Span {
	if d := r.deleg[id]; d != nil {
		return d
	}
	if d := r.deleg[parent]; d != nil {
		return d
	}
	return r.span
}

// ctxOf is the context to start a child of the delegation id's span in, or
// of the run's.
func (r *runSpans) ctxOf(id string) context.Context {
	if d := r.deleg[id]; d != nil {
		return trace.ContextWithSpan(context.Background(), d)
	}
	return trace.ContextWithSpan(context.Background(), r.span)
}

func (t *Tracer) startDelegation(r *runSpans, e *orchestrator.Event) {
	if old := r.deleg[e.Delegation]; old != nil {
		old.End(trace.WithTimestamp(e.Time)) // never happens: ids are unique in a run
	}
	attrs := []attribute.KeyValue{
		keyOperation.String("invoke_agent"),
		keyAgentName.String(e.Agent),
		keyAgent.String(e.Agent),
		keyDelegation.String(e.Delegation),
		keyDelegator.String(e.Delegator),
		keyDepth.Int(e.Depth),
	}
	if e.Parent != "" {
		attrs = append(attrs, keyParent.String(e.Parent))
	}
	if e.ReassignedFrom != "" {
		attrs = append(attrs, keyReassignedFrom.String(e.ReassignedFrom))
	}
	if e.Tools != nil {
		attrs = append(attrs, keyTools.StringSlice(e.Tools))
	}
	if e.Goal != nil {
		attrs = append(attrs, keyObjective.String(clip(e.Goal.Objective)))
	}
	if b := e.Budget; b != nil {
		if b.Steps > 0 {
			attrs = append(attrs, keyBudgetSteps.Int(b.Steps))
		}
		if b.Tokens > 0 {
			attrs = append(attrs, keyBudgetTokens.Int64(b.Tokens))
		}
	}
	_, span := t.tracer.Start(r.ctxOf(e.Parent), "invoke_agent "+e.Agent,
		trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
	r.deleg[e.Delegation] = span
}

func endDelegation(r *runSpans, e *orchestrator.Event) {
	d := r.deleg[e.Delegation]
	if d == nil {
		return
	}
	delete(r.deleg, e.Delegation)
	d.SetAttributes(keyStatus.String(string(e.Status)))
	if e.Reason != "" {
		d.SetAttributes(keyReason.String(clip(e.Reason)))
	}
	if e.Total != nil {
		d.SetAttributes(keyTotalInput.Int(e.Total.PromptTokens), keyTotalOutput.Int(e.Total.CompletionTokens))
	}
	if e.Type == orchestrator.EventGoalFailed {
		d.SetStatus(codes.Error, e.Reason)
	}
	d.End(trace.WithTimestamp(e.Time))
}

func endRun(r *runSpans, e *orchestrator.Event) {
	// Terminal events always come, so these loops are empty unless the
	// sink joined late; end what is open rather than leak it.
	for k, stack := range r.tools {
		for _, s := range stack {
			s.SetAttributes(keyUnterminated.Bool(true))
			s.End(trace.WithTimestamp(e.Time))
		}
		delete(r.tools, k)
	}
	for id, d := range r.deleg {
		d.SetAttributes(keyUnterminated.Bool(true))
		d.SetStatus(codes.Error, "the run finished before the delegation ended")
		d.End(trace.WithTimestamp(e.Time))
		delete(r.deleg, id)
	}
	r.span.SetAttributes(keyStatus.String(string(e.Status)))
	if e.Total != nil {
		r.span.SetAttributes(keyTotalInput.Int(e.Total.PromptTokens), keyTotalOutput.Int(e.Total.CompletionTokens))
	}
	if e.Status != orchestrator.StatusCompleted {
		if e.Reason != "" {
			r.span.SetAttributes(keyReason.String(clip(e.Reason)))
		}
		r.span.SetStatus(codes.Error, e.Reason)
	}
	r.span.End(trace.WithTimestamp(e.Time))
}

// modelCall makes the span of a finished call: model.called comes after the
// call, with its latency, so the span starts that long before the event.
func (t *Tracer) modelCall(r *runSpans, e *orchestrator.Event) {
	start := e.Time.Add(-time.Duration(e.LatencyMS * float64(time.Millisecond)))
	name := "chat"
	if e.Model != "" {
		name += " " + e.Model
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		keyOperation.String("chat"),
		keyRequestModel.String(e.Model),
		keyAgent.String(e.Agent),
		keyPurpose.String(string(e.Purpose)),
		keyDelegation.String(e.Delegation),
	)
	if e.Error == "" {
		resp := e.ResponseModel
		if resp == "" {
			resp = e.Model
		}
		attrs = append(attrs, keyResponseModel.String(resp))
	}
	if e.Provider != "" {
		attrs = append(attrs, attribute.String("gen_ai.provider.name", e.Provider))
	}
	if u := e.Usage; u != nil {
		attrs = append(attrs, keyInputTokens.Int(u.PromptTokens), keyOutputTokens.Int(u.CompletionTokens))
		if u.CachedTokens > 0 {
			attrs = append(attrs, keyCachedTokens.Int(u.CachedTokens))
		}
	}
	if e.FinishReason != "" {
		attrs = append(attrs, keyFinishReasons.StringSlice([]string{e.FinishReason}))
	}
	_, span := t.tracer.Start(r.ctxOf(e.Delegation), name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	if e.Error != "" {
		span.SetAttributes(keyErrorType.String("_OTHER"))
		span.SetStatus(codes.Error, clip(e.Error))
	}
	span.End(trace.WithTimestamp(e.Time))
}

func (t *Tracer) toolCalled(r *runSpans, e *orchestrator.Event) {
	_, span := t.tracer.Start(r.ctxOf(e.Delegation), "execute_tool "+e.Tool,
		trace.WithTimestamp(e.Time), trace.WithAttributes(
			keyOperation.String("execute_tool"),
			keyToolName.String(e.Tool),
			keyToolCallID.String(e.CallID),
			keyToolType.String("function"),
			keyAgent.String(e.Agent),
			keyDelegation.String(e.Delegation),
			keyProtocol.Bool(agents.IsProtocolTool(e.Tool)),
		))
	k := toolKey{e.Delegation, e.CallID, e.Tool}
	r.tools[k] = append(r.tools[k], span)
}

func toolResult(r *runSpans, e *orchestrator.Event) {
	k := toolKey{e.Delegation, e.CallID, e.Tool}
	stack := r.tools[k]
	if len(stack) == 0 {
		return
	}
	span := stack[len(stack)-1]
	if len(stack) == 1 {
		delete(r.tools, k)
	} else {
		r.tools[k] = stack[:len(stack)-1]
	}
	if e.IsError {
		span.SetAttributes(keyErrorType.String("tool_error"))
		span.SetStatus(codes.Error, clip(e.Result))
	}
	span.End(trace.WithTimestamp(e.Time))
}

// spanEvent records e as an event of span, with the fields that matter for
// its type.
func spanEvent(span trace.Span, e *orchestrator.Event) {
	if !span.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs, keySeq.Int64(e.Seq), keyAgent.String(e.Agent))
	if e.Delegation != "" {
		attrs = append(attrs, keyDelegation.String(e.Delegation))
	}
	if e.Round > 0 {
		attrs = append(attrs, attribute.Int("entrust.round", e.Round))
	}
	if a := e.Acceptance; a != nil {
		attrs = append(attrs, attribute.Float64("entrust.acceptance.confidence", a.Confidence),
			attribute.Int("entrust.acceptance.plan_steps", len(a.Plan)))
	}
	if e.Aligned != nil {
		attrs = append(attrs, attribute.Bool("entrust.aligned", *e.Aligned))
	}
	if al := e.Alignment; al != nil {
		attrs = append(attrs, attribute.String("entrust.judged_by", string(al.By)))
		if len(al.Gaps) > 0 {
			attrs = append(attrs, attribute.StringSlice("entrust.gaps", al.Gaps))
		}
	}
	if e.ID != "" {
		attrs = append(attrs, attribute.String("entrust.id", e.ID))
	}
	if x := e.Escalation; x != nil {
		attrs = append(attrs, attribute.String("entrust.escalation.kind", string(x.Kind)),
			attribute.Bool("entrust.escalation.blocking", x.Blocking),
			attribute.String("entrust.escalation.question", clip(x.Question)))
		if len(x.Via) > 0 {
			attrs = append(attrs, attribute.StringSlice("entrust.escalation.via", x.Via))
		}
	}
	if x := e.Resolution; x != nil {
		attrs = append(attrs, attribute.String("entrust.resolution.by", string(x.By)),
			attribute.Bool("entrust.resolution.refused", x.Refused))
		if x.Decision != "" {
			attrs = append(attrs, attribute.String("entrust.resolution.decision", clip(x.Decision)))
		}
	}
	if c := e.Consultation; c != nil {
		attrs = append(attrs, attribute.String("entrust.consultation.from", c.From),
			attribute.String("entrust.consultation.agent", c.Agent))
	}
	if p := e.Progress; p != nil {
		attrs = append(attrs, attribute.Float64("entrust.progress.percent", p.Percent),
			attribute.Bool("entrust.progress.stalled", p.Stalled))
	}
	if iv := e.Intervention; iv != nil {
		attrs = append(attrs, attribute.String("entrust.intervention.action", string(iv.Action)))
		if iv.Reason != "" {
			attrs = append(attrs, attribute.String("entrust.intervention.reason", clip(iv.Reason)))
		}
	}
	if rep := e.Report; rep != nil {
		attrs = append(attrs, attribute.Float64("entrust.report.confidence", rep.Confidence))
	}
	if v := e.Verification; v != nil {
		attrs = append(attrs, attribute.String("entrust.verdict", string(v.Verdict)),
			attribute.String("entrust.verified_by", string(v.By)))
		if len(v.Unmet) > 0 {
			attrs = append(attrs, attribute.StringSlice("entrust.unmet", v.Unmet))
		}
	}
	if e.Tool != "" {
		attrs = append(attrs, keyToolName.String(e.Tool))
	}
	if e.Violation != "" {
		attrs = append(attrs, attribute.String("entrust.violation", string(e.Violation)))
	}
	if e.Attempt > 0 {
		attrs = append(attrs, attribute.Int("entrust.attempt", e.Attempt),
			attribute.Float64("entrust.wait_ms", e.WaitMS))
	}
	if e.Error != "" {
		attrs = append(attrs, attribute.String("entrust.error", clip(e.Error)))
	}
	if e.Limit != 0 || e.Used != 0 {
		attrs = append(attrs, attribute.Int64("entrust.budget.limit", e.Limit), attribute.Int64("entrust.budget.used", e.Used))
	}
	if e.Reason != "" {
		attrs = append(attrs, keyReason.String(clip(e.Reason)))
	}
	span.AddEvent(string(e.Type), trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
}

// Traceparent returns the W3C traceparent header of the span ctx carries, or
// "" when it carries none. It suits orchestrator.Options.Traceparent, which
// records it on run.started.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c.Get("traceparent")
}

// ContextWithTraceparent returns ctx carrying the remote span context of the
// W3C traceparent tp (from a TRACEPARENT variable, an HTTP header), so that a
// run under it joins the caller's trace. A malformed tp leaves ctx as is.
func ContextWithTraceparent(ctx context.Context, tp string) context.Context {
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}

// clip bounds free text copied into telemetry, cutting on a rune boundary.
func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	n := maxText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
