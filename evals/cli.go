package evals

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Exit codes of Command.
const (
	ExitOK          = 0   // every threshold met
	ExitBelowMin    = 1   // the pass rate is under --min-pass (or compare found a regression with --fail-on-regression)
	ExitUsage       = 2   // bad flags, suite files or configuration
	ExitInterrupted = 130 // the context was cancelled (SIGINT)
)

const usageText = `usage: run eval [SUITE_DIR_OR_FILE…] [flags]
       run eval compare A B [--json] [--fail-on-regression]

Runs eval scenarios (the built-in protocol suite when no suite is given) and
writes trials.jsonl, journals/, report.json, report.md and report.html into
the run directory. Exits 1 when the expectation pass rate is under --min-pass.

compare shows what changed between two runs (run directories or report.json
files): pass rates, per scenario, per failure mode, tokens.

flags:
`

// Command runs the "run eval" command line, with BuiltinChecks: args are
// what follows "eval". It returns the process exit code (see ExitOK and the
// others).
func Command(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return CommandWith(ctx, args, stdin, stdout, stderr, BuiltinChecks())
}

// CommandWith is Command with the registry of checks scenarios may name, so
// a program that registers its own checks can offer its own eval command.
func CommandWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, checks *Checks) int {
	if len(args) > 0 && args[0] == "compare" {
		return compareCommand(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("run eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out        = fs.String("out", "", "run directory (default runs/eval-TIME)")
		trials     = fs.Int("trials", 1, "trials of each scenario with each model")
		parallel   = fs.Int("parallel", 0, "trials at once (default GOMAXPROCS)")
		models     multiFlag
		baseURL    = fs.String("base-url", "", "OpenAI-compatible endpoint for real models (default $OPENAI_BASE_URL)")
		apiKey     = fs.String("api-key", "", "API key of the endpoint (default $OPENAI_API_KEY)")
		minPass    = fs.Float64("min-pass", 1.0, "least expectation pass rate (0..1) for exit status 0")
		timeout    = fs.Duration("timeout", 2*time.Minute, "bound of each trial")
		seed       = fs.Int64("seed", 1, "run seed; each trial's seed derives from it")
		jsonOut    = fs.Bool("json", false, "print report.json to stdout instead of the table")
		prices     = fs.String("prices", "", "YAML or JSON price table: model → {input_per_mtok, output_per_mtok, cached_per_mtok}")
		keep       = fs.Bool("keep-workspaces", false, "keep each trial's workspace under the run directory")
		list       = fs.Bool("list", false, "list the scenarios and exit")
		noProgress = fs.Bool("quiet", false, "no progress output")
	)
	fs.Var(&models, "model", "model variant: sim (offline, the default) or a model name at --base-url; repeat or separate with commas")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage
	}
	if *trials < 1 || *minPass < 0 || *minPass > 1 || *timeout <= 0 || *parallel < 0 {
		fmt.Fprintln(stderr, "run eval: --trials ≥ 1, 0 ≤ --min-pass ≤ 1, --timeout > 0 and --parallel ≥ 0")
		return ExitUsage
	}
	suite, suiteNames, err := loadSuiteArgs(paths)
	if err != nil {
		fmt.Fprintf(stderr, "run eval: %v\n", err)
		return ExitUsage
	}
	if *list {
		for _, sc := range suite {
			fmt.Fprintf(stdout, "%-22s %-22s %s\n", sc.Name, strings.Join(sc.Modes, ","), sc.Description)
		}
		return ExitOK
	}
	endpoint := &Endpoint{BaseURL: *baseURL, APIKey: *apiKey}
	var variants []Variant
	if len(models) == 0 {
		models = multiFlag{ModelSim}
	}
	for _, m := range models {
		if m == ModelSim {
			variants = append(variants, SimVariant())
		} else {
			variants = append(variants, EndpointVariant(m, endpoint))
		}
	}
	var priceTable Prices
	if *prices != "" {
		if priceTable, err = loadPrices(*prices); err != nil {
			fmt.Fprintf(stderr, "run eval: %v\n", err)
			return ExitUsage
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", "eval-"+time.Now().Format("20060102-150405"))
	}
	var progress io.Writer = stderr
	if *noProgress {
		progress = nil
	}
	runner, err := NewRunner(&RunnerOptions{Trials: *trials, Parallel: *parallel, Variants: variants, Seed: *seed,
		Timeout: *timeout, OutDir: dir, Prices: priceTable, Checks: checks, Endpoint: endpoint, Progress: progress,
		KeepWorkspaces: *keep, MinPass: *minPass, Suite: suiteNames})
	if err != nil {
		fmt.Fprintf(stderr, "run eval: %v\n", err)
		return ExitUsage
	}
	if err := runner.Validate(suite); err != nil {
		fmt.Fprintf(stderr, "run eval: %v\n", err)
		return ExitUsage
	}
	rep, err := runner.Run(ctx, suite)
	if rep == nil {
		fmt.Fprintf(stderr, "run eval: %v\n", err)
		return ExitUsage
	}
	if *jsonOut {
		b, jerr := rep.JSON()
		if jerr != nil {
			fmt.Fprintf(stderr, "run eval: %v\n", jerr)
			return ExitUsage
		}
		stdout.Write(b)
	} else {
		rep.Table(stdout)
		fmt.Fprintf(stdout, "\nreports: %s\n", filepath.Join(dir, "report.html"))
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "run eval: interrupted")
		return ExitInterrupted
	case err != nil: // the run directory could not be written
		fmt.Fprintf(stderr, "run eval: %v\n", err)
		return ExitUsage
	}
	if rep.Summary.PassRate < *minPass || rep.Summary.Expectations == 0 {
		fmt.Fprintf(stderr, "run eval: expectation pass rate %s is under --min-pass %s\n", pct(rep.Summary.PassRate), pct(*minPass))
		return ExitBelowMin
	}
	return ExitOK
}

func compareCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run eval compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print the comparison as JSON")
	failOnRegression := fs.Bool("fail-on-regression", false, "exit 1 when B passes less than A")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	paths, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return ExitUsage
	}
	if len(paths) != 2 {
		fmt.Fprintln(stderr, "run eval compare: want two runs (run directories or report.json files)")
		return ExitUsage
	}
	a, err := ReadReport(paths[0])
	if err != nil {
		fmt.Fprintf(stderr, "run eval compare: %v\n", err)
		return ExitUsage
	}
	b, err := ReadReport(paths[1])
	if err != nil {
		fmt.Fprintf(stderr, "run eval compare: %v\n", err)
		return ExitUsage
	}
	c := Compare(a, b)
	c.A, c.B = paths[0], paths[1]
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			fmt.Fprintf(stderr, "run eval compare: %v\n", err)
			return ExitUsage
		}
	} else {
		c.Table(stdout)
	}
	if *failOnRegression && c.Regressed() {
		return ExitBelowMin
	}
	return ExitOK
}

// parseInterspersed parses flags wherever they are among the positional
// arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// loadSuiteArgs loads the suites named on the command line, or the
// built-in one.
func loadSuiteArgs(paths []string) ([]*Scenario, []string, error) {
	if len(paths) == 0 {
		s, err := Builtin()
		return s, []string{"builtin:" + BuiltinDir}, err
	}
	s, err := LoadSuite(paths...)
	return s, paths, err
}

// loadPrices reads a price table.
func loadPrices(path string) (Prices, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Prices
	if err := yaml.UnmarshalWithOptions(data, &p, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yaml.FormatError(err, false, true))
	}
	return p, nil
}

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
