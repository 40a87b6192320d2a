package evals

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// Usage is what a trial (or a set of them) spent, from the journal's
// model.called events.
type Usage struct {
	// PromptTokens, CompletionTokens and CachedTokens are summed from the
	// calls' usage; TotalTokens is prompt plus completion.
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
	TotalTokens      int `json:"total_tokens"`
	// ModelCalls counts model.called events; ModelErrors those with an
	// error; Steps those of delegates' own turns (purpose "turn").
	ModelCalls  int `json:"model_calls"`
	ModelErrors int `json:"model_errors,omitempty"`
	Steps       int `json:"steps"`
	// LatencyMS sums the latency of the model calls.
	LatencyMS float64 `json:"latency_ms"`
	// CostUSD is the cost by the price table; 0 without one.
	CostUSD float64 `json:"cost_usd,omitempty"`
	// Compactions counts the conversations compacted to fit their agent's
	// context budget (context.compacted events).
	Compactions int `json:"compactions,omitempty"`
}

// add returns the sum of u and v.
func (u Usage) add(v Usage) Usage {
	return Usage{
		PromptTokens: u.PromptTokens + v.PromptTokens, CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		CachedTokens: u.CachedTokens + v.CachedTokens, TotalTokens: u.TotalTokens + v.TotalTokens,
		ModelCalls: u.ModelCalls + v.ModelCalls, ModelErrors: u.ModelErrors + v.ModelErrors, Steps: u.Steps + v.Steps,
		LatencyMS: u.LatencyMS + v.LatencyMS, CostUSD: u.CostUSD + v.CostUSD, Compactions: u.Compactions + v.Compactions,
	}
}

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	// InputPerMTok prices prompt tokens; OutputPerMTok completion tokens.
	InputPerMTok  float64 `json:"input_per_mtok" yaml:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok" yaml:"output_per_mtok"`
	// CachedPerMTok prices cached prompt tokens; 0 prices them as input.
	CachedPerMTok float64 `json:"cached_per_mtok,omitempty" yaml:"cached_per_mtok"`
}

// Prices maps model names (as model.called reports them: the server's
// response model when it differs, else the model asked for) to prices. A name
// missing from the table takes the price of its longest prefix in it, so
// "gpt-4o-mini" prices the dated "gpt-4o-mini-2024-07-18"; the key "*"
// prices every other model.
type Prices map[string]Price

// Cost returns the cost of usage u of the model named name, 0 when the
// table prices neither it, nor a prefix of it, nor "*".
func (p Prices) Cost(name string, u model.Usage) float64 {
	pr, ok := p[name]
	if !ok {
		best := ""
		for k := range p {
			if k != "*" && strings.HasPrefix(name, k) && len(k) > len(best) {
				best = k
			}
		}
		if best == "" {
			best = "*"
		}
		if pr, ok = p[best]; !ok {
			return 0
		}
	}
	cachedPrice := pr.CachedPerMTok
	if cachedPrice == 0 {
		cachedPrice = pr.InputPerMTok
	}
	uncached := max(u.PromptTokens-u.CachedTokens, 0)
	return (float64(uncached)*pr.InputPerMTok + float64(u.CachedTokens)*cachedPrice + float64(u.CompletionTokens)*pr.OutputPerMTok) / 1e6
}

// UsageOf sums the model.called events of t, pricing them with prices
// (which may be nil).
func UsageOf(t *Trial, prices Prices) Usage {
	var u Usage
	for _, e := range t.Events {
		if e.Type == orchestrator.EventContextCompacted {
			u.Compactions++
		}
		if e.Type != orchestrator.EventModelCalled {
			continue
		}
		u.ModelCalls++
		if e.Error != "" {
			u.ModelErrors++
		}
		if e.Purpose == model.PurposeTurn {
			u.Steps++
		}
		u.LatencyMS += e.LatencyMS
		if e.Usage != nil {
			u.PromptTokens += e.Usage.PromptTokens
			u.CompletionTokens += e.Usage.CompletionTokens
			u.CachedTokens += e.Usage.CachedTokens
			u.TotalTokens += e.Usage.Total()
			name := e.Model
			if e.ResponseModel != "" {
				name = e.ResponseModel // the dated snapshot the server used
			}
			u.CostUSD += prices.Cost(name, *e.Usage)
		}
	}
	return u
}

