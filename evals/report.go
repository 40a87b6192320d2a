package evals

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SchemaVersion is the version of report.json's schema (see REPORT.md). It
// changes only when a field changes meaning or goes away; new fields may
// appear within a version.
const SchemaVersion = 1

// Report is the result of a run: report.json. Its schema is documented in
// REPORT.md and versioned by SchemaVersion.
type Report struct {
	// SchemaVersion is SchemaVersion when the report was written.
	SchemaVersion int `json:"schema_version"`
	// Generator names what wrote the report.
	Generator string `json:"generator"`
	// Run describes the run.
	Run RunInfo `json:"run"`
	// Summary aggregates every trial of every model.
	Summary Summary `json:"summary"`
	// Models aggregates per model variant, in the run's order.
	Models []ModelSummary `json:"models"`
	// Scenarios has one entry per scenario and model, in suite order.
	Scenarios []ScenarioSummary `json:"scenarios"`
	// Modes has one entry per failure mode and model.
	Modes []ModeSummary `json:"modes"`
	// Trials are the trial records, by scenario, model and trial.
	Trials []*TrialRecord `json:"trials"`
}

// RunInfo describes a run.
type RunInfo struct {
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Interrupted bool      `json:"interrupted,omitempty"`
	// StoppedEarly says why the run stopped before its last trial
	// (RunnerOptions.MaxErrors); empty when it did not.
	StoppedEarly string `json:"stopped_early,omitempty"`
	// Trials per scenario and model; Parallel the concurrency bound.
	Trials   int   `json:"trials"`
	Parallel int   `json:"parallel"`
	Seed     int64 `json:"seed"`
	// Timeout bounds each trial; serialised as timeout_ms.
	Timeout   time.Duration `json:"-"`
	TimeoutMS int64         `json:"timeout_ms"`
	MinPass   float64       `json:"min_pass"`
	Models    []string      `json:"models"`
	Suite     []string      `json:"suite,omitempty"`
}

