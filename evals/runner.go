package evals

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/evals/internal/trialfile"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// RunnerOptions configure a Runner. The zero value runs each scenario once
// with the simulator, GOMAXPROCS trials at a time, and writes nothing.
type RunnerOptions struct {
	// Trials is the number of trials of each scenario with each variant;
	// default 1.
	Trials int
	// Parallel bounds the trials running at once; default GOMAXPROCS.
	Parallel int
	// Variants are the model variants; default the simulator alone.
	Variants []Variant
	// Seed is the run's seed, from which each trial's is derived; 0 is a
	// seed like any other.
	Seed int64
	// Timeout bounds each trial (a scenario's own timeout wins); default
	// two minutes.
	Timeout time.Duration
	// OutDir is the run directory: trials.jsonl, journals/ and the
	// reports are written there. Empty writes nothing.
	OutDir string
	// Checks resolves the scenarios' "check:" expectations; nil uses
	// BuiltinChecks. A registry of one's own should start from
	// BuiltinChecks to run the built-in suite.
	Checks *Checks
	// Prices turn usage into cost; nil leaves cost at 0.
	Prices Prices
	// Models makes the models of agents whose team file names a real
	// model rather than sim or script; nil makes such scenarios a
	// configuration error.
	Models ModelFactory
	// MaxErrors stops the run once that many trials have errored (ended
	// on an infrastructure error, see InfraError): no new trial starts, the
	// running ones finish. Zero runs every trial.
	MaxErrors int
	// OnTrial is called with each trial's record as it ends, one call at
	// a time: a progress display hooks in here.
	OnTrial func(*TrialRecord)
	// Runtime, when set, adjusts each trial's runtime options before the
	// runtime is built (e.g. test hooks that switch a safeguard off).
	Runtime func(sc *Scenario, opts *orchestrator.Options)
	// KeepWorkspaces leaves each trial's workspace directory in place
	// (under OutDir/workspaces when OutDir is set); by default it is
	// removed once the trial is scored.
	KeepWorkspaces bool
	// MinPass is recorded in the report's config; the runner does not
	// act on it.
	MinPass float64
	// Suite names what ran (paths, or "builtin"), for the report.
	Suite []string
}

// Runner runs scenarios × variants × trials and scores them. It is
// immutable and safe for concurrent use.
type Runner struct {
	opts RunnerOptions
}

