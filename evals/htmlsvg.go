package evals

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
)

// The report's charts are inline SVG written here: no script, nothing
// fetched, and small at any number of trials (a histogram has a fixed
// number of bars, a curve one point per k).

// heatColor is the colour of a pass rate: red at 0, amber at ½, green at 1.
func heatColor(f float64) string {
	f = math.Max(0, math.Min(1, f))
	var r, g, b float64
	if f < 0.5 {
		t := f / 0.5
		r, g, b = 207+(212-207)*t, 34+(167-34)*t, 46+(44-46)*t
	} else {
		t := (f - 0.5) / 0.5
		r, g, b = 212+(26-212)*t, 167+(127-167)*t, 44+(55-44)*t
	}
	return fmt.Sprintf("#%02x%02x%02x", int(r), int(g), int(b))
}

// heatmap draws pass@1 per scenario (rows) and model (columns), each cell
// a link to the scenario's section.
func heatmap(r *Report) template.HTML {
	models := r.Run.Models
	var scenarios []string
	cell := map[string]*ScenarioSummary{}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if !slices.Contains(scenarios, s.Scenario) {
			scenarios = append(scenarios, s.Scenario)
		}
		cell[s.Scenario+"\x00"+s.Model] = s
	}
	const label, cw, ch, top = 190, 92, 20, 22
	w, h := label+cw*len(models), top+ch*len(scenarios)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="heat" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="pass@1 by scenario and model">`, w, h, w, h)
	for j, m := range models {
		fmt.Fprintf(&b, `<text x="%d" y="15" text-anchor="middle">%s</text>`, label+cw*j+cw/2, template.HTMLEscapeString(clipText(m, 14)))
	}
	for i, sc := range scenarios {
		y := top + ch*i
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, label-6, y+14, template.HTMLEscapeString(clipText(sc, 28)))
		for j, m := range models {
			s := cell[sc+"\x00"+m]
			x := label + cw*j
			if s == nil {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#eaeef2"/>`, x+1, y+1, cw-2, ch-2)
				continue
			}
			scored := s.Trials - s.Errored
			fill, text := "#8c959f", "errored"
			if scored > 0 {
				fill, text = heatColor(s.PassAt1), fmt.Sprintf("%s (%d/%d)", pct(s.PassAt1), s.Passed, scored)
			}
			fmt.Fprintf(&b, `<a href="#%s"><rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s · %s: %s</title></rect><text x="%d" y="%d" text-anchor="middle" fill="#fff">%s</text></a>`,
				template.HTMLEscapeString(anchor(sc, m)), x+1, y+1, cw-2, ch-2, fill, template.HTMLEscapeString(sc), template.HTMLEscapeString(m), text, x+cw/2, y+14, text)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// histogram draws the distribution of xs in 16 bars, with its range and
// median below; unit renders a value.
func histogram(xs []float64, unit func(float64) string) template.HTML {
	if len(xs) == 0 {
		return ""
	}
	lo, hi := slices.Min(xs), slices.Max(xs)
	const bins, bw, hgt = 16, 7, 26
	counts := make([]int, bins)
	for _, x := range xs {
		i := 0
		if hi > lo {
			i = min(int((x-lo)/(hi-lo)*bins), bins-1)
		}
		counts[i]++
	}
	most := slices.Max(counts)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="hist" width="%d" height="%d" viewBox="0 0 %d %d">`, bins*bw, hgt, bins*bw, hgt)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		bh := max(1, c*hgt/most)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d"><title>%d trials</title></rect>`, i*bw, hgt-bh, bw-1, bh, c)
	}
	fmt.Fprintf(&b, `</svg> <span class="muted">%s · median %s · %s</span>`, unit(lo), unit(percentile(xs, 50)), unit(hi))
	return template.HTML(b.String())
}

// curve draws pass^k (and pass@k, dashed) against k = 1…n.
func curve(hat, at []float64) template.HTML {
	n := len(hat)
	if n == 0 {
		return ""
	}
	const w, h, pad = 260, 90, 22
	x := func(k int) float64 {
		if n == 1 {
			return pad
		}
		return pad + float64(k)*(w-2*pad)/float64(n-1)
	}
	y := func(v float64) float64 { return h - pad/2 - v*(h-pad) }
	line := func(vs []float64) string {
		var pts []string
		for k, v := range vs {
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(k), y(v)))
		}
		return strings.Join(pts, " ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="curve" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="pass^k for k = 1 to %d">`, w, h, w, h, n)
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="axis"/><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="axis"/>`, pad, y(0), w-pad, y(0), pad, y(0), pad, y(1))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">1</text><text x="%d" y="%.1f" text-anchor="end">0</text>`, pad-3, y(1)+4, pad-3, y(0)+4)
	fmt.Fprintf(&b, `<text x="%d" y="%d">k=1</text><text x="%d" y="%d" text-anchor="end">k=%d</text>`, pad, h, w-pad, h, n)
	if len(at) == n && n > 1 {
		fmt.Fprintf(&b, `<polyline points="%s" class="at"><title>pass@k</title></polyline>`, line(at))
	}
	if n == 1 {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" class="hatdot"/>`, x(0), y(hat[0]))
	} else {
		fmt.Fprintf(&b, `<polyline points="%s" class="hat"><title>pass^k</title></polyline>`, line(hat))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// anchor is the id of a task's section.
func anchor(scenario, model string) string { return "s-" + scenario + "-" + model }

// trialAnchor is the id of a trial.
func trialAnchor(t *TrialRecord) string {
	return fmt.Sprintf("t-%s-%s-%d", t.Scenario, t.Model, t.Trial)
}
