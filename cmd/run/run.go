package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// runFlags are the flags of the run command.
type runFlags struct {
	team, model, baseURL, apiKey string
	workspace, escalations       string
	journal, logLevel, trust     string
	quiet, json, stream          bool
	criteria, constraints        stringList
	steps, tokens                int
	timeout                      time.Duration
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, "; ") }

func (s *stringList) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty value")
	}
	*s = append(*s, v)
	return nil
}

func runFlagSet(f *runFlags, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.team, "team", "", "team `FILE` in YAML (default: the built-in lead, writer and reviewer)")
	fs.StringVar(&f.model, "model", "", "model `NAME` of agents whose team file names none, e.g. gpt-4o-mini")
	fs.StringVar(&f.baseURL, "base-url", "", "OpenAI-compatible endpoint `URL` (default $OPENAI_BASE_URL, else OpenAI's when a key is set)")
	fs.StringVar(&f.apiKey, "api-key", "", "API `KEY` (default $OPENAI_API_KEY)")
	fs.StringVar(&f.workspace, "workspace", "workspace", "`DIR` the file tools are confined to")
	fs.StringVar(&f.escalations, "escalations", "", "who answers what reaches the top: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	fs.StringVar(&f.journal, "journal", "", "journal `FILE` (default runs/<run-id>.jsonl)")
	fs.BoolVar(&f.quiet, "quiet", false, "no live view")
	fs.BoolVar(&f.json, "json", false, "stream the events to stdout as JSON lines instead of the live view")
	fs.Var(&f.criteria, "criteria", "a success `CRITERION` of the goal (repeatable)")
	fs.Var(&f.constraints, "constraint", "a `CONSTRAINT` of the goal: must or must not (repeatable)")
	fs.IntVar(&f.steps, "steps", 0, "model turns the lead may take, its delegates' included (default: the team file's, else 40)")
	fs.IntVar(&f.tokens, "tokens", 0, "tokens the whole run may spend (default no bound)")
	fs.DurationVar(&f.timeout, "timeout", 0, "wall time the whole run may take, e.g. 5m (default no bound)")
	fs.BoolVar(&f.stream, "stream", false, "stream model answers (server-sent events)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off")
	fs.StringVar(&f.trust, "trust", defaultTrustPath, "trust ledger `FILE`, read before and saved after the run")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: run [flags] "GOAL"

Runs a team on GOAL. The lead must accept the goal (restating its intent, a plan,
each criterion and constraint) before anyone acts; in terminal mode you confirm
that acceptance, and answer the escalations that reach the top.

Examples:
  run "Write a haiku about delegation"
  run --criteria "haiku.txt holds a haiku" --constraint "no more than 3 lines" "Write a haiku"
  run --base-url http://localhost:11434/v1 --model qwen2.5:7b "Write a haiku"
  OPENAI_API_KEY=sk-... run --model gpt-4o-mini --team team.yaml "Summarise notes/ into summary.md"
  run --json --escalations auto "GOAL" | jq -c 'select(.type=="goal.completed")'

Flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags that may come before or after the
// positional arguments. On -h it prints the usage to stdout; on a bad flag
// the flag package has said what, and a hint follows.
func parseInterleaved(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	pos, err := parseAll(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		usage()
	case err != nil:
		fmt.Fprintf(fs.Output(), "%s: see %s -h\n", fs.Name(), fs.Name())
	}
	return pos, err
}

func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "run: "+format+"\n", args...)
	fmt.Fprintln(stderr, "run: see run -h")
	return exitUsage
}

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f runFlags
	fs := runFlagSet(&f, stderr)
	pos, err := parseInterleaved(fs, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	objective := strings.TrimSpace(strings.Join(pos, " "))
	switch {
	case objective == "":
		return usageError(stderr, `no goal: run "GOAL"`)
	case f.steps < 0 || f.tokens < 0 || f.timeout < 0:
		return usageError(stderr, "--steps, --tokens and --timeout must not be negative")
	case f.json && f.quiet:
		return usageError(stderr, "--json and --quiet: choose one")
	}
	mode := f.escalations
	if mode == "" {
		mode = "deny"
		if isTerminal(stdin) {
			mode = "terminal"
		}
	}
	if !slices.Contains([]string{"terminal", "auto", "deny"}, mode) {
		return usageError(stderr, "--escalations %q: want terminal, auto or deny", f.escalations)
	}

	// The team, the tools and the models: every configuration error is
	// reported here, before any model is called.
	var team *teamfile.File
	if f.team != "" {
		team, err = teamfile.Load(f.team)
		if err != nil {
			fmt.Fprintf(stderr, "run: %v\n", err)
			return exitUsage
		}
	} else {
		team = teamfile.Default()
	}
	models, err := newModels(&f, team)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	// A reader that went away (run … | head) must not kill the run before its
	// journal ends: writes to it fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	obs, err := openObservers(ctx, &f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}
	defer obs.close(stderr)
	// The workspace is made last, so a configuration error leaves none behind.
	ws, err := workspace.New(f.workspace)
	if err != nil {
		fmt.Fprintf(stderr, "run: --workspace: %v\n", err)
		return exitUsage
	}
	defer ws.Close()
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}
	built, err := team.Build(&teamfile.BuildOptions{Model: models.model, Tools: tools, DefaultModel: f.model})
	if err != nil {
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}

	runID := orchestrator.NewRunID(time.Now())
	journalPath := f.journal
	if journalPath == "" {
		journalPath = filepath.Join("runs", runID+".jsonl")
	}
	journal, err := orchestrator.CreateJournal(journalPath)
	if err != nil {
		fmt.Fprintf(stderr, "run: --journal: %v\n", err)
		return exitUsage
	}

	// The journal's own write errors are told apart from other sinks'.
	var journalErr error
	sinks := []orchestrator.Sink{orchestrator.SinkFunc(func(e *orchestrator.Event) error {
		err := journal.Emit(e)
		if err != nil && journalErr == nil {
			journalErr = err
		}
		return err
	})}
	var view *liveView
	switch {
	case f.json:
		sinks = append(sinks, orchestrator.NewJournal(stdout))
	case !f.quiet:
		view = newLiveView(stdout, obs.scorer())
		obs.logTo.w = view.logWriter(stderr)
		sinks = append(sinks, view)
	}
	sinks = append(sinks, obs.sinks...)

	var principal orchestrator.Principal
	switch mode {
	case "terminal":
		var p pauser
		if view != nil {
			p = view
		}
		principal = newTerminalPrincipal(stdin, stderr, p)
	case "auto":
		principal = orchestrator.AutoPrincipal{}
	default:
		principal = orchestrator.AutoPrincipal{Deny: true}
	}
	opts := &orchestrator.Options{RunID: runID, Sinks: sinks, Principal: principal}
	if sf := obs.supervisionFor(); sf != nil {
		opts.SupervisionFor = sf
	}
	rt, err := orchestrator.New(built, opts)
	if err != nil {
		if view != nil {
			view.Close()
		}
		journal.Close()
		os.Remove(journalPath)
		fmt.Fprintf(stderr, "run: %v\n", err)
		return exitUsage
	}

	if models.offline {
		fmt.Fprint(stderr, offlineNotice)
	}
	if !f.quiet && !f.json {
		fmt.Fprintf(stderr, "entrust: team %s · models %s · workspace %s · escalations %s\n",
			teamSummary(team), models.summary(), f.workspace, mode)
	}

	goal := agents.Goal{Objective: objective, Criteria: f.criteria, Constraints: f.constraints,
		Budget: agents.Budget{Steps: f.steps, Tokens: f.tokens, WallTime: f.timeout}}
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	out, runErr := rt.Run(ctx, goal)
	interrupted := ctx.Err() != nil
	if tp, ok := principal.(*terminalPrincipal); ok {
		tp.Close()
	}
	if view != nil {
		view.Close()
	}
	if err := journal.Close(); err != nil && journalErr == nil {
		journalErr = err
	}
	reported := false
	if runErr != nil {
		// The goal's own error is the summary's; anything joined to it
		// (a sink that failed, the journal among them) is said here, once.
		var ge *orchestrator.GoalError
		if !errors.As(runErr, &ge) || error(ge) != runErr {
			fmt.Fprintf(stderr, "run: %v\n", runErr)
			reported = journalErr != nil && errors.Is(runErr, journalErr)
		}
	}
	if journalErr != nil && !reported {
		fmt.Fprintf(stderr, "run: %v\n", journalErr)
	}

	summaryOut := stdout
	if f.json {
		summaryOut = stderr
	}
	printSummary(summaryOut, out, interrupted)
	if journalErr != nil {
		fmt.Fprintf(stderr, "journal: %s is incomplete (see the error above)\n", journalPath)
	} else {
		fmt.Fprintf(stderr, "journal: %s  (replay: run replay %s)\n", journalPath, journalPath)
	}
	switch {
	case interrupted:
		return exitInterrupted
	case out.Status == orchestrator.StatusCompleted:
		return exitOK
	}
	return exitFailed
}

