package evals

import (
	_ "embed"
	"html/template"
	"io"
	"strings"
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
	"trialsOf": func(all []*TrialRecord, scenario, model string) []*TrialRecord {
		var out []*TrialRecord
		for _, t := range all {
			if t.Scenario == scenario && t.Model == model {
				out = append(out, t)
			}
		}
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
		for _, m := range Modes {
			if n := s.Incidents[m.ID]; n > 0 {
				out = append(out, modeCount{ID: m.ID, Name: m.Name, N: n, Caught: s.Caught[m.ID]})
			}
		}
		return out
	},
}).Parse(htmlSource))

// HTML writes the report as one self-contained HTML page (inline CSS, no
// scripts, nothing fetched): report.html. It has the summary, the models,
// the failure modes, and per scenario its expectations and each trial with
// its delegation tree.
func (r *Report) HTML(w io.Writer) error {
	return htmlTemplate.Execute(w, r)
}
