package evals

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// maxFailuresShown bounds the failing expectations a text report lists.
const maxFailuresShown = 20

// Table writes the report as tables for a terminal: one row per scenario and
// model, one per failure mode and model, then escalation precision and
// recall, the totals and the first failing expectations.
func (r *Report) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SCENARIO\tMODEL\tPASS\tPASS^%d\tERRORED\tEXPECT\tSTATUS\tVIOL\tASKED\tTOKENS\tCALLS\tTIME\n", r.Run.Trials)
	for _, s := range r.Scenarios {
		passed, total := 0, 0
		for _, e := range s.Expectations {
			passed += e.Passed
			total += e.Total
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\t%d\t%s\n", s.Scenario, s.Model, s.Passed, s.Trials-s.Errored,
			hatK(s.PassHatK), errCount(s.Errored), passed, total, statuses(s.Statuses), s.Violations, asked(s), human(s.MeanTokens),
			s.Usage.ModelCalls/max(s.Trials, 1), ms(s.MeanDurationMS))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tNAME\tMODEL\tTRIALS WITH\tINCIDENTS\tCAUGHT\tCATCH RATE\tTARGETED BY")
	for _, m := range r.Modes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%s\t%s\n", m.ID, m.Name, m.Model, m.TrialsWith, m.Trials, m.Incidents,
			m.Caught, pctPtr(m.CatchRate), strings.Join(m.Targeted, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, askExplained)
	for _, m := range r.Models {
		a := m.Ask
		fmt.Fprintf(w, "Ask-F1 %s: precision %s, recall %s, F1 %s (tp %d, fp %d, fn %d, tn %d)\n", m.Model,
			pctPtr(a.Precision), pctPtr(a.Recall), pctPtr(a.F1), a.TP, a.FP, a.FN, a.TN)
	}
	for _, m := range r.Models {
		fmt.Fprintf(w, "%s: %s\n", m.Model, summaryLine(&m.Summary))
	}
	if len(r.Models) > 1 {
		fmt.Fprintf(w, "all: %s\n", summaryLine(&r.Summary))
	}
	if r.Run.Interrupted {
		fmt.Fprintln(w, "The run was interrupted: these are the trials that ended.")
	}
	if r.Run.StoppedEarly != "" {
		fmt.Fprintf(w, "The run stopped early: %s.\n", r.Run.StoppedEarly)
	}
	writeErrored(w, r, "  ")
	writeFailures(w, r, "  ")
	return nil
}

// askExplained says in one line what Ask-F1 measures, and why it is not a
// pass rate.
const askExplained = "Ask-F1: did agents escalate or ask exactly where the scenario says they should (should_escalate)? " +
	"It scores the models' judgement, not the runtime's safeguards, so a fully passing run can score below 100%."

// errCount renders a count of errored trials; "–" for none.
func errCount(n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

// writeErrored lists the errored trials' errors, each distinct error once.
func writeErrored(w io.Writer, r *Report, indent string) {
	if r.Summary.Errored == 0 {
		return
	}
	fmt.Fprintf(w, "\nErrored (%d trials ended on an infrastructure error; they are in no pass rate):\n", r.Summary.Errored)
	seen := map[string]int{}
	var order []string
	for _, t := range r.Trials {
		if t.Errored {
			k := t.ErrorKind + ": " + t.Error
			if seen[k] == 0 {
				order = append(order, k)
			}
			seen[k]++
		}
	}
	for i, k := range order {
		if i == maxFailuresShown {
			fmt.Fprintf(w, "%s… and %d more errors\n", indent, len(order)-i)
			break
		}
		fmt.Fprintf(w, "%s%d× %s\n", indent, seen[k], k)
	}
}

// summaryLine is one line of totals.
func summaryLine(s *Summary) string {
	line := fmt.Sprintf("%d/%d trials passed (pass@1 %s, pass^%d %s), %d/%d expectations (%s), %d violations, %s tokens, %d model calls",
		s.TrialsPassed, s.Trials-s.Errored, pct(s.PassAt1), len(s.PassHatK), hatK(s.PassHatK), s.ExpectationsPassed, s.Expectations, pct(s.PassRate),
		s.Violations, human(float64(s.Usage.TotalTokens)), s.Usage.ModelCalls)
	if s.Errored > 0 {
		line += fmt.Sprintf(", %d errored (%s) and not scored", s.Errored, statuses(s.ErrorKinds))
	}
	if s.Usage.CostUSD > 0 {
		line += fmt.Sprintf(", $%.4f", s.Usage.CostUSD)
	}
	if s.Usage.Compactions > 0 {
		line += fmt.Sprintf(", %d context compactions", s.Usage.Compactions)
	}
	line += fmt.Sprintf(", trial time p50 %s p95 %s", ms(s.DurationP50MS), ms(s.DurationP95MS))
	if n := s.Errors - s.Errored; n > 0 {
		line += fmt.Sprintf(", %d other errors", n)
	}
	if s.TimedOut > 0 {
		line += fmt.Sprintf(", %d timed out", s.TimedOut)
	}
	return line
}

func writeFailures(w io.Writer, r *Report, indent string) {
	n := 0
	for _, t := range r.Trials {
		if t.Pass || t.Errored {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "\nFailing:")
		}
		if n >= maxFailuresShown {
			fmt.Fprintf(w, "%s… and more; see report.md or report.html\n", indent)
			return
		}
		if t.Error != "" && len(t.Expectations) > 0 && !t.Expectations[0].Pass && strings.HasPrefix(t.Expectations[0].Detail, "not run") {
			fmt.Fprintf(w, "%s%s/%s #%d: not run: %s\n", indent, t.Scenario, t.Model, t.Trial, t.Error)
			n++
			continue
		}
		for _, e := range t.Expectations {
			if !e.Pass && n < maxFailuresShown {
				fmt.Fprintf(w, "%s%s/%s #%d %s %s: %s\n", indent, t.Scenario, t.Model, t.Trial, e.ID, e.Name, e.Detail)
				n++
			}
		}
	}
}