// Summary aggregates trials.
type Summary struct {
	Trials       int `json:"trials"`
	TrialsPassed int `json:"trials_passed"`
	// Expectations counts expectation results; PassRate is the share that
	// passed, what --min-pass compares against.
	Expectations       int     `json:"expectations"`
	ExpectationsPassed int     `json:"expectations_passed"`
	PassRate           float64 `json:"pass_rate"`
	// PassAt1 is the mean over tasks (scenario × model) of the share of
	// passing trials; PassHatK[k-1] is τ-bench's pass^k and PassAtK[k-1]
	// pass@k, each averaged over tasks, for k = 1..trials.
	PassAt1  float64   `json:"pass_at_1"`
	PassHatK []float64 `json:"pass_hat_k"`
	PassAtK  []float64 `json:"pass_at_k"`
	// Ask is escalation precision and recall over labelled scenarios.
	Ask AskStats `json:"ask"`
	// Violations counts protocol.violation events.
	Violations int `json:"violations"`
	// Errors counts trials that could not run or ended in an error;
	// TimedOut those stopped by their timeout.
	Errors   int `json:"errors"`
	TimedOut int `json:"timed_out"`
	// Errored counts the trials that ended on an infrastructure error:
	// they are in Trials but in no pass rate, pass@1, pass^k, Ask or
	// expectation count, which are over the Trials - Errored scored ones.
	// ErrorKinds counts them by kind.
	Errored    int            `json:"errored"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// Usage sums the trials' usage.
	Usage Usage `json:"usage"`
	// DurationP50MS and DurationP95MS are percentiles of trial wall time.
	DurationP50MS float64 `json:"duration_p50_ms"`
	DurationP95MS float64 `json:"duration_p95_ms"`
}

// ModelSummary is the summary of one model variant.
type ModelSummary struct {
	Model string `json:"model"`
	Summary
}

// ExpectationSummary is how often one expectation of a scenario passed.
type ExpectationSummary struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Passed int    `json:"passed"`
	Total  int    `json:"total"`
}

// ScenarioSummary aggregates the trials of one scenario with one model.
type ScenarioSummary struct {
	Scenario       string   `json:"scenario"`
	Model          string   `json:"model"`
	Description    string   `json:"description,omitempty"`
	Modes          []string `json:"modes,omitempty"`
	Tags           []string `json:"tags,omitempty"`
	ShouldEscalate *bool    `json:"should_escalate,omitempty"`
	Trials         int      `json:"trials"`
	Passed         int      `json:"passed"`
	// Errored counts the trials that ended on an infrastructure error,
	// left out of the pass rates (see Summary.Errored).
	Errored int `json:"errored"`
	// PassAt1, PassHatK and PassAtK as in Summary, for this task alone.
	PassAt1  float64   `json:"pass_at_1"`
	PassHatK []float64 `json:"pass_hat_k"`
	PassAtK  []float64 `json:"pass_at_k"`
	// Statuses counts trials by how they ended ("unfinished" when not).
	Statuses     map[string]int       `json:"statuses"`
	Expectations []ExpectationSummary `json:"expectations"`
	// Incidents and Caught count failure-mode incidents by mode id.
	Incidents  map[string]int `json:"incidents"`
	Caught     map[string]int `json:"caught"`
	Asked      int            `json:"asked"`
	Violations int            `json:"violations"`
	Usage      Usage          `json:"usage"`
	// MeanTokens and MeanDurationMS are per trial.
	MeanTokens     float64 `json:"mean_tokens"`
	MeanDurationMS float64 `json:"mean_duration_ms"`
}

// ModeSummary aggregates one failure mode's incidents for one model.
type ModeSummary struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Model string `json:"model"`
	// Targeted names the scenarios that target the mode.
	Targeted []string `json:"targeted,omitempty"`
	// Trials is the number of trials; TrialsWith those with an incident.
	Trials     int `json:"trials"`
	TrialsWith int `json:"trials_with"`
	Incidents  int `json:"incidents"`
	Caught     int `json:"caught"`
	// CatchRate is Caught/Incidents, null without incidents.
	CatchRate *float64 `json:"catch_rate"`
}

// BuildReport aggregates records into a report. suite gives the scenarios'
// order and labels; info describes the run.
func BuildReport(records []*TrialRecord, suite []*Scenario, info *RunInfo) *Report {
	rep := &Report{SchemaVersion: SchemaVersion, Generator: "entrust evals"}
	if info != nil {
		rep.Run = *info
		rep.Run.TimeoutMS = info.Timeout.Milliseconds()
	}
	models := rep.Run.Models
	for _, r := range records {
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
	}
	rep.Run.Models = models
	byName := map[string]*Scenario{}
	var order []string
	for _, sc := range suite {
		byName[sc.Name] = sc
		order = append(order, sc.Name)
	}
	for _, r := range records {
		if !slices.Contains(order, r.Scenario) {
			order = append(order, r.Scenario)
		}
	}
	recs := slices.Clone(records)
	slices.SortStableFunc(recs, func(a, b *TrialRecord) int {
		if c := slices.Index(order, a.Scenario) - slices.Index(order, b.Scenario); c != 0 {
			return c
		}
		if c := slices.Index(models, a.Model) - slices.Index(models, b.Model); c != 0 {
			return c
		}
		return a.Trial - b.Trial
	})
	rep.Trials = recs
	rep.Summary = summarize(recs)
	for _, m := range models {
		var sub []*TrialRecord
		for _, r := range recs {
			if r.Model == m {
				sub = append(sub, r)
			}
		}
		rep.Models = append(rep.Models, ModelSummary{Model: m, Summary: summarize(sub)})
	}
	for _, name := range order {
		for _, m := range models {
			var sub []*TrialRecord
			for _, r := range recs {
				if r.Scenario == name && r.Model == m {
					sub = append(sub, r)
				}
			}
			if len(sub) > 0 {
				rep.Scenarios = append(rep.Scenarios, scenarioSummary(byName[name], name, m, sub))
			}
		}
	}
	for _, mode := range modes {
		var targeted []string
		for _, sc := range suite {
			if slices.Contains(sc.Modes, mode.ID) {
				targeted = append(targeted, sc.Name)
			}
		}
		for _, m := range models {
			ms := ModeSummary{ID: mode.ID, Name: mode.Name, Model: m, Targeted: targeted}
			for _, r := range recs {
				if r.Model != m || r.Errored {
					continue
				}
				ms.Trials++
				with := false
				for _, inc := range r.Incidents {
					if inc.Mode == mode.ID {
						with = true
						ms.Incidents++
						if inc.Caught {
							ms.Caught++
						}
					}
				}
				if with {
					ms.TrialsWith++
				}
			}
			if ms.Incidents > 0 {
				cr := float64(ms.Caught) / float64(ms.Incidents)
				ms.CatchRate = &cr
			}
			rep.Modes = append(rep.Modes, ms)
		}
	}
	return rep
}

// tasks groups the scored (not errored) records by scenario and model.
func tasks(recs []*TrialRecord) [][]*TrialRecord {
	idx := map[string]int{}
	var out [][]*TrialRecord
	for _, r := range recs {
		if r.Errored {
			continue
		}
		k := r.Scenario + "\x00" + r.Model
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

// passCurves returns pass@1 and the pass^k and pass@k curves averaged over
// tasks, for k up to the fewest trials of any task.
func passCurves(ts [][]*TrialRecord) (at1 float64, hat, at []float64) {
	if len(ts) == 0 {
		return 0, []float64{}, []float64{}
	}
	kmax := len(ts[0])
	for _, t := range ts {
		kmax = min(kmax, len(t))
	}
	hat, at = make([]float64, kmax), make([]float64, kmax)
	for _, t := range ts {
		n, c := len(t), 0
		for _, r := range t {
			if r.Pass {
				c++
			}
		}
		at1 += float64(c) / float64(n)
		for k := 1; k <= kmax; k++ {
			hat[k-1] += PassHatK(n, c, k)
			at[k-1] += PassAtK(n, c, k)
		}
	}
	f := float64(len(ts))
	for k := range hat {
		hat[k] /= f
		at[k] /= f
	}
	return at1 / f, hat, at
}

func summarize(recs []*TrialRecord) Summary {
	s := Summary{Trials: len(recs)}
	var durations []float64
	for _, r := range recs {
		if r.Error != "" {
			s.Errors++
		}
		if r.Errored {
			s.Errored++
			if s.ErrorKinds == nil {
				s.ErrorKinds = map[string]int{}
			}
			s.ErrorKinds[r.ErrorKind]++
		}
		if r.Pass {
			s.TrialsPassed++
		}
		for _, e := range r.Expectations {
			if r.Errored {
				break
			}
			s.Expectations++
			if e.Pass {
				s.ExpectationsPassed++
			}
		}
		if r.TimedOut {
			s.TimedOut++
		}
		s.Violations += r.Violations
		s.Usage = s.Usage.add(r.Usage)
		durations = append(durations, r.DurationMS)
	}
	if s.Expectations > 0 {
		s.PassRate = float64(s.ExpectationsPassed) / float64(s.Expectations)
	}
	s.PassAt1, s.PassHatK, s.PassAtK = passCurves(tasks(recs))
	s.Ask = askStats(recs)
	s.DurationP50MS = percentile(durations, 50)
	s.DurationP95MS = percentile(durations, 95)
	return s
}

func scenarioSummary(sc *Scenario, name, model string, recs []*TrialRecord) ScenarioSummary {
	ss := ScenarioSummary{Scenario: name, Model: model, Trials: len(recs), Statuses: map[string]int{},
		Incidents: map[string]int{}, Caught: map[string]int{}}
	if sc != nil {
		ss.Description, ss.Modes, ss.Tags, ss.ShouldEscalate = sc.Description, sc.Modes, sc.Tags, sc.ShouldEscalate
	}
	var ids []string
	byID := map[string]*ExpectationSummary{}
	var dur float64
	for _, r := range recs {
		if r.Pass {
			ss.Passed++
		}
		if r.Errored {
			ss.Errored++
		}
		st := r.Status
		if st == "" {
			st = "unfinished"
		}
		ss.Statuses[st]++
		if r.Asked {
			ss.Asked++
		}
		ss.Violations += r.Violations
		ss.Usage = ss.Usage.add(r.Usage)
		dur += r.DurationMS
		for _, e := range r.Expectations {
			if r.Errored {
				break
			}
			es := byID[e.ID]
			if es == nil {
				es = &ExpectationSummary{ID: e.ID, Kind: e.Kind, Name: e.Name}
				byID[e.ID] = es
				ids = append(ids, e.ID)
			}
			es.Total++
			if e.Pass {
				es.Passed++
			}
		}
		for _, inc := range r.Incidents {
			ss.Incidents[inc.Mode]++
			if inc.Caught {
				ss.Caught[inc.Mode]++
			}
		}
	}
	for _, id := range ids {
		ss.Expectations = append(ss.Expectations, *byID[id])
	}
	ss.PassAt1, ss.PassHatK, ss.PassAtK = passCurves(tasks(recs))
	ss.MeanTokens = float64(ss.Usage.TotalTokens) / float64(len(recs))
	ss.MeanDurationMS = dur / float64(len(recs))
	return ss
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFiles writes report.json, report.md and report.html into dir.
func (r *Report) WriteFiles(dir string) error {
	js, err := r.JSON()
	if err != nil {
		return fmt.Errorf("evals: report.json: %w", err)
	}
	var md, html bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		return fmt.Errorf("evals: report.md: %w", err)
	}
	if err := r.HTML(&html); err != nil {
		return fmt.Errorf("evals: report.html: %w", err)
	}
	for name, data := range map[string][]byte{"report.json": js, "report.md": md.Bytes(), "report.html": html.Bytes()} {
		if err := writeAtomic(filepath.Join(dir, name), data); err != nil {
			return fmt.Errorf("evals: %w", err)
		}
	}
	return nil
}

// writeAtomic writes data to a temporary file and renames it into place.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	// A report is for reading, by others too: not CreateTemp's 0600.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// ReadReport reads a report.json, or the report.json of a run directory.
func ReadReport(path string) (*Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "report.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, this build reads %d", path, r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// Failed returns the records of trials that did not pass.
func (r *Report) Failed() []*TrialRecord {
	var out []*TrialRecord
	for _, t := range r.Trials {
		if !t.Pass {
			out = append(out, t)
		}
	}
	return out
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func pctPtr(f *float64) string {
	if f == nil {
		return "–"
	}
	return pct(*f)
}

// hatK renders pass^k at its largest k (every trial of the task passes):
// one number, however many trials; the whole curve is in report.json and
// drawn in report.html.
func hatK(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v[len(v)-1])
}
