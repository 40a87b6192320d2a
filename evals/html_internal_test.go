package evals

import (
	"fmt"
	"strings"
	"testing"
)

// TestHTMLReportAtScale: at 400 trials of each of the built-in scenarios
// the page stays under 2 MB, failures come first with links to their trial,
// each task's failing trials and a few passing ones show the tree replay
// shows, and the charts are inline SVG.
func TestHTMLReportAtScale(t *testing.T) {
	suite, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(&RunnerOptions{Trials: 3})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	// 400 trials a task from the 3 that ran: copies share their records'
	// trees; one in ten fails, one in fifty errored (so pass^k goes to
	// k = 392, the scored trials of a task).
	var recs []*TrialRecord
	for _, rec := range rep.Trials {
		if rec.Trial != 1 {
			continue
		}
		for i := 1; i <= 400; i++ {
			c := *rec
			c.Trial, c.Journal = i, fmt.Sprintf("journals/%s-sim-%d.jsonl", rec.Scenario, i)
			if i > keepOutcome {
				c.outcome = nil // as Record keeps it: failing and first trials only
			}
			switch {
			case i%50 == 0:
				c.Pass, c.Errored, c.ErrorKind, c.Error = false, true, ErrorServer, "openai: HTTP 503"
			case i%10 == 0:
				c.Pass, c.outcome = false, rec.outcome
				c.Expectations = append([]Result{{ID: "e1", Kind: "status", Name: "status is completed", Detail: "failed"}}, c.Expectations...)
			}
			recs = append(recs, &c)
		}
	}
	big := BuildReport(recs, suite, &RunInfo{Trials: 400, Models: []string{"sim"}})
	var b strings.Builder
	if err := big.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if len(page) > 2<<20 {
		t.Errorf("report.html is %d bytes at %d trials", len(page), len(recs))
	}
	failing := strings.Index(page, "Failing trials")
	summary := strings.Index(page, "<h2>Models</h2>")
	if failing < 0 || failing > summary || !strings.Contains(page, `href="#t-baseline-sim-10"`) || !strings.Contains(page, `id="t-baseline-sim-10"`) {
		t.Error("failures are not listed first with links to their trials")
	}
	for _, want := range []string{`<svg class="heat"`, `<svg class="curve"`, `<svg class="hist"`, "pass^392", "accepted", "verified",
		"Errored trials", "errored (server)", "… and ", "Ask-F1"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://", "1.00 1.00"} {
		if strings.Contains(page, banned) {
			t.Errorf("report.html has %q", banned)
		}
	}
	t.Logf("report.html: %d bytes for %d trials", len(page), len(recs))
}

// TestHTMLLinksResolve: every link to a trial in report.html has its
// anchor on the page.
func TestHTMLLinksResolve(t *testing.T) {
	var recs []*TrialRecord
	for i := 1; i <= 300; i++ {
		recs = append(recs, &TrialRecord{Scenario: "s", Model: "sim", Trial: i, Pass: i%3 != 0 && i%7 != 0, Errored: i%7 == 0, ErrorKind: ErrorServer, Error: "503"})
	}
	rep := BuildReport(recs, nil, &RunInfo{Trials: 300, Models: []string{"sim"}})
	var b strings.Builder
	if err := rep.HTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	n := 0
	for _, part := range strings.Split(page, `href="#`)[1:] {
		id := part[:strings.IndexByte(part, '"')]
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("a link to #%s has no anchor", id)
		}
		n++
	}
	if n == 0 {
		t.Error("no links to trials")
	}
}