const offlineNotice = `entrust: no model endpoint is configured, so every agent runs on the built-in
  offline simulator. It plays the protocol (accepts by restating your goal, works
  with the workspace tools, reports with evidence) but it is not a language model.
  To use a real one:   OPENAI_API_KEY=sk-... run --model gpt-4o-mini "GOAL"
  or a local server:   run --base-url http://localhost:11434/v1 --model qwen2.5:7b "GOAL"
`

func teamSummary(f *teamfile.File) string {
	var parts []string
	for _, a := range f.Agents {
		s := a.Name
		if a.Name == f.Lead {
			s += " (lead)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func printSummary(w io.Writer, out *orchestrator.Outcome, interrupted bool) {
	st := newStyle(w)
	switch {
	case interrupted:
		fmt.Fprintln(w, st.paint(yellow, "interrupted")+": the run was cancelled; every delegation ended and the journal is complete.")
	case out.Status == orchestrator.StatusCompleted:
		fmt.Fprintln(w, st.paint(green, "completed and verified")+fmt.Sprintf(" · %s tokens · %s", thousands(out.Total.Total()), out.End.Sub(out.Start).Round(time.Millisecond)))
		if out.Report != nil {
			fmt.Fprintln(w, indent(out.Report.Result, "  "))
		}
	case out.Status == orchestrator.StatusDeclined:
		fmt.Fprintln(w, st.paint(magenta, "declined")+" by "+out.Agent+": "+out.Reason)
		if out.Decline != nil && len(out.Decline.Missing) > 0 {
			fmt.Fprintln(w, "  missing: "+strings.Join(out.Decline.Missing, "; "))
		}
	default:
		fmt.Fprintln(w, st.paint(red, "failed")+": "+out.Reason)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
