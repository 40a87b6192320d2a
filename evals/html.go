package evals

import (
	_ "embed"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/internal/treeview"
)

//go:embed report.html.tmpl
var htmlSource string

// modeCount is one row of a scenario's incidents table.
type modeCount struct {
	ID, Name  string
	N, Caught int
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"join":         strings.Join,
	"pct":          pct,
	"pctPtr":       pctPtr,
	"hatK":         hatK,
	"scored":       func(s Summary) int { return s.Trials - s.Errored },
	"askExplained": func() string { return askExplained },
	"ms":           ms,
	"human":        func(n int) string { return human(float64(n)) },
	"deref": func(v any) any {
		switch p := v.(type) {
		case *float64:
			return *p
		case *bool:
			return *p
		}
		return v
	},
	"width": func(f *float64) float64 { return 100 * *f },
	"ratio": func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	},
	"statuses": statuses,
	"plural":   plural,
	"clip":     clipText,
	"statusClass": func(s string) string {
		if s == "" {
			return "unfinished"
		}
		return s
	},
	"trialsOf": trialsOf,
	"groups":   groupTrials,
	"heatmap":  heatmap,
	"curve":    curve,
	"anchor":   anchor,
	"tanchor":  trialAnchor,
	"tree": func(t *TrialRecord) (template.HTML, error) {
		var b strings.Builder
		err := treeview.Write(&b, t.outcome)
		return template.HTML(b.String()), err
	},
	"hasTree": func(t *TrialRecord) bool { return t.outcome != nil },
	"tvcss":   func() template.CSS { return treeview.CSS },
	"histTokens": func(ts []*TrialRecord) template.HTML {
		return histogram(each(ts, func(t *TrialRecord) float64 { return float64(t.Usage.TotalTokens) }), human)
	},
	"histTime": func(ts []*TrialRecord) template.HTML {
		return histogram(each(ts, func(t *TrialRecord) float64 { return t.DurationMS }), ms)
	},
	"failingTrials": func(r *Report) []*TrialRecord { return shownBad(r, false) },
	"erroredTrials": func(r *Report) []*TrialRecord { return shownBad(r, true) },
	"firstN":        func(n int, ts []*TrialRecord) []*TrialRecord { return ts[:min(n, len(ts))] },
	"sub":           func(a, b int) int { return a - b },
	"tasksFailingFirst": func(r *Report) []ScenarioSummary {
		out := slices.Clone(r.Scenarios)
		slices.SortStableFunc(out, func(a, b ScenarioSummary) int {
			fa, fb := a.Passed < a.Trials, b.Passed < b.Trials
			switch {
			case fa && !fb:
				return -1
			case fb && !fa:
				return 1
			}
			return 0
		})
		return out
	},
	"failing": func(rs []Result) []Result {
		var out []Result
		for _, r := range rs {
			if !r.Pass {
				out = append(out, r)
			}
		}
		return out
	},
	"incidents": func(s ScenarioSummary) []modeCount {
		var out []modeCount
		for _, m := range modes {
			if n := s.Incidents[m.ID]; n > 0 {
				out = append(out, modeCount{ID: m.ID, Name: m.Name, N: n, Caught: s.Caught[m.ID]})
			}
		}
		return out
	},
}).Parse(htmlSource))

// maxTreesShown bounds the failing trials of a task shown with their tree,
// and maxListed those listed in a line; the rest are counted, their
// journals a link away. So the page stays small at any number of trials.
const (
	maxTreesShown = 5
	maxListed     = 30
)

// trialGroup is how a task's trials appear in report.html: in full (with
// their tree), in a line each, or counted.
type trialGroup struct {
	Full, Listed []*TrialRecord
	Hidden       int
	HiddenFailed int
}

// shownBad returns the failing (or the errored) trials that the page shows
// in their task's section, which the lists at the top link to: the first
// maxTreesShown+maxListed trials of each task that did not pass.
func shownBad(r *Report, errored bool) []*TrialRecord {
	seen := map[string]int{}
	var out []*TrialRecord
	for _, t := range r.Trials {
		if t.Pass {
			continue
		}
		k := t.Scenario + "\x00" + t.Model
		seen[k]++
		if seen[k] <= maxTreesShown+maxListed && t.Errored == errored {
			out = append(out, t)
		}
	}
	return out
}

// each is f of every trial.
func each(ts []*TrialRecord, f func(*TrialRecord) float64) []float64 {
	xs := make([]float64, len(ts))
	for i, t := range ts {
		xs[i] = f(t)
	}
	return xs
}

func trialsOf(all []*TrialRecord, scenario, model string) []*TrialRecord {
	var out []*TrialRecord
	for _, t := range all {
		if t.Scenario == scenario && t.Model == model {
			out = append(out, t)
		}
	}
	return out
}

// groupTrials puts a task's failing and errored trials first: of the first
// maxTreesShown+maxListed of them, those with a tree among the first
// maxTreesShown in full, the others in a line each; then the passing ones
// the same way, keepOutcome in full. The rest are counted.
func groupTrials(ts []*TrialRecord) trialGroup {
	var g trialGroup
	bad := slices.DeleteFunc(slices.Clone(ts), func(t *TrialRecord) bool { return t.Pass })
	good := slices.DeleteFunc(slices.Clone(ts), func(t *TrialRecord) bool { return !t.Pass })
	for i, t := range bad {
		switch {
		case i < maxTreesShown && t.outcome != nil:
			g.Full = append(g.Full, t)
		case i < maxTreesShown+maxListed:
			g.Listed = append(g.Listed, t)
		default:
			g.Hidden++
			g.HiddenFailed++
		}
	}
	for i, t := range good {
		switch {
		case i < keepOutcome && t.outcome != nil:
			g.Full = append(g.Full, t)
		case i < keepOutcome+maxListed:
			g.Listed = append(g.Listed, t)
		default:
			g.Hidden++
		}
	}
	return g
}

// HTML writes the report as one self-contained HTML page (inline CSS and
// SVG, no scripts, nothing fetched): report.html. Failures come first, with
// links; then the summary, a scenario × model heatmap, the pass^k curve,
// the models, the failure modes, and per scenario its expectations, its
// token and time distributions and its trials, each with the delegation
// tree replay shows, collapsed. Journals are linked, not inlined, and past a
// few trials per task only failures are shown in full, so the page stays
// small at any number of trials.
func (r *Report) HTML(w io.Writer) error {
	return htmlTemplate.Execute(w, r)
}
