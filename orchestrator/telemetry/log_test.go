package telemetry_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/telemetry"
)

func logRun(t *testing.T, level slog.Level) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
	g := agents.Goal{Intent: "greet", Objective: "write a greeting", Criteria: []string{"greeting written"}}
	// The first call is refused (a violation: no acceptance yet).
	m := model.NewScripted("m",
		turn(call("note", map[string]string{"text": "too early"})),
		turn(accept(g, "use note")),
		turn(protocoltest.WithID("n1", call("note", map[string]string{"text": "hello"}))),
		turn(complete(g, "greeted", "n1")),
	)
	rt, err := orchestrator.New(orchestrator.Team{Lead: "solo", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "solo", Role: "greets", Model: m, Tools: []agents.Tool{noteTool(t)}}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{telemetry.NewLogSink(l)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestLogSinkLevelsAndFields(t *testing.T) {
	recs := logRun(t, slog.LevelDebug)
	levels := map[string]string{}
	for _, r := range recs {
		levels[r["msg"].(string)] = r["level"].(string)
		if r["run"] == nil || r["seq"] == nil {
			t.Errorf("record without run and seq: %v", r)
		}
	}
	for typ, want := range map[orchestrator.EventType]string{
		orchestrator.EventRunStarted:        "INFO",
		orchestrator.EventGoalOffered:       "INFO",
		orchestrator.EventProtocolViolation: "WARN",
		orchestrator.EventGoalAccepted:      "INFO",
		orchestrator.EventAlignmentJudged:   "INFO",
		orchestrator.EventToolCalled:        "DEBUG",
		orchestrator.EventToolResult:        "DEBUG",
		orchestrator.EventModelCalled:       "DEBUG",
		orchestrator.EventReportVerified:    "INFO",
		orchestrator.EventGoalCompleted:     "INFO",
		orchestrator.EventRunFinished:       "INFO",
	} {
		if levels[string(typ)] != want {
			t.Errorf("%s logged at %q, want %s", typ, levels[string(typ)], want)
		}
	}
	for _, r := range recs {
		switch r["msg"] {
		case "tool.called":
			if r["tool"] == nil || r["call_id"] == nil || r["delegation"] != "d1" || r["agent"] != "solo" {
				t.Errorf("tool.called without its fields: %v", r)
			}
		case "model.called":
			if r["model"] != "m" || r["input_tokens"] == nil || r["purpose"] != "turn" {
				t.Errorf("model.called without its fields: %v", r)
			}
		case "protocol.violation":
			if r["reason"] == nil || r["tool"] != "note" {
				t.Errorf("protocol.violation without its fields: %v", r)
			}
		case "alignment.judged":
			if r["aligned"] != true || r["round"] != 1.0 {
				t.Errorf("alignment.judged without its fields: %v", r)
			}
		}
	}
}

func TestLogSinkRespectsTheLevel(t *testing.T) {
	recs := logRun(t, slog.LevelWarn)
	if len(recs) != 1 || recs[0]["msg"] != "protocol.violation" {
		t.Errorf("at WARN, got %d records, want the one violation", len(recs))
	}
	for _, r := range recs {
		if r["level"] != "WARN" {
			t.Errorf("at WARN, got %v", r)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want slog.Level
		err  bool
	}{
		{"debug", slog.LevelDebug, false},
		{"INFO", slog.LevelInfo, false},
		{"", slog.LevelInfo, false},
		{" warn ", slog.LevelWarn, false},
		{"Warning", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"info+2", slog.LevelInfo + 2, false},
		{"loud", 0, true},
	} {
		got, err := telemetry.ParseLevel(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseLevel(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestLogSinkCompaction(t *testing.T) {
	var buf bytes.Buffer
	sink := telemetry.NewLogSink(slog.New(slog.NewJSONHandler(&buf, nil)))
	e := &orchestrator.Event{Type: orchestrator.EventContextCompacted, Run: "r", Seq: 7, Delegation: "d2", Agent: "writer",
		Compaction: &agents.Compaction{Budget: 8000, Before: 8100, After: 4000, Clipped: 3, Folded: 12, By: "model"}}
	if err := sink.Emit(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r["level"] != "INFO" || r["context_budget"] != 8000.0 || r["tokens_before"] != 8100.0 || r["tokens_after"] != 4000.0 ||
		r["clipped"] != 3.0 || r["folded"] != 12.0 || r["summary_by"] != "model" {
		t.Fatalf("record %v", r)
	}
}