// TrialRecord is the scored summary of one trial: one line of trials.jsonl
// and one entry of report.json's trials.
type TrialRecord struct {
	// Scenario names the scenario.
	Scenario string `json:"scenario"`
	// Model is the model variant's name.
	Model string `json:"model"`
	// Trial numbers the trial within its scenario and model, from 1.
	Trial int   `json:"trial"`
	Seed  int64 `json:"seed"`
	// Pass says every expectation that applies passed (and the trial ran).
	Pass bool `json:"pass"`
	// Status is how the run ended: completed, declined, failed, or "" when
	// it did not finish.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Error is a setup or runtime error; TimedOut says the trial's
	// timeout stopped it.
	Error    string `json:"error,omitempty"`
	TimedOut bool   `json:"timed_out,omitempty"`
	// Errored says the trial ended on an infrastructure error (Error says
	// which, ErrorKind its kind: auth, not_found, unreachable, rate_limit,
	// server, timeout, transport, setup): it measured no behaviour, so it
	// is left out of every pass rate and score.
	Errored   bool   `json:"errored,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
	// Expectations are the expectations' results, in the scenario's order.
	Expectations []Result `json:"expectations"`
	// Incidents are the failure-mode incidents the detectors found.
	Incidents []Incident `json:"incidents,omitempty"`
	// Asked says an agent escalated or asked for clarification;
	// ShouldEscalate is the scenario's label.
	Asked          bool  `json:"asked"`
	ShouldEscalate *bool `json:"should_escalate,omitempty"`
	Violations     int   `json:"violations"`
	Usage          Usage `json:"usage"`
	// DurationMS is the trial's wall time.
	DurationMS float64   `json:"duration_ms"`
	Start      time.Time `json:"start"`
	// Journal is the trial's journal, relative to the run directory.
	Journal string `json:"journal,omitempty"`
	// Tree is the delegation tree rebuilt from the journal.
	Tree *Node `json:"tree,omitempty"`

	// outcome is the tree as orchestrator.Rebuild makes it, with what
	// replay shows, for report.html; kept for the trials the report
	// shows in full (see keepOutcome), nil in a report read back.
	outcome *orchestrator.Outcome
}

// keepOutcome is how many passing trials of a task the HTML report shows
// with their full tree; failing ones are shown up to maxTreesShown.
const keepOutcome = 2

// Record scores a finished trial: its expectations (with checks; nil
// resolves the built-in ones), its failure-mode incidents, its usage (priced with prices, which
// may be nil) and its delegation tree.
func Record(t *Trial, checks *Checks, prices Prices) *TrialRecord {
	rec := &TrialRecord{
		Scenario: t.Scenario.Name, Model: t.Variant, Trial: t.Index, Seed: t.Seed,
		Status: string(t.Status()), Reason: t.Reason(), DurationMS: float64(t.Duration) / 1e6,
		ShouldEscalate: t.Scenario.ShouldEscalate, Asked: t.Asked(),
		Violations: len(t.Of(orchestrator.EventProtocolViolation)), Usage: UsageOf(t, prices), Tree: t.Tree(),
	}
	if len(t.Events) > 0 {
		rec.Start = t.Events[0].Time
	}
	if t.Err != nil {
		rec.Error = t.Err.Error()
	}
	if t.Errored != nil {
		rec.Errored, rec.ErrorKind = true, t.Errored.Kind
		if rec.Error == "" {
			rec.Error = t.Errored.Err.Error()
		}
	}
	if len(t.Events) > 0 {
		rec.Expectations = Score(t, checks)
		rec.Incidents = Detect(t)
	} else {
		// The trial never ran: every expectation fails with the error.
		for i := range t.Scenario.Expect {
			e := &t.Scenario.Expect[i]
			if e.AppliesTo(t.Variant) {
				rec.Expectations = append(rec.Expectations, Result{ID: "e" + strconv.Itoa(i+1), Kind: e.Kind(), Name: e.describe(),
					Detail: "not run: " + rec.Error})
			}
		}
	}
	rec.Pass = len(t.Events) > 0 && !rec.Errored
	for _, r := range rec.Expectations {
		rec.Pass = rec.Pass && r.Pass
	}
	if !rec.Pass || t.Index <= keepOutcome {
		if root, err := orchestrator.Rebuild(t.Events); err == nil {
			rec.outcome = root
		}
	}
	return rec
}

// binomial returns C(n, k) as a float64.
func binomial(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// PassHatK is τ-bench's pass^k of one task with c successes in n trials:
// the chance that k trials drawn without replacement all pass, C(c,k)/C(n,k).
// It is NaN when k > n.
func PassHatK(n, c, k int) float64 {
	if k > n || k < 1 {
		return math.NaN()
	}
	return binomial(c, k) / binomial(n, k)
}

// PassAtK is the unbiased pass@k of one task (Chen et al., 2021): the chance
// that at least one of k trials drawn without replacement passes,
// 1 - C(n-c,k)/C(n,k). It is NaN when k > n.
func PassAtK(n, c, k int) float64 {
	if k > n || k < 1 {
		return math.NaN()
	}
	return 1 - binomial(n-c, k)/binomial(n, k)
}

// AskStats are escalation precision and recall over the labelled trials: a
// trial "asked" when an agent escalated or asked for clarification.
type AskStats struct {
	// TP asked and should have; FP asked and should not; FN should have
	// and did not; TN neither.
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
	TN int `json:"tn"`
	// Precision, Recall and F1 are null when undefined (no positives).
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	F1        *float64 `json:"f1"`
}

func askStats(recs []*TrialRecord) AskStats {
	var a AskStats
	for _, r := range recs {
		if r.ShouldEscalate == nil || r.Errored || (r.Error != "" && r.Status == "") {
			continue
		}
		switch should := *r.ShouldEscalate; {
		case should && r.Asked:
			a.TP++
		case !should && r.Asked:
			a.FP++
		case should && !r.Asked:
			a.FN++
		default:
			a.TN++
		}
	}
	if a.TP+a.FP > 0 {
		p := float64(a.TP) / float64(a.TP+a.FP)
		a.Precision = &p
	}
	if a.TP+a.FN > 0 {
		r := float64(a.TP) / float64(a.TP+a.FN)
		a.Recall = &r
	}
	if a.Precision != nil && a.Recall != nil && *a.Precision+*a.Recall > 0 {
		f := 2 * *a.Precision * *a.Recall / (*a.Precision + *a.Recall)
		a.F1 = &f
	}
	return a
}

// percentile returns the p-th percentile (0..100) of xs by nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
