// Package treeview renders a delegation tree, as orchestrator.Rebuild makes
// it from a journal, as HTML: each delegation with what "run replay" shows —
// the goal, the acceptance and its alignment, escalations with their
// answers, consultations, the report with its evidence per criterion, the
// verification, the outcome and its tokens — collapsed below a one-line
// summary. The eval report and "run view" share it.
package treeview

import (
	_ "embed"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
)

//go:embed tree.html.tmpl
var source string

// CSS is the style sheet the tree's markup expects, to inline in a page.
//
//go:embed tree.css
var CSS template.CSS

// Funcs are the template functions the tree uses; a page that defines its
// own template with the "tree" template in it adds them.
var Funcs = template.FuncMap{
	"tvStatus": func(s orchestrator.Status) string {
		if s == "" {
			return "running"
		}
		return string(s)
	},
	"tvMark": func(s orchestrator.Status) string {
		switch s {
		case orchestrator.StatusCompleted:
			return "✓"
		case orchestrator.StatusDeclined:
			return "⊘"
		case orchestrator.StatusFailed:
			return "✗"
		}
		return "…"
	},
	"tvThousands": Thousands,
	"tvDuration": func(o *orchestrator.Outcome) string {
		if o.End.IsZero() || o.Start.IsZero() {
			return ""
		}
		return o.End.Sub(o.Start).Round(time.Millisecond).String()
	},
	"tvOpen": func(o *orchestrator.Outcome) bool {
		return o.Depth == 0 || o.Status != orchestrator.StatusCompleted
	},
	"tvAnswer": func(r *orchestrator.EscalationRecord) string {
		switch {
		case r.Resolution == nil:
			return "unanswered"
		case r.Resolution.Refused:
			return "refused by " + r.Resolution.By.Words()
		}
		s := r.Resolution.Answer
		if r.Resolution.Decision != "" && r.Resolution.Decision != s {
			s = r.Resolution.Decision + ": " + s
		}
		return s + " (" + r.Resolution.By.Words() + ")"
	},
	"tvAt": func(xs []string, i int) string {
		if i < len(xs) {
			return xs[i]
		}
		return ""
	},
}

var tmpl = template.Must(template.New("treeview").Funcs(Funcs).Parse(source))

// Template returns a copy of the tree's templates ("tree" renders a root
// *orchestrator.Outcome, "delegation" one node), for a page's template to
// add its own to.
func Template() *template.Template { return template.Must(tmpl.Clone()) }

// Write renders the tree of root to w; a nil root writes a note that the
// run has no delegation yet.
func Write(w io.Writer, root *orchestrator.Outcome) error {
	return tmpl.ExecuteTemplate(w, "tree", root)
}

// Thousands renders n with thousands separators: 12,345.
func Thousands(n int) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
