package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
)

// evalOptions are "run eval"'s.
type evalOptions struct {
	io *iostreams

	out              string
	trials, parallel int
	models           multiFlag
	baseURL, apiKey  string
	minPass          float64
	timeout          time.Duration
	seed             int64
	json             bool
	prices           string
	keep, list       bool
	quiet            bool
	maxErrors        int

	// suites are the suite directories and files; none runs the built-in
	// suite.
	suites []string
	// checks are the checks scenarios may name; nil is evals.BuiltinChecks.
	checks *evals.Checks
}

func newEvalCmd(io *iostreams) *cobra.Command {
	opts := &evalOptions{io: io}
	cmd := &cobra.Command{
		Use:   "eval [flags] [SUITE_DIR_OR_FILE...]",
		Short: "Run eval scenarios and write their reports",
		Long: `Runs eval scenarios (the built-in protocol suite when no suite is given) and
writes trials.jsonl, journals/, report.json, report.md and report.html into
the run directory. Exits 1 when the expectation pass rate is under --min-pass.`,
		Example: `  run eval
  run eval --trials 3 evals/suites/protocol
  run eval --base-url http://localhost:11434/v1 --model qwen2.5:7b --trials 5
  run eval --list
  run eval compare runs/eval-A runs/eval-B`,
		Annotations: map[string]string{"footer": `Exit codes: 0 every threshold met, 1 the pass rate is under --min-pass, 2 usage
or configuration error, 130 interrupted.`},
		RunE: func(c *cobra.Command, args []string) error {
			opts.suites = args
			ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runEval(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&opts.out, "out", "", "run `DIR` (default runs/eval-TIME)")
	f.IntVar(&opts.trials, "trials", 1, "trials of each scenario with each model")
	f.IntVar(&opts.parallel, "parallel", 0, "trials at once (default GOMAXPROCS)")
	f.Var(&opts.models, "model", "model variant: sim (offline, the default) or a model `NAME` at --base-url; repeat or separate with commas")
	f.StringVar(&opts.baseURL, "base-url", "", "OpenAI-compatible endpoint `URL` for real models (default $OPENAI_BASE_URL)")
	f.StringVar(&opts.apiKey, "api-key", "", "API `KEY` of the endpoint (default $OPENAI_API_KEY)")
	f.Float64Var(&opts.minPass, "min-pass", 1.0, "least expectation pass rate (0..1) for exit status 0")
	f.DurationVar(&opts.timeout, "timeout", 2*time.Minute, "bound of each trial")
	f.Int64Var(&opts.seed, "seed", 1, "run seed; each trial's seed derives from it")
	f.BoolVar(&opts.json, "json", false, "print report.json to stdout instead of the table")
	f.StringVar(&opts.prices, "prices", "", "YAML or JSON price table `FILE`: model → {input_per_mtok, output_per_mtok, cached_per_mtok}")
	f.BoolVar(&opts.keep, "keep-workspaces", false, "keep each trial's workspace under the run directory")
	f.BoolVar(&opts.list, "list", false, "list the scenarios and exit")
	f.BoolVar(&opts.quiet, "quiet", false, "no progress output")
	f.IntVar(&opts.maxErrors, "max-errors", 0, "stop after `N` trials have errored on the endpoint (auth, transport, rate limit, timeout); 0: no bound")
	cmd.AddCommand(newCompareCmd(io))
	return cmd
}

// runEval runs the suites and prints the report; it returns nil when the
// expectation pass rate reaches --min-pass.
func runEval(ctx context.Context, opts *evalOptions) error {
	stdout, stderr := opts.io.out, opts.io.err
	if opts.trials < 1 || opts.minPass < 0 || opts.minPass > 1 || opts.timeout <= 0 || opts.parallel < 0 || opts.maxErrors < 0 {
		return usageErrorf("--trials ≥ 1, 0 ≤ --min-pass ≤ 1, --timeout > 0, --parallel ≥ 0 and --max-errors ≥ 0")
	}
	suite, suiteNames, err := loadSuiteArgs(opts.suites)
	if err != nil {
		return configError(err)
	}
	if opts.list {
		for _, sc := range suite {
			fmt.Fprintf(stdout, "%-22s %-22s %s\n", sc.Name, strings.Join(sc.Modes, ","), sc.Description)
		}
		return nil
	}
	if opts.baseURL != "" {
		if err := cli.CheckBaseURL(opts.baseURL); err != nil {
			return configError(fmt.Errorf("--base-url %q: %w", opts.baseURL, err))
		}
	}
	baseURL, apiKey := openai.Endpoint(opts.baseURL, opts.apiKey)
	offline := baseURL == "" && apiKey == ""
	for _, m := range opts.models {
		if m != evals.ModelSim && offline {
			return configError(cli.NeedsEndpoint(m))
		}
	}
	factory := opts.modelFactory()
	var variants []evals.Variant
	models := opts.models
	if len(models) == 0 {
		models = multiFlag{evals.ModelSim}
	}
	for _, m := range models {
		if m == evals.ModelSim {
			variants = append(variants, evals.SimVariant())
		} else {
			variants = append(variants, evals.EndpointVariant(m, factory))
		}
	}
	var priceTable evals.Prices
	if opts.prices != "" {
		if priceTable, err = loadPrices(opts.prices); err != nil {
			return configError(err)
		}
	}
	dir := opts.out
	if dir == "" {
		dir = filepath.Join("runs", "eval-"+time.Now().Format("20060102-150405"))
	}
	var progressTo io.Writer = stderr
	if opts.quiet {
		progressTo = nil
	}
	prog := newProgress(progressTo, len(suite)*len(variants)*opts.trials)
	runner, err := evals.NewRunner(&evals.RunnerOptions{Trials: opts.trials, Parallel: opts.parallel, Variants: variants,
		Seed: opts.seed, Timeout: opts.timeout, OutDir: dir, Prices: priceTable, Checks: opts.checks, Models: factory,
		OnTrial: prog.done, KeepWorkspaces: opts.keep, MinPass: opts.minPass, Suite: suiteNames, MaxErrors: opts.maxErrors})
	if err != nil {
		return configError(err)
	}
	if err := runner.Validate(suite); err != nil {
		return configError(err)
	}
	rep, err := runner.Run(ctx, suite)
	prog.finish()
	if pe := (*evals.PreflightError)(nil); errors.As(err, &pe) {
		return configError(fmt.Errorf("%s: %w; no trial was run", opts.endpoint(), pe))
	}
	if rep == nil {
		return configError(err)
	}
	if opts.json {
		b, jerr := rep.JSON()
		if jerr != nil {
			return configError(jerr)
		}
		stdout.Write(b)
	} else {
		rep.Table(stdout)
		fmt.Fprintf(stdout, "\nreports: %s\n", filepath.Join(dir, "report.html"))
	}
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted")}
	case err != nil: // the run directory could not be written
		return configError(err)
	}
	if s := rep.Summary; s.Trials > 0 && s.Errored == s.Trials {
		return configError(fmt.Errorf("every trial errored on the endpoint, so nothing was scored; the first: %s", firstErrored(rep)))
	}
	if rep.Run.StoppedEarly != "" {
		return configError(fmt.Errorf("stopped early (--max-errors): %s", rep.Run.StoppedEarly))
	}
	if rep.Summary.PassRate < opts.minPass || rep.Summary.Expectations == 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("expectation pass rate %s is under --min-pass %s",
			percent(rep.Summary.PassRate), percent(opts.minPass))}
	}
	return nil
}

