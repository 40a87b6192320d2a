package evals

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// Comparison is what changed between two reports, A (before) and B (after).
type Comparison struct {
	// A and B name the two runs (paths), for display.
	A string `json:"a"`
	B string `json:"b"`
	// Overall compares the two summaries.
	Overall []MetricDelta `json:"overall"`
	// Scenarios compares tasks present in either report; a task is a
	// scenario with a model, or a scenario alone when each report ran one
	// model and the models differ (comparing two models).
	Scenarios []ScenarioDelta `json:"scenarios"`
	// Modes compares failure modes the same way.
	Modes []ModeDelta `json:"modes"`
}

// MetricDelta is one number before and after.
type MetricDelta struct {
	// Name names the metric, e.g. "expectation pass rate". Counts that
	// grow with the number of trials (tokens, calls, cost) are per scored
	// trial, so runs of different sizes compare.
	Name string `json:"name"`
	// A and B are its values before and after.
	A float64 `json:"a"`
	B float64 `json:"b"`
	// P is the two-sided Fisher exact test's p-value of a rate's change
	// (from the pass counts), nil for a metric that is not a rate of
	// counts. Noise says P ≥ NoiseP: the runs are too small to tell the
	// change from chance.
	P     *float64 `json:"p,omitempty"`
	Noise bool     `json:"noise,omitempty"`
}

// NoiseP is the p-value at and above which Compare marks a change of a pass
// rate as noise: a two-sided Fisher exact test on the pass counts before and
// after. With one trial a side no change can be told from chance (p = 1);
// 0/5 → 5/5 can (p ≈ 0.008).
const NoiseP = 0.05

// FisherP is the two-sided Fisher exact test's p-value for passA passes of
// nA against passB of nB: the chance, were both drawn from one pass rate,
// of a split at least as uneven. It is 1 when a side is empty.
func FisherP(passA, nA, passB, nB int) float64 {
	if nA <= 0 || nB <= 0 {
		return 1
	}
	k, n := passA+passB, nA+nB
	lchoose := func(n, k int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return a - b - c
	}
	lp := func(x int) float64 { return lchoose(nA, x) + lchoose(nB, k-x) - lchoose(n, k) }
	observed := lp(passA)
	p := 0.0
	for x := max(0, k-nB); x <= min(k, nA); x++ {
		if l := lp(x); l <= observed+1e-9 {
			p += math.Exp(l)
		}
	}
	return min(p, 1)
}

// rateDelta is a MetricDelta of two pass rates from their counts.
func rateDelta(name string, passA, nA, passB, nB int) MetricDelta {
	d := MetricDelta{Name: name, A: ratio(passA, nA), B: ratio(passB, nB)}
	if d.A != d.B {
		p := FisherP(passA, nA, passB, nB)
		d.P, d.Noise = &p, p >= NoiseP
	}
	return d
}

func ratio(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(a) / float64(n)
}

// ScenarioDelta compares one task. Nil fields are absent from that report.
type ScenarioDelta struct {
	// Scenario and Model name the task; Model is "A → B" when two models
	// are compared.
	Scenario string `json:"scenario"`
	Model    string `json:"model"`
	// PassAt1 and the others are nil when the task is missing from one
	// side.
	PassAt1A *float64 `json:"pass_at_1_a"`
	PassAt1B *float64 `json:"pass_at_1_b"`
	// P and Noise test the change of pass@1 as MetricDelta's do.
	P           *float64 `json:"p,omitempty"`
	Noise       bool     `json:"noise,omitempty"`
	TokensA     *float64 `json:"mean_tokens_a"`
	TokensB     *float64 `json:"mean_tokens_b"`
	ViolationsA *int     `json:"violations_a"`
	ViolationsB *int     `json:"violations_b"`
	// Flipped lists expectations whose pass rate changed, "e3 name: 2/3 →
	// 3/3", marked "(noise)" when too few trials tell it from chance, and
	// those only one side has, "new: …" and "gone: …". Expectations are
	// matched by their text, so one whose text changed is gone and new,
	// whatever its id.
	Flipped []string `json:"flipped,omitempty"`

	passA, scoredA, passB, scoredB int
}

