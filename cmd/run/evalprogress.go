package main

import (
	"fmt"
	"io"
	"os"

	"github.com/entrust-dev/entrust/evals"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows an eval's trials ending: a bar on a terminal, one line per
// trial otherwise. Its methods are called one at a time (done is the
// runner's OnTrial).
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	total int
	n     int
	fails int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if w == nil {
		return p
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("trials"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(65_000_000),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) done(rec *evals.TrialRecord) {
	p.n++
	if !rec.Pass {
		p.fails++
	}
	switch {
	case p.bar != nil:
		if p.fails > 0 {
			p.bar.Describe(fmt.Sprintf("trials (%d failing)", p.fails))
		}
		_ = p.bar.Add(1)
	case p.w != nil:
		verdict := "pass"
		if !rec.Pass {
			verdict = "FAIL"
		}
		status := rec.Status
		if status == "" {
			status = "unfinished"
		}
		fmt.Fprintf(p.w, "[%*d/%d] %s %s/%s #%d %s (%.0f ms, %d tokens)\n", digits(p.total), p.n, p.total, verdict,
			rec.Scenario, rec.Model, rec.Trial, status, rec.DurationMS, rec.Usage.TotalTokens)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}