func statuses(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func asked(s ScenarioSummary) string {
	a := fmt.Sprintf("%d/%d", s.Asked, s.Trials)
	if s.ShouldEscalate != nil {
		if *s.ShouldEscalate {
			a += " (should)"
		} else {
			a += " (should not)"
		}
	}
	return a
}

// human renders a count compactly: 950, 12.3k, 4.1M.
func human(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 1e4:
		return fmt.Sprintf("%.0fk", f/1e3)
	case f >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

// ms renders milliseconds compactly.
func ms(v float64) string {
	switch {
	case v >= 60_000:
		return fmt.Sprintf("%.1fm", v/60_000)
	case v >= 1000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

// Markdown writes the report as markdown: report.md.
func (r *Report) Markdown(w io.Writer) error {
	fmt.Fprintf(w, "# entrust eval report\n\n")
	fmt.Fprintf(w, "Run %s, %d trial(s) per scenario and model, models: %s, seed %d.",
		r.Run.Started.Format("2006-01-02 15:04:05"), r.Run.Trials, strings.Join(r.Run.Models, ", "), r.Run.Seed)
	if r.Run.Interrupted {
		fmt.Fprint(w, " **Interrupted**: only the trials that ended are counted.")
	}
	fmt.Fprint(w, "\n\n## Summary\n\n")
	fmt.Fprintf(w, "| model | trials passed | errored | pass@1 | pass^%d | expectations | violations | tokens | model calls | cost | Ask precision | Ask recall | Ask F1 |\n", r.Run.Trials)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range r.Models {
		s := m.Summary
		fmt.Fprintf(w, "| %s | %d/%d | %s | %s | %s | %d/%d (%s) | %d | %d | %d | $%.4f | %s | %s | %s |\n", md(m.Model), s.TrialsPassed, s.Trials-s.Errored,
			errCount(s.Errored), pct(s.PassAt1), hatK(s.PassHatK), s.ExpectationsPassed, s.Expectations, pct(s.PassRate), s.Violations,
			s.Usage.TotalTokens, s.Usage.ModelCalls, s.Usage.CostUSD, pctPtr(s.Ask.Precision), pctPtr(s.Ask.Recall), pctPtr(s.Ask.F1))
	}
	fmt.Fprintf(w, "\n%s\n", askExplained)
	fmt.Fprint(w, "\n## Scenarios\n\n")
	fmt.Fprintln(w, "| scenario | model | passed | pass^k | statuses | violations | asked | mean tokens | mean time | modes |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %s | %d/%d | %s | %s | %d | %s | %.0f | %s | %s |\n", md(s.Scenario), md(s.Model), s.Passed, s.Trials,
			hatK(s.PassHatK), statuses(s.Statuses), s.Violations, asked(s), s.MeanTokens, ms(s.MeanDurationMS), strings.Join(s.Modes, ", "))
	}
	fmt.Fprint(w, "\n## Failure modes (MAST)\n\n")
	fmt.Fprintln(w, "| mode | name | model | trials with | incidents | caught | catch rate | targeted by |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, m := range r.Modes {
		fmt.Fprintf(w, "| %s | %s | %s | %d/%d | %d | %d | %s | %s |\n", m.ID, m.Name, md(m.Model), m.TrialsWith, m.Trials,
			m.Incidents, m.Caught, pctPtr(m.CatchRate), md(strings.Join(m.Targeted, ", ")))
	}
	fmt.Fprint(w, "\n## Expectations\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "\n### %s (%s)\n\n", md(s.Scenario), md(s.Model))
		if s.Description != "" {
			fmt.Fprintf(w, "%s\n\n", md(s.Description))
		}
		for _, e := range s.Expectations {
			mark := "✅"
			if e.Passed < e.Total {
				mark = "❌"
			}
			fmt.Fprintf(w, "- %s %s `%s` %s: %d/%d\n", mark, e.ID, e.Kind, md(e.Name), e.Passed, e.Total)
		}
	}
	var b strings.Builder
	writeFailures(&b, r, "- ")
	if b.Len() > 0 {
		fmt.Fprintf(w, "\n## Failing%s", strings.TrimPrefix(b.String(), "\nFailing:"))
	}
	return nil
}

// md escapes the characters that would break a markdown table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
