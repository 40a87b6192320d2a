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

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"github.com/spf13/cobra"
)

// runOptions are run's: the flags of cmd/run that mean the same on
// Temporal, and where the server is.
type runOptions struct {
	conn
	team, journal, escalations string
	id, logLevel, trust        string
	json, quiet                bool
	// GoalFlags shape the goal: criteria, constraints, checks, budget.
	cli.GoalFlags

	goal        string
	in          io.Reader
	out, errOut io.Writer
}

func newRunCmd(in io.Reader, out, errOut io.Writer) *cobra.Command {
	opts := &runOptions{in: in, out: out, errOut: errOut}
	cmd := &cobra.Command{
		Use:   `run [flags] "GOAL"`,
		Short: "Submit a goal as a workflow and follow it as run does",
		Long: `run submits GOAL to the workers of the task queue as a Temporal workflow and
follows it as run does: the same live view, the same journal (which run replay
reads), the lead's acceptance and the escalations that reach the top answered
at the terminal, the same exit codes. An interrupt cancels the workflow and
waits for its last events.

The models, the workspace and the team that run are the workers'
(entrust-temporal worker); --team names the team file they were given, to show
it and record it.`,
		Example: `  entrust-temporal run --address localhost:7233 "Write an onboarding guide"
  entrust-temporal run --criteria "guide.md explains how to test" --verify exists:guide.md "Write an onboarding guide"
  entrust-temporal run --json --escalations auto "GOAL" | jq -c 'select(.type=="goal.completed")'`,
		Annotations: map[string]string{"footer": `Exit codes: 0 completed and verified, 1 failed or declined, 2 usage or
configuration error, 130 interrupted (the workflow is cancelled).`},
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.goal = strings.TrimSpace(strings.Join(args, " "))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second interrupt ends the process at once
			}()
			return runGoal(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	opts.conn.flags(cmd)
	f.StringVar(&opts.team, "team", "", "team `FILE` in YAML the workers were given (default: the built-in lead, writer and reviewer)")
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: who answers what reaches the top: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	f.StringVar(&opts.journal, "journal", "", "journal `FILE` (default runs/<workflow-id>.jsonl)")
	f.BoolVar(&opts.quiet, "quiet", false, "no live view")
	f.BoolVar(&opts.json, "json", false, "stream the events to stdout as JSON lines instead of the live view")
	opts.GoalFlags.AddFlags(f)
	f.StringVar(&opts.logLevel, "log-level", "", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off\n(default warn with --quiet, else off: the live view and --json show the warnings)")
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE`: the trust shown, fed by the run's events and saved after it\n(the workers' --trust sets each delegation's supervision from it: give them the same file)")
	f.StringVar(&opts.id, "id", "", "the workflow `ID` (default entrust- and a fresh run id)")
	return cmd
}

// runConfig is what run.started records of the command line (no secret:
// it is in the workflow's history too).
type runConfig struct {
	TeamFile    string `json:"team_file,omitempty"`
	Escalations string `json:"escalations"`
	// GoalConfig records the goal's flags, as run records them.
	cli.GoalConfig
	Trust    string `json:"trust,omitempty"`
	Temporal struct {
		Address   string `json:"address"`
		Namespace string `json:"namespace"`
		TaskQueue string `json:"task_queue"`
	} `json:"temporal"`
}

// runGoal submits the goal, follows it to its end and returns how it ended:
// nil when it was completed and verified.
func runGoal(ctx context.Context, opts *runOptions) error {
	switch {
	case opts.goal == "":
		return usageErrorf(`run: no goal: entrust-temporal run "GOAL"`)
	case opts.json && opts.quiet:
		return usageErrorf("run: --json and --quiet: choose one")
	}
	goal, err := opts.Goal(opts.goal)
	if err != nil {
		return usageErrorf("run: %v", err)
	}
	mode, err := cli.EscalationMode(opts.escalations, opts.in)
	if err != nil {
		return usageErrorf("run: %v", err)
	}
	tf := teamfile.Default()
	if opts.team != "" {
		if tf, err = teamfile.Load(opts.team); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	obs, err := cli.OpenObservers(ctx, cli.ObserveOptions{LogLevel: opts.logLevel, Quiet: opts.quiet, Trust: opts.trust}, opts.errOut)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	defer obs.Close(opts.errOut)

	c, err := opts.dial()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	id := opts.id
	if id == "" {
		id = "entrust-" + orchestrator.NewRunID(time.Now())
	}
	journalPath := opts.journal
	if journalPath == "" {
		journalPath = filepath.Join("runs", id+".jsonl")
	}
	// The journal is sealed as run seals its own (orchestrator.Journal.Seal),
	// with the key of this machine's user: it is written here, from the
	// workflow's events.
	key, _, err := orchestrator.LoadJournalKey(true)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	journal, err := orchestrator.CreateJournal(journalPath)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--journal: %w", err)}
	}
	if err := journal.Seal(key, ""); err != nil {
		journal.Close()
		return &exitError{code: exitUsage, err: err}
	}
	var journalErr error
	sinks := []orchestrator.Sink{orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
		err := journal.Emit(ctx, e)
		if err != nil && journalErr == nil {
			journalErr = err
		}
		return err
	})}
	var view *cli.LiveView
	switch {
	case opts.json:
		sinks = append(sinks, orchestrator.NewJournal(opts.out))
	case !opts.quiet:
		view = cli.NewLiveView(opts.out, obs.Scorer())
		obs.LogThrough(view.LogWriter(opts.errOut))
		defer view.FlushLog()
		sinks = append(sinks, view)
	}
	sinks = append(sinks, obs.Sinks...)
	// The team that runs is the workers': one whose lead is not the team
	// file's is said.
	sinks = append(sinks, orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error {
		if e.Type == orchestrator.EventRunStarted && e.Agent != tf.Lead {
			fmt.Fprintf(opts.errOut, "entrust: the workers' lead is %s, not %s: they run another team than --team says\n", e.Agent, tf.Lead)
		}
		return nil
	}))

	cfg := runConfig{TeamFile: opts.team, Escalations: mode, GoalConfig: opts.GoalFlags.Config()}
	if opts.trust != "" {
		if cfg.Trust, err = filepath.Abs(opts.trust); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--trust: %w", err)}
		}
	}
	cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue = opts.address, opts.namespace, opts.taskQueue
	config, err := json.Marshal(cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	r, err := entrusttemporal.Start(ctx, c, goal, entrusttemporal.StartOptions{TaskQueue: opts.taskQueue, ID: id, Config: config,
		AskClient: mode == cli.EscalateTerminal, Deny: mode == cli.EscalateDeny})
	if err != nil {
		if view != nil {
			view.Close()
		}
		journal.Close()
		os.Remove(journalPath)
		return &exitError{code: exitFailed, err: err}
	}
	if !opts.quiet && !opts.json {
		fmt.Fprintf(opts.errOut, "entrust: team %s · workflow %s on %s, namespace %s, task queue %s · escalations %s\n",
			cli.TeamSummary(tf), r.ID(), opts.address, opts.namespace, opts.taskQueue, mode)
	}
	fo := entrusttemporal.FollowOptions{Sinks: sinks}
	var principal *cli.TerminalPrincipal
	if mode == cli.EscalateTerminal {
		var p cli.Pauser
		if view != nil {
			p = view
		}
		principal = cli.NewTerminalPrincipal(opts.in, opts.errOut, p)
		fo.Principal = principal
	}
	// An interrupt cancels the run and waits for its last events.
	follow := context.WithoutCancel(ctx)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			_ = r.Cancel(follow)
		case <-done:
		}
	}()
	out, runErr := r.Follow(follow, fo)
	interrupted := ctx.Err() != nil
	if principal != nil {
		principal.Close()
	}
	if view != nil {
		view.Close()
		view.FlushLog()
	}
	if err := journal.Close(); err != nil && journalErr == nil {
		journalErr = err
	}
	if out == nil {
		if runErr == nil {
			runErr = errors.New("the run ended with no outcome")
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("%w (journal: %s)", runErr, journalPath)}
	}
	// A run that did not complete says why in the summary; an error beside
	// a completed outcome (a sink of the workers) is said here.
	if runErr != nil && out.Status == orchestrator.StatusCompleted {
		fmt.Fprintf(opts.errOut, "run: %v\n", runErr)
	}
	if journalErr != nil {
		fmt.Fprintf(opts.errOut, "run: %v\n", journalErr)
	}
	summaryOut := opts.out
	if opts.json {
		summaryOut = opts.errOut
	}
	cli.PrintSummary(summaryOut, out, interrupted)
	if journalErr != nil {
		fmt.Fprintf(opts.errOut, "journal: %s is incomplete (see the error above)\n", journalPath)
	} else {
		fmt.Fprintf(opts.errOut, "journal: %s  (replay: run replay %s)\n", journalPath, journalPath)
	}
	switch {
	case interrupted:
		return &exitError{code: exitInterrupted}
	case out.Status != orchestrator.StatusCompleted:
		return &exitError{code: exitFailed}
	}
	return nil
}
