package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	offline         bool
	baseURL, model  string
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
	opts.conn.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.team, "team", "", "the team `FILE` (default: the built-in team of run)")
	f.StringVar(&opts.workspace, "workspace", "", "the `DIR` the agents' file tools work in (required)")
	f.BoolVar(&opts.offline, "offline", false, "use the simulator whatever the environment says")
	f.StringVar(&opts.baseURL, "base-url", "", "the OpenAI-compatible endpoint's `URL` (default $OPENAI_BASE_URL)")
	f.StringVar(&opts.model, "model", "", "the model `NAME` of agents whose team file names none")
	return cmd
}

// buildWorker reads the team file and returns the worker's team on the
// workspace, and a function that releases the workspace.
func buildWorker(opts *workerOptions) (*entrusttemporal.Worker, func(), error) {
	if opts.workspace == "" {
		return nil, nil, usageErrorf("worker: --workspace DIR is required")
	}
	tf := teamfile.Default()
	if opts.team != "" {
		var err error
		if tf, err = teamfile.Load(opts.team); err != nil {
			return nil, nil, &exitError{code: exitUsage, err: err}
		}
	}
	if err := os.MkdirAll(opts.workspace, 0o755); err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	ws, err := workspace.New(opts.workspace)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	tools := map[string]agents.Tool{}
	for _, t := range ws.Tools() {
		tools[t.Def().Name] = t
	}
	mk, err := cli.NewModels(cli.ModelOptions{BaseURL: opts.baseURL, Model: opts.model, Offline: opts.offline}, tf)
	if err != nil {
		ws.Close()
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	team, err := tf.Build(&teamfile.BuildOptions{Model: mk.Model, Tools: tools, DefaultModel: opts.model})
	if err != nil {
		ws.Close()
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return &entrusttemporal.Worker{Team: team, Options: &orchestrator.Options{Workspace: ws.FS()}}, func() { ws.Close() }, nil
}

func runWorker(ctx context.Context, opts *workerOptions) error {
	w, release, err := buildWorker(opts)
	if err != nil {
		return err
	}
	defer release()
	c, err := opts.dial()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	wk := worker.New(c, opts.taskQueue, worker.Options{})
	w.Register(wk)
	if err := wk.Start(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(opts.out, "worker on %s, namespace %s, task queue %s · team %s\n", opts.address, opts.namespace, opts.taskQueue, teamNames(w.Team))
	<-ctx.Done()
	wk.Stop()
	return nil
}

func teamNames(t orchestrator.Team) string {
	var names []string
	for _, m := range t.Members {
		names = append(names, m.Agent.Name)
	}
	return strings.Join(names, ", ")
}
