package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
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
	team, escalations, id, trust string
	// output says where the events go: journal, view or JSON, log.
	output
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
			return interruptible(cmd, func(ctx context.Context) error { return runGoal(ctx, opts) })
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	opts.conn.flags(cmd)
	f.StringVar(&opts.team, "team", "", "team `FILE` in YAML the workers were given (default: the built-in lead, writer and reviewer)")
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: who answers what reaches the top: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	opts.output.add(f, func() { opts.GoalFlags.AddFlags(f) })
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE`: the trust shown, fed by the run's events and saved after it, once per run\n(the workers' --trust sets each delegation's supervision from it: give them the same file)")
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
	id := opts.id
	if id == "" {
		id = "entrust-" + orchestrator.NewRunID(time.Now())
	}
	ss, err := openSession(ctx, &sessionOptions{journal: opts.journal, id: id, mode: mode, json: opts.json, quiet: opts.quiet,
		logLevel: opts.logLevel, trust: opts.trust, in: opts.in, out: opts.out, errOut: opts.errOut})
	if err != nil {
		return err
	}
	defer ss.close()
	c, err := opts.dial()
	if err != nil {
		ss.abort()
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	// The team that runs is the workers': one whose lead is not the team
	// file's is said.
	ss.sinks = append(ss.sinks, orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error {
		if e.Type == orchestrator.EventRunStarted && e.Agent != tf.Lead {
			fmt.Fprintf(opts.errOut, "entrust: the workers' lead is %s, not %s: they run another team than --team says\n", e.Agent, tf.Lead)
		}
		return nil
	}))

	cfg := runConfig{TeamFile: opts.team, Escalations: mode, GoalConfig: opts.GoalFlags.Config()}
	if opts.trust != "" {
		if cfg.Trust, err = filepath.Abs(opts.trust); err != nil {
			ss.abort()
			return &exitError{code: exitUsage, err: fmt.Errorf("--trust: %w", err)}
		}
	}
	cfg.Temporal.Address, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue = opts.address, opts.namespace, opts.taskQueue
	config, err := json.Marshal(cfg)
	if err != nil {
		ss.abort()
		return &exitError{code: exitUsage, err: err}
	}
	r, err := entrusttemporal.Start(ctx, c, goal, entrusttemporal.StartOptions{TaskQueue: opts.taskQueue, ID: id, Config: config,
		AskClient: mode == cli.EscalateTerminal, Deny: mode == cli.EscalateDeny})
	if err != nil {
		ss.abort()
		return &exitError{code: exitFailed, err: err}
	}
	if !opts.quiet && !opts.json {
		fmt.Fprintf(opts.errOut, "entrust: team %s · workflow %s on %s, namespace %s, task queue %s · escalations %s\n",
			cli.TeamSummary(tf), r.ID(), opts.address, opts.namespace, opts.taskQueue, mode)
	}
	// Auto and deny are the workers' (the run does not ask its client).
	return ss.follow(ctx, r, mode == cli.EscalateTerminal)
}
