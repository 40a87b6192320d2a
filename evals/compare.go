package evals

import (
	"fmt"
	"io"
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
	// Name names the metric, e.g. "expectation pass rate".
	Name string `json:"name"`
	// A and B are its values before and after.
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// ScenarioDelta compares one task. Nil fields are absent from that report.
type ScenarioDelta struct {
	// Scenario and Model name the task; Model is "A → B" when two models
	// are compared.
	Scenario string `json:"scenario"`
	Model    string `json:"model"`
	// PassAt1 and the others are nil when the task is missing from one
	// side.
	PassAt1A    *float64 `json:"pass_at_1_a"`
	PassAt1B    *float64 `json:"pass_at_1_b"`
	TokensA     *float64 `json:"mean_tokens_a"`
	TokensB     *float64 `json:"mean_tokens_b"`
	ViolationsA *int     `json:"violations_a"`
	ViolationsB *int     `json:"violations_b"`
	// Flipped lists expectations whose pass count changed, "e3 name: 2/3 → 3/3".
	Flipped []string `json:"flipped,omitempty"`
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
	c.Overall = []MetricDelta{
		{"expectation pass rate", sa.PassRate, sb.PassRate},
		{"trials passed", float64(sa.TrialsPassed), float64(sb.TrialsPassed)},
		{"trials", float64(sa.Trials), float64(sb.Trials)},
		{"pass@1", sa.PassAt1, sb.PassAt1},
		{"violations", float64(sa.Violations), float64(sb.Violations)},
		{"tokens", float64(sa.Usage.TotalTokens), float64(sb.Usage.TotalTokens)},
		{"model calls", float64(sa.Usage.ModelCalls), float64(sb.Usage.ModelCalls)},
		{"cost (USD)", sa.Usage.CostUSD, sb.Usage.CostUSD},
		{"trial time p50 (ms)", sa.DurationP50MS, sb.DurationP50MS},
	}
	if sa.Ask.F1 != nil || sb.Ask.F1 != nil {
		c.Overall = append(c.Overall, MetricDelta{"Ask-F1", deref0(sa.Ask.F1), deref0(sb.Ask.F1)})
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
		m := map[string]ExpectationSummary{}
		for _, e := range s.Expectations {
			m[e.ID] = e
		}
		exp[key(s.Scenario, s.Model)] = m
	}
	for i := range b.Scenarios {
		s := &b.Scenarios[i]
		d := get(s.Scenario, s.Model)
		d.PassAt1B, d.TokensB, d.ViolationsB = ptr(s.PassAt1), ptr(s.MeanTokens), ptr(s.Violations)
		before := exp[key(s.Scenario, s.Model)]
		for _, e := range s.Expectations {
			if old, ok := before[e.ID]; ok && (old.Passed*e.Total != e.Passed*old.Total) {
				d.Flipped = append(d.Flipped, fmt.Sprintf("%s %s: %d/%d → %d/%d", e.ID, e.Name, old.Passed, old.Total, e.Passed, e.Total))
			}
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
	fmt.Fprintln(tw, "METRIC\tA\tB\tCHANGE")
	for _, m := range c.Overall {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, num(m.Name, m.A), num(m.Name, m.B), change(m.Name, m.A, m.B))
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

// Regressed reports whether B passes less than A overall or on any task
// present in both.
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

func num(name string, v float64) string {
	switch {
	case strings.Contains(name, "rate") || strings.Contains(name, "@") || strings.Contains(name, "F1"):
		return pct(v)
	case strings.Contains(name, "cost"):
		return fmt.Sprintf("$%.4f", v)
	case strings.Contains(name, "(ms)"):
		return ms(v)
	}
	return human(v)
}

func change(name string, a, b float64) string {
	switch {
	case a == b:
		return "="
	case strings.Contains(name, "rate") || strings.Contains(name, "@") || strings.Contains(name, "F1"):
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