// NewRunner returns a runner. opts may be nil.
func NewRunner(opts *RunnerOptions) (*Runner, error) {
	r := &Runner{}
	if opts != nil {
		r.opts = *opts
	}
	o := &r.opts
	if o.Trials <= 0 {
		o.Trials = 1
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Checks == nil {
		o.Checks = BuiltinChecks()
	}
	if len(o.Variants) == 0 {
		o.Variants = []Variant{SimVariant()}
	}
	seen := map[string]bool{}
	for _, v := range o.Variants {
		if v.Name == "" || !scenarioNameRE.MatchString(trialfile.Safe(v.Name)) {
			return nil, fmt.Errorf("evals: variant name %q is empty or unusable", v.Name)
		}
		if seen[v.Name] {
			return nil, fmt.Errorf("evals: two variants named %q", v.Name)
		}
		seen[v.Name] = true
	}
	return r, nil
}

// Validate reports what in suite this runner cannot run: duplicate names,
// checks that are not registered.
func (r *Runner) Validate(suite []*Scenario) error {
	var errs []error
	seen := map[string]bool{}
	for _, sc := range suite {
		if seen[sc.Name] {
			errs = append(errs, fmt.Errorf("%s: two scenarios named %q", sc.File, sc.Name))
		}
		seen[sc.Name] = true
		if sc.Team == nil {
			errs = append(errs, fmt.Errorf("%s: scenario %s has no team", sc.File, sc.Name))
		}
		for i := range sc.Expect {
			if n := sc.Expect[i].Check; n != "" {
				if _, ok := r.opts.Checks.lookup(n); !ok {
					errs = append(errs, &Error{File: sc.File, Line: sc.Expect[i].Line, Field: fmt.Sprintf("expect[%d].check", i),
						Msg: fmt.Sprintf("no check registered as %q (registered: %v)", n, r.opts.Checks.Names())})
				}
			}
		}
	}
	return errors.Join(errs...)
}

// job is one trial to run.
type job struct {
	sc      *Scenario
	variant *Variant
	index   int
}

// Run runs every scenario of suite with every variant, Trials times each,
// at most Parallel at once, and returns the report. It first makes one
// short call to each real model (a preflight): an endpoint that refuses
// the key, does not know the model or cannot be reached stops the run
// there, with a *PreflightError and no report. Records stream into
// OutDir/trials.jsonl and journals into OutDir/journals/ as trials end; the
// reports (report.json, report.md, report.html) are written at the end. A
// cancelled ctx stops new trials, cancels those running and returns the
// report of what ran, marked interrupted, with ctx's error.
func (r *Runner) Run(ctx context.Context, suite []*Scenario) (*Report, error) {
	if err := r.Validate(suite); err != nil {
		return nil, err
	}
	o := &r.opts
	start := time.Now()
	if err := r.preflight(ctx, suite); err != nil {
		return nil, err
	}
	var out *runOutput
	if o.OutDir != "" {
		var err error
		if out, err = newRunOutput(o.OutDir); err != nil {
			return nil, err
		}
		defer out.close()
	}
	var jobs []job
	for _, sc := range suite {
		for vi := range o.Variants {
			for i := 1; i <= o.Trials; i++ {
				jobs = append(jobs, job{sc: sc, variant: &o.Variants[vi], index: i})
			}
		}
	}
	records := make([]*TrialRecord, len(jobs))
	var mu sync.Mutex // serialises OnTrial and the trials file
	var writeErr error
	errored := 0
	stop := make(chan struct{}) // closed when MaxErrors trials have errored
	var stopped string
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.Parallel, max(len(jobs), 1)) {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				rec := r.runJob(ctx, j, out)
				if ctx.Err() != nil {
					// Cut short by the run's end (an interrupt): not a
					// trial of the scenario, so not in the report.
					continue
				}
				records[i] = rec
				mu.Lock()
				if out != nil {
					if err := out.writeRecord(rec); err != nil && writeErr == nil {
						writeErr = err
					}
				}
				if o.OnTrial != nil {
					o.OnTrial(rec)
				}
				if rec.Errored {
					errored++
					if o.MaxErrors > 0 && errored == o.MaxErrors {
						stopped = fmt.Sprintf("%d trials errored (the bound is %d); the last: %s", errored, o.MaxErrors, rec.Error)
						close(stop)
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		case <-stop:
			break feed
		}
	}
	close(next)
	wg.Wait()

	var ran []*TrialRecord
	for _, rec := range records {
		if rec != nil {
			ran = append(ran, rec)
		}
	}
	rep := BuildReport(ran, suite, &RunInfo{
		Started: start, Finished: time.Now(), Interrupted: ctx.Err() != nil, StoppedEarly: stopped,
		Trials: o.Trials, Parallel: o.Parallel, Seed: o.Seed, Timeout: o.Timeout, MinPass: o.MinPass,
		Models: variantNames(o.Variants), Suite: o.Suite,
	})
	if out != nil {
		if err := rep.WriteFiles(o.OutDir); err != nil && writeErr == nil {
			writeErr = err
		}
	}
	return rep, errors.Join(writeErr, context.Cause(ctx))
}

func variantNames(vs []Variant) []string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return names
}

// runJob runs and scores one trial, writing its journal into the run
// directory when there is one.
func (r *Runner) runJob(ctx context.Context, j job, out *runOutput) *TrialRecord {
	var sinks []orchestrator.Sink
	var journalPath string
	var journal *orchestrator.Journal
	var journalErr error
	if out != nil {
		journalPath = filepath.Join("journals", trialfile.JournalName(j.sc.Name, j.variant.Name, j.index))
		if journal, journalErr = orchestrator.CreateJournal(filepath.Join(out.dir, journalPath)); journalErr == nil {
			sinks = append(sinks, journal)
		} else {
			journalPath = ""
		}
	}
	t := r.runTrial(ctx, j.sc, j.variant, j.index, sinks, out)
	if journal != nil {
		journalErr = journal.Close()
	}
	if journalErr != nil {
		t.Err = errors.Join(t.Err, journalErr)
	}
	rec := Record(t, r.opts.Checks, r.opts.Prices)
	rec.Journal = filepath.ToSlash(journalPath)
	rec.TimedOut = errors.Is(t.Err, context.DeadlineExceeded) && ctx.Err() == nil
	return rec
}

// RunTrial runs one trial of sc with variant v, unscored: the caller scores
// it with Score, Detect or Record. index numbers it from 1. Extra sinks
// receive its events.
func (r *Runner) RunTrial(ctx context.Context, sc *Scenario, v Variant, index int, sinks ...orchestrator.Sink) *Trial {
	return r.runTrial(ctx, sc, &v, index, sinks, nil)
}

