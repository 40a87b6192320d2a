package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/internal/cli"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/worker"
)

type workerOptions struct {
	conn
	team, workspace string
	offline, stream bool
	baseURL, model  string
	callTimeout     time.Duration
	trust           string
	out, errOut     io.Writer
}

func newWorkerCmd(out, errOut io.Writer) *cobra.Command {
	opts := &workerOptions{out: out, errOut: errOut}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker: runs, model calls and tool calls of the task queue",
		Long: "worker polls the task queue and runs what it is given: the orchestration of runs, their model calls and their tool calls, on the team file's team and the workspace. Run as many as you like, on as many machines; give them all the same team file.\n\n" +
			"Models: the simulator when no endpoint is configured (or with --offline), else the OpenAI-compatible endpoint of --base-url or OPENAI_BASE_URL, with the key of OPENAI_API_KEY — read here, never sent to the server.",
		Example: "  entrust-temporal worker --address localhost:7233 --team team.yaml --workspace ./ws",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runWorker(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	opts.conn.flags(cmd)
	f.StringVar(&opts.team, "team", "", "team `FILE` in YAML (default: the built-in lead, writer and reviewer)")
	f.StringVar(&opts.workspace, "workspace", "", "`DIR` the file tools are confined to (required)")
	f.StringVar(&opts.model, "model", "", "model `NAME` of agents whose team file names none, e.g. gpt-4o-mini")
	f.StringVar(&opts.baseURL, "base-url", "", "OpenAI-compatible endpoint `URL` (default $OPENAI_BASE_URL, else OpenAI's when a key is set)")
	f.BoolVar(&opts.offline, "offline", false, "use the simulator whatever the environment says")
	f.DurationVar(&opts.callTimeout, "call-timeout", 2*time.Minute, "bound `D` of each attempt of a model call, so an endpoint that never answers cannot hang the run (0: none)")
	f.BoolVar(&opts.stream, "stream", false, "stream model answers (server-sent events)")
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE` whose records set each delegation's supervision, read again when it changes\n(the clients' run --trust saves it: give both the same file; \"\": no ledger)")
	return cmd
}

// builtWorker is a worker's team on its workspace.
type builtWorker struct {
	*entrusttemporal.Worker
	// summary names the team, the models and the workspace, as run's
	// header does.
	summary string
	// release releases the workspace.
	release func()
}

// buildWorker reads the team file and the trust ledger and builds the
// worker's team on its models and workspace.
func buildWorker(opts *workerOptions) (*builtWorker, error) {
	switch {
	case opts.workspace == "":
		return nil, usageErrorf("worker: --workspace DIR is required")
	case opts.callTimeout < 0:
		return nil, usageErrorf("worker: --call-timeout must not be negative")
	}
	// The key this machine's clients seal journals with must not be where
	// the worker's tools can read it, as run refuses it in its workspace.
	if err := cli.KeyFileOutside(opts.workspace); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	tf := teamfile.Default()
	if opts.team != "" {
		var err error
		if tf, err = teamfile.Load(opts.team); err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
	}
	var sup *ledgerSupervision
	if opts.trust != "" {
		var err error
		if sup, err = newLedgerSupervision(opts.trust, opts.errOut); err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
	}
	mk, err := cli.NewModels(cli.ModelOptions{BaseURL: opts.baseURL, Model: opts.model, Offline: opts.offline,
		Stream: opts.stream, CallTimeout: opts.callTimeout}, tf)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if err := os.MkdirAll(opts.workspace, 0o755); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	ws, err := workspace.New(opts.workspace)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}
	team, err := tf.Build(&teamfile.BuildOptions{Model: mk.Model, Tools: tools, DefaultModel: opts.model})
	if err != nil {
		ws.Close()
		return nil, &exitError{code: exitUsage, err: err}
	}
	wo := &orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()}
	if sup != nil {
		wo.SupervisionForModel = sup.SupervisionForModel
	}
	summary := fmt.Sprintf("team %s · models %s · workspace %s", cli.TeamSummary(tf), mk.Summary(), opts.workspace)
	if mk.Offline() {
		summary += " (offline: no model endpoint is configured)"
	}
	return &builtWorker{Worker: &entrusttemporal.Worker{Team: team, Options: wo}, summary: summary, release: func() { ws.Close() }}, nil
}

func runWorker(ctx context.Context, opts *workerOptions) error {
	w, err := buildWorker(opts)
	if err != nil {
		return err
	}
	defer w.release()
	c, err := opts.dial()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	// On an interrupt the runs this worker holds are handed over, not
	// cancelled: each attempt leaves its run and says so, which the stop
	// waits for, so another worker takes it over at once rather than after
	// the heartbeat timeout.
	wk := worker.New(c, opts.taskQueue, worker.Options{WorkerStopTimeout: 10 * time.Second})
	w.Register(wk)
	if err := wk.Start(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(opts.out, "worker on %s, namespace %s, task queue %s · %s\n", opts.address, opts.namespace, opts.taskQueue, w.summary)
	<-ctx.Done()
	wk.Stop()
	return nil
}