// ModeDelta compares one failure mode.
type ModeDelta struct {
	// ID is the mode's id; Model as in ScenarioDelta. The A and B fields
	// are ModeSummary's incidents and catch rate before and after.
	ID         string   `json:"id"`
	Model      string   `json:"model"`
	IncidentsA int      `json:"incidents_a"`
	IncidentsB int      `json:"incidents_b"`
	CatchRateA *float64 `json:"catch_rate_a"`
	CatchRateB *float64 `json:"catch_rate_b"`
}

// Compare compares report a (before) with report b (after).
func Compare(a, b *Report) *Comparison {
	c := &Comparison{}
	sa, sb := a.Summary, b.Summary
	na, nb := max(sa.Trials-sa.Errored, 1), max(sb.Trials-sb.Errored, 1)
	per := func(v float64, n int) float64 { return v / float64(n) }
	c.Overall = []MetricDelta{
		rateDelta("expectation pass rate", sa.ExpectationsPassed, sa.Expectations, sb.ExpectationsPassed, sb.Expectations),
		rateDelta("trials passed (share)", sa.TrialsPassed, sa.Trials-sa.Errored, sb.TrialsPassed, sb.Trials-sb.Errored),
		{Name: "pass@1", A: sa.PassAt1, B: sb.PassAt1},
		{Name: "trials", A: float64(sa.Trials), B: float64(sb.Trials)},
		{Name: "errored trials", A: float64(sa.Errored), B: float64(sb.Errored)},
		{Name: "violations per trial", A: per(float64(sa.Violations), na), B: per(float64(sb.Violations), nb)},
		{Name: "tokens per trial", A: per(float64(sa.Usage.TotalTokens), na), B: per(float64(sb.Usage.TotalTokens), nb)},
		{Name: "model calls per trial", A: per(float64(sa.Usage.ModelCalls), na), B: per(float64(sb.Usage.ModelCalls), nb)},
		{Name: "cost per trial (USD)", A: per(sa.Usage.CostUSD, na), B: per(sb.Usage.CostUSD, nb)},
		{Name: "trial time p50 (ms)", A: sa.DurationP50MS, B: sb.DurationP50MS},
	}
	if sa.Ask.F1 != nil || sb.Ask.F1 != nil {
		c.Overall = append(c.Overall, MetricDelta{Name: "Ask-F1", A: deref0(sa.Ask.F1), B: deref0(sb.Ask.F1)})
	}
	crossModel := len(a.Models) == 1 && len(b.Models) == 1 && a.Models[0].Model != b.Models[0].Model
	key := func(scenario, model string) string {
		if crossModel {
			return scenario
		}
		return scenario + "\x00" + model
	}
	label := func(model string) string {
		if crossModel {
			return a.Models[0].Model + " → " + b.Models[0].Model
		}
		return model
	}
	idx := map[string]int{}
	get := func(scenario, model string) *ScenarioDelta {
		k := key(scenario, model)
		if i, ok := idx[k]; ok {
			return &c.Scenarios[i]
		}
		idx[k] = len(c.Scenarios)
		c.Scenarios = append(c.Scenarios, ScenarioDelta{Scenario: scenario, Model: label(model)})
		return &c.Scenarios[len(c.Scenarios)-1]
	}
	exp := map[string]map[string]ExpectationSummary{}
	for i := range a.Scenarios {
		s := &a.Scenarios[i]
		d := get(s.Scenario, s.Model)
		d.PassAt1A, d.TokensA, d.ViolationsA = ptr(s.PassAt1), ptr(s.MeanTokens), ptr(s.Violations)
		d.passA, d.scoredA = s.Passed, s.Trials-s.Errored
		exp[key(s.Scenario, s.Model)] = byText(s.Expectations)
	}
	for i := range b.Scenarios {
		s := &b.Scenarios[i]
		d := get(s.Scenario, s.Model)
		d.PassAt1B, d.TokensB, d.ViolationsB = ptr(s.PassAt1), ptr(s.MeanTokens), ptr(s.Violations)
		d.passB, d.scoredB = s.Passed, s.Trials-s.Errored
		before := exp[key(s.Scenario, s.Model)]
		after := byText(s.Expectations)
		for _, e := range s.Expectations {
			k := textKey(e)
			old, ok := before[k]
			switch {
			case !ok && before != nil:
				d.Flipped = append(d.Flipped, fmt.Sprintf("new: %s %s: %d/%d", e.ID, e.Name, e.Passed, e.Total))
			case ok && old.Passed*e.Total != e.Passed*old.Total:
				f := fmt.Sprintf("%s %s: %d/%d → %d/%d", e.ID, e.Name, old.Passed, old.Total, e.Passed, e.Total)
				if FisherP(old.Passed, old.Total, e.Passed, e.Total) >= NoiseP {
					f += " (noise)"
				}
				d.Flipped = append(d.Flipped, f)
			}
		}
		for _, e := range a.scenarioExpectations(s.Scenario, s.Model, crossModel) {
			if _, ok := after[textKey(e)]; !ok {
				d.Flipped = append(d.Flipped, fmt.Sprintf("gone: %s %s: %d/%d", e.ID, e.Name, e.Passed, e.Total))
			}
		}
	}
	for i := range c.Scenarios {
		d := &c.Scenarios[i]
		if d.PassAt1A != nil && d.PassAt1B != nil && *d.PassAt1A != *d.PassAt1B {
			p := FisherP(d.passA, d.scoredA, d.passB, d.scoredB)
			d.P, d.Noise = &p, p >= NoiseP
		}
	}
	midx := map[string]int{}
	for side, rep := range []*Report{a, b} {
		for _, m := range rep.Modes {
			k := m.ID + "\x00" + m.Model
			if crossModel {
				k = m.ID
			}
			i, ok := midx[k]
			if !ok {
				i = len(c.Modes)
				midx[k] = i
				c.Modes = append(c.Modes, ModeDelta{ID: m.ID, Model: label(m.Model)})
			}
			if side == 0 {
				c.Modes[i].IncidentsA, c.Modes[i].CatchRateA = m.Incidents, m.CatchRate
			} else {
				c.Modes[i].IncidentsB, c.Modes[i].CatchRateB = m.Incidents, m.CatchRate
			}
		}
	}
	return c
}