func (r *Runner) runTrial(ctx context.Context, sc *Scenario, v *Variant, index int, sinks []orchestrator.Sink, out *runOutput) *Trial {
	o := &r.opts
	t := &Trial{Scenario: sc, Variant: v.Name, Index: index, Seed: trialfile.Seed(o.Seed, sc.Name, v.Name, index)}
	start := time.Now()
	defer func() { t.Duration = time.Since(start) }()

	defer func() {
		if t.Errored == nil && len(t.Events) == 0 && t.Err != nil {
			t.Errored = &InfraError{Kind: ErrorSetup, Err: t.Err}
		}
	}()
	dir, cleanup, err := r.workspaceDir(sc, v, index, out)
	if err != nil {
		t.Err = err
		return t
	}
	defer cleanup()
	for p, content := range sc.Workspace {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Err = err
			return t
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Err = err
			return t
		}
	}
	ws, err := workspace.New(dir)
	if err != nil {
		t.Err = err
		return t
	}
	defer ws.Close()
	tools := map[string]agents.Tool{}
	for _, tool := range ws.Tools() {
		tools[tool.Def().Name] = tool
	}
	// The real models' infrastructure errors are watched: a trial that
	// ends on one is errored, not scored.
	watch := &infraWatch{}
	defer func() { t.Errored = erroredBy(t, watch) }()
	team, err := sc.Team.Build(&teamfile.BuildOptions{
		Tools: tools,
		Model: func(spec teamfile.AgentSpec) (model.Model, error) {
			m, real, err := sc.modelFor(spec, v, t.Seed, o.Models)
			if real {
				m = watch.watch(m)
			}
			return m, err
		},
	})
	if err != nil {
		t.Err = err
		return t
	}
	mem := &orchestrator.Memory{}
	opts := &orchestrator.Options{Sinks: append([]orchestrator.Sink{mem}, sinks...), Limits: sc.Limits, Workspace: ws.FS(), WorkspaceDir: ws.Dir()}
	opts.Supervisor = sc.Supervisor.supervisor()
	if sc.Principal == "deny" {
		opts.Principal = orchestrator.AutoPrincipal{Deny: true}
	}
	if o.Runtime != nil {
		o.Runtime(sc, opts)
	}
	rt, err := orchestrator.New(team, opts)
	if err != nil {
		t.Err = err
		return t
	}
	timeout := o.Timeout
	if sc.Timeout > 0 {
		timeout = sc.Timeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out2, err := rt.Run(tctx, sc.Goal.goal(dir))
	t.Outcome, t.Events = out2, mem.Events()
	if err != nil {
		// A goal that did not complete is scored, not an error; a sink's
		// error joined to it is.
		var ge *orchestrator.GoalError
		if !errors.As(err, &ge) || err != error(ge) {
			t.Err = err
		}
	}
	if tctx.Err() != nil {
		t.Err = errors.Join(t.Err, context.Cause(tctx))
	}
	t.Files = snapshot(dir)
	return t
}

// workspaceDir makes a trial's workspace and returns how to clean it up.
func (r *Runner) workspaceDir(sc *Scenario, v *Variant, index int, out *runOutput) (string, func(), error) {
	if r.opts.KeepWorkspaces && out != nil {
		dir := filepath.Join(out.dir, "workspaces", strings.TrimSuffix(trialfile.JournalName(sc.Name, v.Name, index), ".jsonl"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "entrust-eval-*")
	if err != nil {
		return "", nil, err
	}
	if r.opts.KeepWorkspaces {
		return dir, func() {}, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// runOutput is a run directory being written.
type runOutput struct {
	dir    string
	f      *os.File
	w      *bufio.Writer
	closed bool
}

func newRunOutput(dir string) (*runOutput, error) {
	if err := os.MkdirAll(filepath.Join(dir, "journals"), 0o755); err != nil {
		return nil, fmt.Errorf("evals: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "trials.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("evals: %w", err)
	}
	return &runOutput{dir: dir, f: f, w: bufio.NewWriter(f)}, nil
}

// writeRecord appends one line to trials.jsonl and flushes it.
func (o *runOutput) writeRecord(rec *TrialRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	o.w.Write(b)
	o.w.WriteByte('\n')
	return o.w.Flush()
}

func (o *runOutput) close() {
	if !o.closed {
		o.closed = true
		_ = o.w.Flush()
		_ = o.f.Close()
	}
}

// ReadTrials reads a trials.jsonl file.
func ReadTrials(r io.Reader) ([]*TrialRecord, error) {
	var out []*TrialRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		rec := new(TrialRecord)
		if err := json.Unmarshal(sc.Bytes(), rec); err != nil {
			return out, fmt.Errorf("trials line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// TrialFromJournal rebuilds a trial of sc from its journal file, to score
// it again (with Score, Detect or Record). Files is empty: file
// expectations fail unless the caller fills it.
func TrialFromJournal(sc *Scenario, variant string, index int, r io.Reader) (*Trial, error) {
	events, _, err := orchestrator.ReadJournal(r)
	if err != nil {
		return nil, err
	}
	return &Trial{Scenario: sc, Variant: variant, Index: index, Events: events, Files: map[string]string{}}, nil
}
