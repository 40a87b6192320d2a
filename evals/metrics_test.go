package evals_test

import (
	"math"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/orchestrator"
)

func TestUsageCountsCompactions(t *testing.T) {
	c := &agents.Compaction{Budget: 8000, Before: 8100, After: 4000, Clipped: 3}
	tr := &evals.Trial{Events: []*orchestrator.Event{
		{Type: orchestrator.EventModelCalled, Purpose: "turn", Usage: &model.Usage{PromptTokens: 10}},
		{Type: orchestrator.EventContextCompacted, Compaction: c},
		{Type: orchestrator.EventModelCalled, Purpose: "compact", Usage: &model.Usage{PromptTokens: 5}},
		{Type: orchestrator.EventContextCompacted, Compaction: c},
	}}
	if u := evals.UsageOf(tr, nil); u.Compactions != 2 || u.ModelCalls != 2 || u.Steps != 1 || u.PromptTokens != 15 {
		t.Fatalf("usage %+v", u)
	}
}

func TestPassHatKAndPassAtK(t *testing.T) {
	tests := []struct {
		n, c, k     int
		hat, atK    float64
		description string
	}{
		{4, 4, 1, 1, 1, "always passes"},
		{4, 4, 4, 1, 1, "always passes, every k"},
		{4, 0, 1, 0, 0, "never passes"},
		{4, 2, 1, 0.5, 0.5, "pass^1 is pass@1"},
		{4, 2, 2, 1.0 / 6, 5.0 / 6, "C(2,2)/C(4,2); 1 - C(2,2)/C(4,2)"},
		{4, 3, 2, 0.5, 1, "C(3,2)/C(4,2); any two include a pass"},
		{8, 6, 4, 15.0 / 70, 1, "C(6,4)/C(8,4)"},
		{5, 1, 5, 0, 1, "all five pass only if c = n"},
	}
	for _, tt := range tests {
		if got := evals.PassHatK(tt.n, tt.c, tt.k); math.Abs(got-tt.hat) > 1e-12 {
			t.Errorf("%s: pass^%d(n=%d, c=%d) = %v, want %v", tt.description, tt.k, tt.n, tt.c, got, tt.hat)
		}
		if got := evals.PassAtK(tt.n, tt.c, tt.k); math.Abs(got-tt.atK) > 1e-12 {
			t.Errorf("%s: pass@%d(n=%d, c=%d) = %v, want %v", tt.description, tt.k, tt.n, tt.c, got, tt.atK)
		}
	}
	if !math.IsNaN(evals.PassHatK(2, 1, 3)) || !math.IsNaN(evals.PassAtK(2, 1, 0)) {
		t.Error("k outside 1..n is not NaN")
	}
}

func TestReportAggregates(t *testing.T) {
	yes, no := true, false
	rec := func(scenario string, trial int, pass bool, should *bool, asked bool) *evals.TrialRecord {
		return &evals.TrialRecord{Scenario: scenario, Model: "sim", Trial: trial, Pass: pass, Status: "completed",
			ShouldEscalate: should, Asked: asked, Expectations: []evals.Result{{ID: "e1", Kind: "status", Pass: pass}},
			Incidents: []evals.Incident{{Mode: "FM-1.1", Caught: pass}}, Usage: evals.Usage{TotalTokens: 10, ModelCalls: 2}}
	}
	recs := []*evals.TrialRecord{
		rec("a", 1, true, &yes, true), rec("a", 2, true, &yes, false), // TP, FN
		rec("b", 1, true, &no, true), rec("b", 2, false, &no, false), // FP, TN
	}
	rep := evals.BuildReport(recs, nil, &evals.RunInfo{Trials: 2, Models: []string{"sim"}})
	s := rep.Summary
	if s.Trials != 4 || s.TrialsPassed != 3 || s.PassRate != 0.75 || s.PassAt1 != 0.75 {
		t.Errorf("summary %+v", s)
	}
	// Task a passes 2/2, b 1/2: pass^2 = (1 + 0)/2.
	if len(s.PassHatK) != 2 || s.PassHatK[1] != 0.5 || s.PassAtK[1] != 1 {
		t.Errorf("pass^k %v, pass@k %v", s.PassHatK, s.PassAtK)
	}
	a := s.Ask
	if a.TP != 1 || a.FN != 1 || a.FP != 1 || a.TN != 1 || *a.Precision != 0.5 || *a.Recall != 0.5 || *a.F1 != 0.5 {
		t.Errorf("ask %+v", a)
	}
	var m *evals.ModeSummary
	for i := range rep.Modes {
		if rep.Modes[i].ID == "FM-1.1" {
			m = &rep.Modes[i]
		}
	}
	if m == nil || m.Incidents != 4 || m.Caught != 3 || *m.CatchRate != 0.75 || m.TrialsWith != 4 {
		t.Errorf("FM-1.1 %+v", m)
	}
	if len(rep.Scenarios) != 2 || rep.Scenarios[1].Passed != 1 || rep.Scenarios[1].Expectations[0].Passed != 1 {
		t.Errorf("scenarios %+v", rep.Scenarios)
	}
}

func TestPricesCost(t *testing.T) {
	p := evals.Prices{
		"gpt-4o-mini": {InputPerMTok: 0.15, OutputPerMTok: 0.60, CachedPerMTok: 0.075},
		"gpt-4o":      {InputPerMTok: 2.5, OutputPerMTok: 10},
		"*":           {InputPerMTok: 1, OutputPerMTok: 1},
	}
	u := model.Usage{PromptTokens: 1_000_000, CompletionTokens: 1_000_000, CachedTokens: 500_000}
	for name, want := range map[string]float64{
		"gpt-4o-mini":            0.5*0.15 + 0.5*0.075 + 0.60,
		"gpt-4o-mini-2024-07-18": 0.5*0.15 + 0.5*0.075 + 0.60, // the longest prefix, not gpt-4o
		"gpt-4o":                 2.5 + 10,                    // cached priced as input
		"qwen2.5:7b":             2,
	} {
		if got := p.Cost(name, u); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if got := (evals.Prices{}).Cost("x", u); got != 0 {
		t.Errorf("no table: %v", got)
	}
}
