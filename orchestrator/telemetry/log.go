package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/entrust-dev/entrust/orchestrator"
)

// NewLogSink returns a Sink that writes each event as one slog record, its
// message the event type and its attributes the event's key fields, at a
// level set by what the event means:
//
//   - WARN: protocol.violation, budget.exceeded, goal.failed,
//     supervision.intervened, a model.called that failed, and a run.finished
//     that did not complete;
//   - INFO: the lifecycle (run, offers, acceptances, alignment, declines),
//     escalations, clarifications, consultations, progress, reports,
//     verification, reassignment, retries, completion;
//   - DEBUG: tool.called, tool.result and model.called.
//
// A record carries the event's time, not the time it was logged, so a
// replayed journal logs as it happened. Events below the logger's level cost
// a level check. A nil l uses slog.Default().
func NewLogSink(l *slog.Logger) orchestrator.Sink {
	if l == nil {
		l = slog.Default()
	}
	return logSink{l: l}
}

type logSink struct{ l *slog.Logger }

// Borrows marks the sink as an orchestrator.Borrower: it keeps nothing of
// an event but the values of its record.
func (logSink) Borrows() {}

func (s logSink) Emit(ctx context.Context, e *orchestrator.Event) error {
	lvl := levelOf(e)
	h := s.l.Handler()
	if !h.Enabled(ctx, lvl) {
		return nil
	}
	r := slog.NewRecord(e.Time, lvl, string(e.Type), 0)
	r.AddAttrs(attrsOf(e)...)
	return h.Handle(ctx, r)
}

func levelOf(e *orchestrator.Event) slog.Level {
	switch e.Type {
	case orchestrator.EventProtocolViolation, orchestrator.EventBudgetExceeded, orchestrator.EventGoalFailed,
		orchestrator.EventSupervisionIntervened:
		return slog.LevelWarn
	case orchestrator.EventRunFinished:
		if e.Status != orchestrator.StatusCompleted {
			return slog.LevelWarn
		}
	case orchestrator.EventModelCalled:
		if e.Error != "" {
			return slog.LevelWarn
		}
		return slog.LevelDebug
	case orchestrator.EventToolCalled, orchestrator.EventToolResult:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// attrsOf returns the fields of e that are set, flattened to scalars.
func attrsOf(e *orchestrator.Event) []slog.Attr {
	a := make([]slog.Attr, 0, 12)
	a = append(a, slog.String("run", e.Run), slog.Int64("seq", e.Seq))
	str := func(k, v string) {
		if v != "" {
			a = append(a, slog.String(k, clip(v)))
		}
	}
	str("delegation", e.Delegation)
	str("parent", e.Parent)
	str("agent", e.Agent)
	str("delegator", e.Delegator)
	if e.Depth > 0 {
		a = append(a, slog.Int("depth", e.Depth))
	}
	if e.Goal != nil && (e.Type == orchestrator.EventGoalOffered || e.Type == orchestrator.EventRunStarted) {
		str("objective", e.Goal.Objective)
	}
	if e.Tools != nil {
		a = append(a, slog.Any("tools", e.Tools))
	}
	str("reassigned_from", e.ReassignedFrom)
	if b := e.Budget; b != nil {
		a = append(a, slog.Int("budget_steps", b.Steps), slog.Int64("budget_tokens", b.Tokens))
	}
	if e.Round > 0 {
		a = append(a, slog.Int("round", e.Round))
	}
	if x := e.Acceptance; x != nil {
		a = append(a, slog.Float64("confidence", x.Confidence), slog.Int("plan_steps", len(x.Plan)))
	}
	if e.Aligned != nil {
		a = append(a, slog.Bool("aligned", *e.Aligned))
	}
	if x := e.Alignment; x != nil {
		str("judged_by", string(x.By))
		if len(x.Gaps) > 0 {
			a = append(a, slog.Any("gaps", x.Gaps))
		}
	}
	if x := e.Decline; x != nil {
		str("decline_reason", x.Reason)
		str("suggested_agent", x.SuggestedAgent)
	}
	str("id", e.ID)
	if x := e.Escalation; x != nil {
		a = append(a, slog.String("kind", string(x.Kind)), slog.Bool("blocking", x.Blocking))
		str("question", x.Question)
	}
	if x := e.Resolution; x != nil {
		a = append(a, slog.Bool("refused", x.Refused))
		str("decision", x.Decision)
		str("answer", x.Answer)
	}
	if x := e.Consultation; x != nil {
		str("peer", x.Agent)
		str("question", x.Question)
	}
	if x := e.Progress; x != nil {
		a = append(a, slog.Float64("percent", x.Percent), slog.Bool("stalled", x.Stalled))
		str("summary", x.Summary)
	}
	if x := e.Intervention; x != nil {
		str("action", string(x.Action))
		str("instruction", x.Instruction)
		str("intervention_reason", x.Reason)
	}
	if x := e.Report; x != nil {
		a = append(a, slog.Float64("confidence", x.Confidence))
	}
	if x := e.Compaction; x != nil {
		a = append(a, slog.Int("context_budget", x.Budget), slog.Int("tokens_before", x.Before), slog.Int("tokens_after", x.After),
			slog.Int("clipped", x.Clipped), slog.Int("folded", x.Folded))
		str("summary_by", x.By)
	}
	if x := e.Verification; x != nil {
		a = append(a, slog.String("verdict", string(x.Verdict)))
		str("verified_by", string(x.By))
		if len(x.Unmet) > 0 {
			a = append(a, slog.Any("unmet", x.Unmet))
		}
		str("feedback", x.Feedback)
	}
	str("tool", e.Tool)
	str("call_id", e.CallID)
	str("violation", string(e.Violation))
	if len(e.Arguments) > 0 {
		str("arguments", string(e.Arguments))
	}
	if e.IsError {
		a = append(a, slog.Bool("is_error", true))
	}
	str("result", e.Result)
	str("model", e.Model)
	str("purpose", string(e.Purpose))
	if u := e.Usage; u != nil {
		a = append(a, slog.Int("input_tokens", u.PromptTokens), slog.Int("output_tokens", u.CompletionTokens))
	}
	if e.LatencyMS > 0 {
		a = append(a, slog.Float64("latency_ms", e.LatencyMS))
	}
	str("finish_reason", e.FinishReason)
	if e.Attempt > 0 {
		a = append(a, slog.Int("attempt", e.Attempt), slog.Float64("wait_ms", e.WaitMS))
	}
	str("error", e.Error)
	if e.Limit != 0 || e.Used != 0 {
		a = append(a, slog.Int64("limit", e.Limit), slog.Int64("used", e.Used))
	}
	str("status", string(e.Status))
	str("reason", e.Reason)
	if u := e.Total; u != nil {
		a = append(a, slog.Int("total_tokens", u.Total()))
	}
	return a
}

// ParseLevel parses a log level as the --log-level flag takes it: debug,
// info, warn (or warning) and error, in any case, optionally with an offset
// as slog writes it ("info+2"); the empty string is info.
func ParseLevel(s string) (slog.Level, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return slog.LevelInfo, nil
	}
	if rest, ok := strings.CutPrefix(t, "warning"); ok {
		t = "warn" + rest
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(t)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
