package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/internal/cli"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/serve"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
)

// serveOptions are "run serve"'s: the team's flags as run's, and where to
// serve it.
type serveOptions struct {
	runOptions
	mcp       bool
	a2a       string
	publicURL string
	journals  string
	maxRuns   int
	idle      time.Duration
	confirm   bool
}

func newServeCmd(io *iostreams) *cobra.Command {
	opts := &serveOptions{runOptions: runOptions{io: io, callTimeout: defaultCallTimeout}}
	cmd := &cobra.Command{
		Use:   "serve (--mcp | --a2a ADDR) [flags]",
		Short: "Serve the team to other programs over MCP (stdio) or A2A (HTTP)",
		Long: `Serves the team to other programs, each goal a run with its own journal.

--mcp serves it on standard input and output as an MCP server with one tool,
run_goal {goal, criteria, constraints}: it runs the team on the goal and returns
the outcome (completed, declined or failed), the result, each criterion met or
not and the journal's path; events are progress notifications. An escalation
that reaches the top is asked of the client's user (elicitation) when the
client can; otherwise --escalations answers it.

--a2a ADDR serves it as an A2A agent over JSON-RPC at http://ADDR/, its card at
/.well-known/agent-card.json: a user's message is a goal (data parts may carry
criteria and constraints), a task its run. A declined goal is rejected; an
escalation sets the task input-required and the next message on the task
answers it; tasks run concurrently, each in its own workspace subdirectory.

The lead's acceptance is confirmed by policy, or, with --confirm-acceptance, put
to the client as a question the lead starts only on a yes. A goal waiting for an
answer longer than --idle-timeout ends (its journal says so) and frees its place.

Ctrl-C cancels the runs still going (their journals end with run.finished) and
stops the server.`,
		Example: `  run serve --mcp --team team.yaml --base-url http://localhost:11434/v1 --model qwen2.5:7b
  run serve --a2a localhost:8080 --team team.yaml
  claude mcp add entrust -- run serve --mcp --team /path/to/team.yaml`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runServe(opts) },
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.BoolVar(&opts.mcp, "mcp", false, "serve over MCP on stdin and stdout")
	f.StringVar(&opts.a2a, "a2a", "", "serve over A2A (JSON-RPC over HTTP) at `ADDR`, e.g. localhost:8080")
	f.StringVar(&opts.publicURL, "public-url", "", "the `URL` the A2A agent card gives clients (default http://ADDR/)")
	addTeamFlags(f, &opts.runOptions)
	f.DurationVar(&opts.callTimeout, "call-timeout", defaultCallTimeout, "bound `D` of each attempt of a model call (0: none)")
	f.BoolVar(&opts.stream, "stream", false, "stream model answers (server-sent events)")
	f.StringVar(&opts.workspace, "workspace", "workspace", "`DIR` the file tools are confined to (over A2A, each task works in DIR/<task-id>)")
	f.StringVar(&opts.escalations, "escalations", "deny", "`MODE`: who answers an escalation the client cannot be asked: auto (the recommendation) or deny")
	f.StringVar(&opts.journals, "journals", "runs", "`DIR` of the runs' journals, one <run-id>.jsonl each")
	f.IntVar(&opts.maxRuns, "max-runs", 8, "goals run at once, a goal waiting for an answer included; more are refused")
	f.BoolVar(&opts.confirm, "confirm-acceptance", false, "put the lead's acceptance of each goal to the client to confirm (MCP: when it can elicit; A2A: input-required), instead of confirming it by policy")
	f.DurationVar(&opts.idle, "idle-timeout", serve.DefaultIdleTimeout, "how long `D` a goal waits for the client's answer to a question before its run ends (0: for ever)")
	f.IntVar(&opts.Steps, "steps", 0, "`N` model turns each goal's lead may take, its delegates' included")
	f.IntVar(&opts.Tokens, "tokens", 0, "`N` tokens each goal may spend (default no bound)")
	f.DurationVar(&opts.Timeout, "timeout", 0, "wall time `D` each goal may take, e.g. 5m (default no bound)")
	f.StringVar(&opts.logLevel, "log-level", "warn", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off")
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE`, read at the start and saved at the end")
	return cmd
}

// server is what "run serve" holds for its runs: the team, its models,
// its MCP servers, its observers.
type server struct {
	opts    *serveOptions
	team    *teamfile.File
	models  *cli.Models
	obs     *cli.Observers
	tools   *mcptools.Servers
	perTask bool
	// key seals the runs' journals (orchestrator.Journal.Seal).
	key []byte
}

func runServe(opts *serveOptions) error {
	stderr := opts.io.err
	switch {
	case opts.mcp == (opts.a2a != ""):
		return usageErrorf("say how to serve: --mcp (stdio) or --a2a ADDR")
	case opts.maxRuns < 1:
		return usageErrorf("--max-runs must be at least 1")
	case opts.GoalFlags.Check() != nil:
		return usageErrorf("%v", opts.GoalFlags.Check())
	case opts.callTimeout < 0:
		return usageErrorf("--call-timeout %s: must not be negative (0: none)", opts.callTimeout)
	case opts.idle < 0:
		return usageErrorf("--idle-timeout %s: must not be negative", opts.idle)
	case opts.escalations != "auto" && opts.escalations != "deny":
		return usageErrorf("--escalations %q: want auto or deny (a server has no terminal)", opts.escalations)
	case opts.publicURL != "" && opts.a2a == "":
		return usageErrorf("--public-url is for --a2a")
	}
	team, err := loadTeam(opts.team)
	if err != nil {
		return configError(err)
	}
	m, err := newModels(&opts.runOptions, team)
	if err != nil {
		return configError(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	obs, err := openObservers(ctx, &opts.runOptions, stderr)
	if err != nil {
		return configError(err)
	}
	defer obs.Close(stderr)
	tools, err := startServers(ctx, team)
	if err != nil {
		return configError(err)
	}
	defer tools.Close()
	key, err := journalKey(opts.workspace)
	if err != nil {
		return configError(err)
	}
	// Each goal's journal goes in the record of sealed runs, or the goal
	// does not run: a record that cannot be written is said now.
	if err := cli.RecordWritable(); err != nil {
		return configError(err)
	}
	s := &server{opts: opts, team: team, models: m, obs: obs, tools: tools, perTask: opts.a2a != "", key: key}
	// Build once now, so a team that cannot run is said before serving.
	if err := s.check(); err != nil {
		return configError(err)
	}
	var lead string
	for _, a := range team.Agents {
		if a.Name == team.Lead {
			lead = a.Role
		}
	}
	banner := fmt.Sprintf("entrust: team %s · models %s · workspace %s · escalations %s", cli.TeamSummary(team), m.Summary(), opts.workspace, opts.escalations)
	if m.Offline() {
		fmt.Fprint(stderr, offlineNotice)
	}
	banner += serversSummary(tools)
	if opts.mcp {
		fmt.Fprintln(stderr, banner+" · serving MCP on stdio")
		srv := serve.NewMCPServer(s.run, &serve.MCPOptions{Name: "entrust", Version: versionString(), Description: lead, Escalations: s.policy(), MaxRuns: opts.maxRuns, IdleTimeout: idleOption(opts.idle), ConfirmAcceptance: opts.confirm})
		err := srv.Run(ctx, &mcp.StdioTransport{})
		srv.Close()
		if err != nil && ctx.Err() == nil && !errors.Is(err, mcp.ErrConnectionClosed) {
			return &exitError{code: exitFailed, err: err}
		}
		return nil
	}
	ln, err := net.Listen("tcp", opts.a2a)
	if err != nil {
		return configError(fmt.Errorf("--a2a: %w", err))
	}
	url := opts.publicURL
	if url == "" {
		url = "http://" + advertised(ln.Addr().String()) + "/"
	}
	name := "entrust team"
	if base := strings.TrimSuffix(filepath.Base(opts.team), filepath.Ext(opts.team)); opts.team != "" && base != "team" {
		name = base
	}
	srv := serve.NewA2AServer(s.run, &serve.A2AOptions{Name: name, Description: lead, URL: url, Version: versionString(), MaxRuns: opts.maxRuns, IdleTimeout: idleOption(opts.idle), ConfirmAcceptance: opts.confirm})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stderr, "%s · serving A2A at %s (card: %s.well-known/agent-card.json)\n", banner, url, url)
	select {
	case <-ctx.Done():
	case err := <-served:
		srv.Close()
		return &exitError{code: exitFailed, err: err}
	}
	stop() // a second Ctrl-C ends the process at once
	fmt.Fprintln(stderr, "entrust: stopping: cancelling the runs still going")
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return nil
}

// idleOption is the servers' IdleTimeout of --idle-timeout, whose 0 is no
// bound.
func idleOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// advertised is the host:port clients reach a listener at: a wildcard
// address is this machine.
func advertised(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func (s *server) policy() orchestrator.Principal {
	return orchestrator.AutoPrincipal{Deny: s.opts.escalations == "deny"}
}

// check builds the team once against a throwaway workspace.
func (s *server) check() error {
	dir, err := os.MkdirTemp("", "entrust-serve")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(dir)
	if err != nil {
		return err
	}
	defer ws.Close()
	_, err = s.team.Build(&teamfile.BuildOptions{Model: s.models.Model, Tools: toolRegistry(ws, s.tools), DefaultModel: s.opts.model})
	return err
}

// run runs one goal: its own journal, and over A2A its own workspace
// subdirectory.
func (s *server) run(ctx context.Context, req *serve.Request) (*serve.Result, error) {
	dir := s.opts.workspace
	if s.perTask {
		// The id is the server's (the A2A SDK makes a new task's); a name
		// that would leave the workspace is refused all the same.
		if req.ID == "." || req.ID != filepath.Base(req.ID) || !filepath.IsLocal(req.ID) {
			return nil, fmt.Errorf("task id %q is no plain name", req.ID)
		}
		dir = filepath.Join(dir, req.ID)
	}
	ws, err := workspace.New(dir)
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	built, err := s.team.Build(&teamfile.BuildOptions{Model: s.models.Model, Tools: toolRegistry(ws, s.tools), DefaultModel: s.opts.model})
	if err != nil {
		return nil, err
	}
	runID := orchestrator.NewRunID(time.Now())
	path, err := filepath.Abs(filepath.Join(s.opts.journals, runID+".jsonl"))
	if err != nil {
		return nil, err
	}
	// In the record of sealed runs before its first line, or the run does
	// not start.
	journal, err := cli.CreateSealedJournal(path, runID, s.key)
	if err != nil {
		return nil, err
	}
	req.SetJournal(path) // a caller that missed events is pointed to it
	sinks := []orchestrator.Sink{journal}
	if req.Sink != nil {
		sinks = append(sinks, req.Sink)
	}
	sinks = append(sinks, s.obs.Sinks...)
	ro := &orchestrator.Options{RunID: runID, Sinks: sinks, Principal: req.Principal, Workspace: ws.FS(), WorkspaceDir: ws.Dir()}
	if sf := s.obs.SupervisionFor(); sf != nil {
		ro.SupervisionForModel = sf
	}
	rt, err := orchestrator.New(built, ro)
	if err != nil {
		journal.Close()
		os.Remove(path)
		return nil, err
	}
	goal := req.Goal
	goal.Budget = agents.Budget{Steps: s.opts.Steps, Tokens: s.opts.Tokens, WallTime: s.opts.Timeout}
	out, _ := rt.Run(ctx, goal)
	if err := journal.Close(); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return &serve.Result{Outcome: out, Journal: path}, nil
}
