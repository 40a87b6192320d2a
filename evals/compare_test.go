package evals_test

import (
	"math"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/evals"
)

func TestFisherP(t *testing.T) {
	for _, c := range []struct {
		a, na, b, nb int
		p            float64
	}{
		{1, 1, 0, 1, 1},            // one trial a side: never told from chance
		{0, 5, 5, 5, 2.0 / 252},    // all against none
		{3, 3, 0, 3, 0.1},          // 2/C(6,3)
		{5, 10, 5, 10, 1},          // no change
		{0, 0, 3, 3, 1},            // an empty side
		{20, 20, 10, 20, 0.000370}, // 100% → 50% over 20 trials
	} {
		if got := evals.FisherP(c.a, c.na, c.b, c.nb); math.Abs(got-c.p) > 1e-4 {
			t.Errorf("FisherP(%d/%d, %d/%d) = %.6f, want %.6f", c.a, c.na, c.b, c.nb, got, c.p)
		}
	}
}

func summaryOf(trials, passed int, tokens int, exps ...evals.ExpectationSummary) *evals.Report {
	ss := evals.ScenarioSummary{Scenario: "s", Model: "sim", Trials: trials, Passed: passed,
		PassAt1: float64(passed) / float64(trials), MeanTokens: float64(tokens) / float64(trials), Expectations: exps}
	r := &evals.Report{Models: []evals.ModelSummary{{Model: "sim"}}, Scenarios: []evals.ScenarioSummary{ss}}
	r.Summary.Trials, r.Summary.TrialsPassed, r.Summary.Usage.TotalTokens = trials, passed, tokens
	for _, e := range exps {
		r.Summary.Expectations += e.Total
		r.Summary.ExpectationsPassed += e.Passed
	}
	return r
}

func metric(c *evals.Comparison, name string) evals.MetricDelta {
	for _, m := range c.Overall {
		if m.Name == name {
			return m
		}
	}
	return evals.MetricDelta{Name: "missing " + name}
}

// TestCompareNormalisesPerTrial: 1 trial against 3 of the same cost is no
// change in tokens, and a pass-rate change over one trial is noise.
func TestCompareNormalisesPerTrial(t *testing.T) {
	a := summaryOf(1, 1, 1000, evals.ExpectationSummary{ID: "e1", Kind: "status", Name: "status is completed", Passed: 1, Total: 1})
	b := summaryOf(3, 2, 3000, evals.ExpectationSummary{ID: "e1", Kind: "status", Name: "status is completed", Passed: 2, Total: 3})
	c := evals.Compare(a, b)
	if m := metric(c, "tokens per trial"); m.A != 1000 || m.B != 1000 {
		t.Errorf("tokens per trial %+v", m)
	}
	if m := metric(c, "expectation pass rate"); !m.Noise || m.P == nil {
		t.Errorf("1/1 → 2/3 not marked noise: %+v", m)
	}
	if s := c.Scenarios[0]; !s.Noise || len(s.Flipped) != 1 || !strings.HasSuffix(s.Flipped[0], "(noise)") {
		t.Errorf("scenario %+v", s)
	}
	if !c.Regressed() {
		t.Error("a drop, noise or not, is a regression for the gate")
	}
	var out strings.Builder
	c.Table(&out)
	for _, want := range []string{"tokens per trial", "1.0k", "=", "(noise, p=1.00)", "Fisher exact test"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	// Enough trials tell a change from chance.
	big := summaryOf(20, 20, 0, evals.ExpectationSummary{ID: "e1", Kind: "status", Name: "status is completed", Passed: 20, Total: 20})
	half := summaryOf(20, 10, 0, evals.ExpectationSummary{ID: "e1", Kind: "status", Name: "status is completed", Passed: 10, Total: 20})
	if m := metric(evals.Compare(big, half), "expectation pass rate"); m.Noise || m.P == nil || *m.P > 0.01 {
		t.Errorf("20/20 → 10/20 marked noise: %+v", m)
	}
}

// TestCompareMatchesExpectationsByText: an expectation added in front
// shifts every id; matching by text finds no spurious change, and an
// expectation whose text changed is gone and new even under its old id.
func TestCompareMatchesExpectationsByText(t *testing.T) {
	a := summaryOf(2, 2, 0,
		evals.ExpectationSummary{ID: "e1", Kind: "status", Name: "status is completed", Passed: 2, Total: 2},
		evals.ExpectationSummary{ID: "e2", Kind: "violations", Name: "no violations", Passed: 2, Total: 2})
	b := summaryOf(2, 1, 0,
		evals.ExpectationSummary{ID: "e1", Kind: "event", Name: "an escalation was raised", Passed: 1, Total: 2},
		evals.ExpectationSummary{ID: "e2", Kind: "status", Name: "status is completed", Passed: 2, Total: 2},
		evals.ExpectationSummary{ID: "e3", Kind: "violations", Name: "at most 1 violation", Passed: 2, Total: 2})
	got := strings.Join(evals.Compare(a, b).Scenarios[0].Flipped, "\n")
	want := "new: e1 an escalation was raised: 1/2\nnew: e3 at most 1 violation: 2/2\ngone: e2 no violations: 2/2"
	if got != want {
		t.Errorf("flipped:\n%s\nwant:\n%s", got, want)
	}
}