// textKey is what matches an expectation across two reports: its kind and
// its text, not its id (ids are positions, and shift when one is added).
func textKey(e ExpectationSummary) string { return e.Kind + "\x00" + e.Name }

// byText indexes expectations by textKey; a text repeated within a
// scenario keeps its first.
func byText(es []ExpectationSummary) map[string]ExpectationSummary {
	m := make(map[string]ExpectationSummary, len(es))
	for _, e := range es {
		if _, ok := m[textKey(e)]; !ok {
			m[textKey(e)] = e
		}
	}
	return m
}

// scenarioExpectations returns the expectations of scenario with model (or
// with its one model, comparing two models).
func (r *Report) scenarioExpectations(scenario, model string, anyModel bool) []ExpectationSummary {
	for _, s := range r.Scenarios {
		if s.Scenario == scenario && (anyModel || s.Model == model) {
			return s.Expectations
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func deref0(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// Table writes the comparison for a terminal.
func (c *Comparison) Table(w io.Writer) error {
	fmt.Fprintf(w, "A: %s\nB: %s\n\n", c.A, c.B)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tA\tB\tCHANGE\t")
	for _, m := range c.Overall {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, num(m.Name, m.A), num(m.Name, m.B), change(m.Name, m.A, m.B), noise(m.P))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMODEL\tPASS@1 A\tPASS@1 B\tTOKENS A\tTOKENS B\tVIOL A\tVIOL B\t")
	for _, s := range c.Scenarios {
		mark := ""
		switch {
		case s.PassAt1A == nil:
			mark = "new"
		case s.PassAt1B == nil:
			mark = "gone"
		case *s.PassAt1B < *s.PassAt1A:
			mark = "WORSE"
		case *s.PassAt1B > *s.PassAt1A:
			mark = "better"
		}
		if s.Noise {
			mark += " " + noise(s.P)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Scenario, s.Model, optPct(s.PassAt1A), optPct(s.PassAt1B),
			optNum(s.TokensA), optNum(s.TokensB), optInt(s.ViolationsA), optInt(s.ViolationsB), mark)
	}
	tw.Flush()
	var flips []string
	for _, s := range c.Scenarios {
		for _, f := range s.Flipped {
			flips = append(flips, s.Scenario+" "+f)
		}
	}
	if len(flips) > 0 {
		fmt.Fprintln(w, "\nExpectations that changed:")
		for _, f := range flips {
			fmt.Fprintln(w, "  "+f)
		}
	}
	fmt.Fprintf(w, "\nTokens, calls, cost and violations are per scored trial (errored trials left out), so runs of different sizes compare. %s\n", noiseRule)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tMODEL\tINCIDENTS A\tINCIDENTS B\tCATCH A\tCATCH B\t")
	for _, m := range c.Modes {
		if m.IncidentsA == 0 && m.IncidentsB == 0 {
			continue
		}
		mark := ""
		if m.CatchRateA != nil && m.CatchRateB != nil && *m.CatchRateB < *m.CatchRateA {
			mark = "WORSE"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", m.ID, m.Model, m.IncidentsA, m.IncidentsB, pctPtr(m.CatchRateA), pctPtr(m.CatchRateB), mark)
	}
	return tw.Flush()
}

// noiseRule says when a change is marked noise.
const noiseRule = "A pass-rate change is marked noise when a two-sided Fisher exact test on the pass counts gives p ≥ 0.05: too few trials to tell it from chance (one trial a side never can)."

// noise marks a change whose p-value says it may be chance.
func noise(p *float64) string {
	if p == nil || *p < NoiseP {
		return ""
	}
	return fmt.Sprintf("(noise, p=%.2f)", *p)
}

// Regressed reports whether B passes less than A overall or on any task
// present in both, noise or not: a gate that lets a drop through because
// the runs were small would fail open.
func (c *Comparison) Regressed() bool {
	for _, m := range c.Overall {
		if m.Name == "expectation pass rate" && m.B < m.A {
			return true
		}
	}
	return slices.ContainsFunc(c.Scenarios, func(s ScenarioDelta) bool {
		return s.PassAt1A != nil && s.PassAt1B != nil && *s.PassAt1B < *s.PassAt1A
	})
}

// isRate says a metric is a share, shown in percent.
func isRate(name string) bool {
	return strings.Contains(name, "rate") || strings.Contains(name, "share") || strings.Contains(name, "@") || strings.Contains(name, "F1")
}

func num(name string, v float64) string {
	switch {
	case isRate(name):
		return pct(v)
	case strings.Contains(name, "cost"):
		return fmt.Sprintf("$%.4f", v)
	case strings.Contains(name, "(ms)"):
		return ms(v)
	case v != math.Trunc(v) && v < 100:
		return fmt.Sprintf("%.2f", v)
	}
	return human(v)
}

func change(name string, a, b float64) string {
	switch {
	case a == b:
		return "="
	case isRate(name):
		return fmt.Sprintf("%+.1f pts", 100*(b-a))
	case a == 0:
		return fmt.Sprintf("%+g", b-a)
	}
	return fmt.Sprintf("%+.1f%%", 100*(b-a)/a)
}

func optPct(f *float64) string { return pctPtr(f) }

func optNum(f *float64) string {
	if f == nil {
		return "–"
	}
	return human(*f)
}

func optInt(i *int) string {
	if i == nil {
		return "–"
	}
	return fmt.Sprint(*i)
}