// compareOptions are "run eval compare"'s.
type compareOptions struct {
	io               *iostreams
	json             bool
	failOnRegression bool
	a, b             string
}

func newCompareCmd(io *iostreams) *cobra.Command {
	opts := &compareOptions{io: io}
	cmd := &cobra.Command{
		Use:   "compare [flags] A B",
		Short: "Show what changed between two eval runs",
		Long: `Shows what changed between two eval runs (run directories or report.json files):
pass rates, per scenario, per failure mode, tokens.`,
		Example: `  run eval compare runs/eval-20260101-120000 runs/eval-20260102-120000
  run eval compare --fail-on-regression baseline/report.json runs/eval-new`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("want two runs (run directories or report.json files)")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			opts.a, opts.b = args[0], args[1]
			return runCompare(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the comparison as JSON")
	cmd.Flags().BoolVar(&opts.failOnRegression, "fail-on-regression", false, "exit 1 when B passes less than A")
	return cmd
}

// runCompare prints the comparison of runs A and B.
func runCompare(opts *compareOptions) error {
	a, err := evals.ReadReport(opts.a)
	if err != nil {
		return configError(err)
	}
	b, err := evals.ReadReport(opts.b)
	if err != nil {
		return configError(err)
	}
	c := evals.Compare(a, b)
	c.A, c.B = opts.a, opts.b
	if opts.json {
		enc := json.NewEncoder(opts.io.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			return &exitError{code: exitFailed, err: err}
		}
	} else {
		c.Table(opts.io.out)
	}
	if opts.failOnRegression && c.Regressed() {
		return exitWith(exitFailed)
	}
	return nil
}

// loadSuiteArgs loads the suites named on the command line, or the
// built-in one.
func loadSuiteArgs(paths []string) ([]*evals.Scenario, []string, error) {
	if len(paths) == 0 {
		s, err := evals.Builtin()
		return s, []string{"builtin:" + evals.BuiltinDir}, err
	}
	s, err := evals.LoadSuite(paths...)
	return s, paths, err
}

// loadPrices reads a price table.
func loadPrices(path string) (evals.Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p evals.Prices
	if err := yaml.UnmarshalWithOptions(data, &p, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	return p, nil
}

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

// multiFlag is a repeatable flag whose values may also be comma-separated.
type multiFlag []string

// String joins the values with commas.
func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set adds the comma-separated values of v.
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

// Type names the value in help.
func (m *multiFlag) Type() string { return "strings" }

// modelFactory makes the real models of an eval: the OpenAI-compatible
// provider at --base-url (else $OPENAI_BASE_URL, else OpenAI's), with
// retries.
func (opts *evalOptions) modelFactory() evals.ModelFactory {
	return func(name string) (model.Model, error) {
		m, err := openai.New(openai.Config{BaseURL: opts.baseURL, APIKey: opts.apiKey, Model: name})
		if err != nil {
			return nil, err
		}
		return model.WithRetry(m, &model.RetryOptions{Timeout: defaultCallTimeout}), nil
	}
}

// endpoint is the base URL the eval's real models are at, for messages.
func (opts *evalOptions) endpoint() string {
	u, _ := openai.Endpoint(opts.baseURL, "")
	if u == "" {
		u = openai.DefaultBaseURL
	}
	return u
}

// firstErrored is the error of the first errored trial.
func firstErrored(rep *evals.Report) string {
	for _, t := range rep.Trials {
		if t.Errored {
			return t.ErrorKind + ": " + t.Error
		}
	}
	return ""
}
