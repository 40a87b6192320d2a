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
	"sync"
	"syscall"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runOptions are the root command's: the flags of "run GOAL" and the goal.
type runOptions struct {
	io *iostreams

	team, model, baseURL, apiKey string
	workspace, escalations       string
	journal, logLevel, trust     string
	quiet, json, stream          bool
	callTimeout                  time.Duration
	// GoalFlags shape the goal: criteria, constraints, checks, budget.
	cli.GoalFlags
	// offline forces the simulator whatever the environment says: a
	// resumed run that ran offline stays offline.
	offline bool
	// unsigned resumes a journal that carries no seals (run resume
	// --unsigned); sealAfter is the seal of the last line of a sealed one,
	// which the resumed run's lines continue from.
	unsigned  bool
	sealAfter string

	goal string
}

func newRunCmd(io *iostreams) *cobra.Command {
	opts := &runOptions{io: io}
	cmd := &cobra.Command{
		Use:   `run [flags] "GOAL"`,
		Short: "Delegate a goal to a team of agents that must accept it before they act",
		Long: `run: delegate a goal to a team of agents that must accept it before they act.

Runs a team on GOAL. The lead must accept the goal (restating its intent, a plan,
each criterion and constraint) before anyone acts; in terminal mode you confirm
that acceptance, and answer the escalations that reach the top.

The goal is quoted as one argument. A first word that is not a command is taken
for a mistyped command, not a goal (so "run repaly x.jsonl" costs nothing): a
goal of one word goes after --, as in: run -- Summarise. Flags may come before
or after the goal.

With no model endpoint configured (no --base-url, OPENAI_BASE_URL or
OPENAI_API_KEY), every agent runs on the built-in offline simulator.`,
		Example: `  run "Write a haiku about delegation"
  run --criteria "haiku.txt holds a haiku" --constraint "no more than 3 lines" "Write a haiku"
  run --base-url http://localhost:11434/v1 --model qwen2.5:7b "Write a haiku"
  OPENAI_API_KEY=sk-... run --model gpt-4o-mini --team team.yaml "Summarise notes/ into summary.md"
  run --json --escalations auto "GOAL" | jq -c 'select(.type=="goal.completed")'
  run replay runs/20260101-120000-a1b2c3.jsonl
  run eval --trials 3`,
		Annotations: map[string]string{"footer": `Exit codes: 0 completed and verified, 1 failed or declined, 2 usage or
configuration error, 130 interrupted.

Environment:
  OPENAI_API_KEY     API key of the endpoint (--api-key)
  OPENAI_BASE_URL    OpenAI-compatible endpoint (--base-url)
  NO_COLOR           any value turns colour off
  TERM=dumb          no colour and no redrawn live view
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER
                     export the run's traces over OTLP (see the README)`},
		Args: goalArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 && c.Flags().NFlag() == 0 {
				c.SetOut(io.err)
				_ = c.Usage()
				return exitWith(exitUsage)
			}
			opts.goal = strings.TrimSpace(strings.Join(args, " "))
			return runGoal(opts)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	addTeamFlags(f, opts)
	f.StringVar(&opts.workspace, "workspace", "workspace", "`DIR` the file tools are confined to")
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: who answers what reaches the top: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	f.StringVar(&opts.journal, "journal", "", "journal `FILE` (default runs/<run-id>.jsonl)")
	f.BoolVar(&opts.quiet, "quiet", false, "no live view")
	f.BoolVar(&opts.json, "json", false, "stream the events to stdout as JSON lines instead of the live view")
	opts.GoalFlags.AddFlags(f)
	f.DurationVar(&opts.callTimeout, "call-timeout", defaultCallTimeout, "bound `D` of each attempt of a model call, so an endpoint that never answers cannot hang the run (0: none)")
	f.BoolVar(&opts.stream, "stream", false, "stream model answers (server-sent events)")
	f.StringVar(&opts.logLevel, "log-level", "", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off\n(default warn with --quiet, else off: the live view and --json show the warnings;\nwhile the tree is drawn on a terminal, the log is written below it when the run ends)")
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE`, read before and saved after the run")
	return cmd
}

// defaultCallTimeout bounds each attempt of a model call, in every command
// that calls models.
const defaultCallTimeout = 2 * time.Minute

// addTeamFlags adds the flags that say which team runs on which models:
// run's and run serve's.
func addTeamFlags(f *pflag.FlagSet, opts *runOptions) {
	f.StringVar(&opts.team, "team", "", "team `FILE` in YAML (default: the built-in lead, writer and reviewer)")
	f.StringVar(&opts.model, "model", "", "model `NAME` of agents whose team file names none, e.g. gpt-4o-mini")
	f.StringVar(&opts.baseURL, "base-url", "", "OpenAI-compatible endpoint `URL` (default $OPENAI_BASE_URL, else OpenAI's when a key is set)")
	f.StringVar(&opts.apiKey, "api-key", "", "API `KEY` (default $OPENAI_API_KEY)")
}

// taken reports whether something is at path (a new run's journal is a new
// file: see orchestrator.CreateNewJournal, which makes it with O_EXCL).
func taken(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// runGoal runs the team on opts.goal and returns how the run ended: nil
// when the goal was completed and verified.
func runGoal(f *runOptions) error {
	objective := f.goal
	switch {
	case objective == "":
		return usageErrorf(`no goal: run "GOAL"`)
	case f.callTimeout < 0:
		return usageErrorf("--call-timeout must not be negative")
	case f.json && f.quiet:
		return usageErrorf("--json and --quiet: choose one")
	case f.journal != "" && taken(f.journal):
		return usageErrorf("--journal %s: the file exists, and a new run never overwrites it (a journal it held would be lost); name a new file, or continue the run it records with: run resume %[1]s", f.journal)
	}
	if _, err := f.Goal(objective); err != nil {
		return usageErrorf("%v", err)
	}
	if _, err := escalationMode(f); err != nil {
		return err
	}
	team, err := loadTeam(f.team)
	if err != nil {
		return configError(err)
	}
	teamYAML := teamfile.DefaultYAML()
	if f.team != "" {
		if teamYAML, err = os.ReadFile(f.team); err != nil {
			return configError(err)
		}
	}
	return execute(f, team, teamYAML, nil)
}

// newModels is the models of f's flags for team.
func newModels(f *runOptions, team *teamfile.File) (*cli.Models, error) {
	return cli.NewModels(cli.ModelOptions{BaseURL: f.baseURL, APIKey: f.apiKey, Model: f.model, Stream: f.stream,
		CallTimeout: f.callTimeout, Offline: f.offline}, team)
}

// openObservers opens the log, the traces and the trust ledger of f's
// flags.
func openObservers(ctx context.Context, f *runOptions, stderr io.Writer) (*cli.Observers, error) {
	return cli.OpenObservers(ctx, cli.ObserveOptions{LogLevel: f.logLevel, Quiet: f.quiet, Trust: f.trust}, stderr)
}

// escalationMode is who answers what reaches the top: --escalations, else
// the terminal when stdin is one, else deny.
func escalationMode(f *runOptions) (string, error) {
	mode, err := cli.EscalationMode(f.escalations, f.io.in)
	if err != nil {
		return "", usageErrorf("%v", err)
	}
	return mode, nil
}

// endpointDown reports whether ctx was ended by an endpoint that cannot
// serve any call (see guarded).
func endpointDown(ctx context.Context) bool {
	var down *cli.Unavailable
	return errors.As(context.Cause(ctx), &down)
}

// keptWhenDown reports whether e is written to the journal once the
// endpoint was found down: what another delegation did in the gap before
// the cancellation reached it. An action tool call it started (a Go tool
// that ignores its context runs to its end), so that a resume finds the
// call in flight and reconciles it rather than making it again unknowing;
// and a model call that answered, whose answer asked for that call, so that
// the resume reconciles the call the journal holds, not one a new answer
// asks for. The failed call and the cancellation's events are not written.
// The mark is set as for any call (markEvent).
func keptWhenDown(e *orchestrator.Event) bool {
	switch e.Type {
	case orchestrator.EventToolCalled:
		return !agents.IsProtocolTool(e.Tool)
	case orchestrator.EventModelCalled:
		return e.Error == "" && e.Message != nil
	}
	return false
}

// runJournal is a run's journal as one of its sinks: each event is written
// (and, an action tool call, marked: markEvent), the journal is committed
// before each effect (orchestrator.Committer), and its first write error is
// kept, to be told apart from other sinks'. Once down reports the endpoint
// down, it is written as a crash there would leave it, so that it can be
// resumed: only what keptWhenDown keeps is written, numbered on from the
// last event written (a journal has no gap).
type runJournal struct {
	// j is the journal; nil until it is opened (a resumed run's once the
	// runtime found it resumable).
	j    *orchestrator.Journal
	down func() bool

	mu      sync.Mutex // events come from the run's goroutines
	err     error
	last    int64 // the seq of the last event written
	dropped bool  // an event was not written: the next kept is renumbered
}

// Emit writes e, unless the endpoint is down and e is not kept.
func (r *runJournal) Emit(ctx context.Context, e *orchestrator.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down() {
		if !keptWhenDown(e) {
			r.dropped = true
			return nil
		}
		if r.dropped {
			renumbered := *e
			renumbered.Seq = r.last + 1
			e = &renumbered
		}
	}
	err := r.j.Emit(ctx, e)
	if err == nil {
		r.last = e.Seq
		err = markEvent(e)
	}
	return r.note(err)
}

// Borrows marks the sink as an orchestrator.Borrower: the journal keeps
// nothing of an event once its line is encoded, nor does the mark (an
// event renumbered is a copy, used only while it is written).
func (r *runJournal) Borrows() {}

// The run lends runJournal its events, and lets it write them in groups.
var (
	_ orchestrator.Borrower  = (*runJournal)(nil)
	_ orchestrator.Committer = (*runJournal)(nil)
)

// Commit writes what the journal holds back.
func (r *runJournal) Commit() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.j == nil {
		return nil
	}
	return r.note(r.j.Commit())
}

// note keeps err if it is the first; it returns err. r.mu is held.
func (r *runJournal) note(err error) error {
	if err != nil && r.err == nil {
		r.err = err
	}
	return err
}

// close closes the journal, if open, and returns the first error of its
// writes and of the close.
func (r *runJournal) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.j != nil {
		r.note(r.j.Close())
		r.j = nil
	}
	return r.err
}

// execute runs team (whose file is teamYAML) on f.goal, or, when resume
// holds a journal's events, continues that run in the same journal.
func execute(f *runOptions, team *teamfile.File, teamYAML []byte, resume []*orchestrator.Event) error {
	stdin, stdout, stderr := f.io.in, f.io.out, f.io.err
	mode, err := escalationMode(f)
	if err != nil {
		return err
	}
	goal, err := f.Goal(f.goal)
	if err != nil {
		return usageErrorf("%v", err)
	}
	// The team, the tools and the models: every configuration error is
	// reported here, before any model is called.
	models, err := newModels(f, team)
	if err != nil {
		return configError(err)
	}
	// A reader that went away (run … | head) must not kill the run before its
	// journal ends: writes to it fail instead.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// An endpoint that cannot serve any call ends the run at once.
	ctx, endRun := context.WithCancelCause(ctx)
	defer endRun(nil)
	models.SetStop(endRun)
	obs, err := openObservers(ctx, f, stderr)
	if err != nil {
		return configError(err)
	}
	defer obs.Close(stderr)
	// An endpoint that cannot serve the run is said once, in one line: the
	// failed calls and the cancellation that follow are not logged.
	endCtx := ctx
	obs.Hush(func() bool { return endpointDown(endCtx) })
	// The team file's MCP servers start once for the run and stop at its
	// end, interrupted or not.
	servers, err := startServers(ctx, team)
	if err != nil {
		return configError(err)
	}
	defer servers.Close()
	// The workspace is made last, so a configuration error leaves none behind.
	ws, err := workspace.New(f.workspace)
	if err != nil {
		return configError(fmt.Errorf("--workspace: %w", err))
	}
	defer ws.Close()
	built, err := team.Build(&teamfile.BuildOptions{Model: models.Model, Tools: toolRegistry(ws, servers), DefaultModel: f.model})
	if err != nil {
		return configError(err)
	}

	runID := orchestrator.NewRunID(time.Now())
	journalPath := f.journal
	if journalPath == "" {
		journalPath = filepath.Join("runs", runID+".jsonl")
	}
	// A new run's journal is made now; a resumed run's is opened for
	// appending once the runtime has found it resumable. A run whose
	// endpoint cannot serve it ends as a crash there would: neither the
	// failed call nor the cancellation that follows is written, so the
	// journal can be resumed once it is up (runJournal).
	runCtx := ctx
	journal := &runJournal{down: func() bool { return endpointDown(runCtx) }}
	key, err := journalKey(f.workspace)
	if err != nil {
		return configError(err)
	}
	if w := noMarksWarning(); w != "" {
		fmt.Fprintln(stderr, w)
	}
	if resume == nil {
		// Recorded as sealed before its first line: its seals stripped, it
		// is never believed as a journal from before seals.
		if journal.j, err = cli.CreateSealedJournal(journalPath, runID, key); err != nil {
			return configError(fmt.Errorf("--journal: %w", err))
		}
	} else {
		runID = resume[0].Run
		journal.last = resume[len(resume)-1].Seq
	}
	closeJournal := journal.close
	sinks := []orchestrator.Sink{journal}
	var view *cli.LiveView
	var stream *jsonStream
	switch {
	case f.json:
		stream = newJSONStream(stdout)
		sinks = append(sinks, stream)
	case !f.quiet:
		view = cli.NewLiveView(stdout, obs.Scorer())
		obs.LogThrough(view.LogWriter(stderr))
		defer view.FlushLog()
		sinks = append(sinks, view)
	}
	sinks = append(sinks, obs.Sinks...)

	var principal orchestrator.Principal
	switch mode {
	case "terminal":
		var p cli.Pauser
		if view != nil {
			p = view
		}
		principal = cli.NewTerminalPrincipal(stdin, stderr, p)
	case "auto":
		principal = orchestrator.AutoPrincipal{}
	default:
		principal = orchestrator.AutoPrincipal{Deny: true}
	}
	config, err := recordedConfig(f, mode, teamYAML, models)
	if err != nil {
		closeJournal()
		return configError(err)
	}
	opts := &orchestrator.Options{RunID: runID, Sinks: sinks, Principal: principal, Config: config, Workspace: ws.FS(), WorkspaceDir: ws.Dir()}
	if sf := obs.SupervisionFor(); sf != nil {
		opts.SupervisionForModel = sf
	}
	rt, err := orchestrator.New(built, opts)
	if err != nil {
		if view != nil {
			view.Close()
		}
		closeJournal()
		if resume == nil {
			os.Remove(journalPath)
		}
		return configError(err)
	}
	if resume != nil {
		// Nothing is written to a journal that cannot be resumed.
		err := rt.CanResume(resume, &orchestrator.ResumeOptions{Legacy: f.unsigned})
		if err == nil {
			journal.j, err = orchestrator.AppendJournal(journalPath)
		}
		if err == nil && f.sealAfter != "" {
			err = journal.j.Seal(key, f.sealAfter)
		}
		if err != nil {
			if view != nil {
				view.Close()
			}
			return configError(fmt.Errorf("%s cannot be resumed: %w", journalPath, err))
		}
	}

	if models.Offline() && !f.quiet {
		fmt.Fprint(stderr, offlineNotice)
	}
	if !f.quiet && !f.json {
		fmt.Fprintf(stderr, "entrust: team %s · models %s · workspace %s%s · escalations %s\n",
			cli.TeamSummary(team), models.Summary(), f.workspace, serversSummary(servers), mode)
	}

	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once
	}()
	var out *orchestrator.Outcome
	var runErr error
	if resume == nil {
		out, runErr = rt.Run(ctx, goal)
	} else {
		// The view and the trust ledger see the journal's events first:
		// the tree so far, and the acts the ledger never counted.
		for _, e := range resume {
			if view != nil {
				view.Emit(ctx, e)
			}
			if obs.Ledger != nil {
				obs.Ledger.Emit(ctx, e)
			}
		}
		out, runErr = rt.Resume(ctx, resume, &orchestrator.ResumeOptions{Legacy: f.unsigned})
	}
	var down *cli.Unavailable
	errors.As(context.Cause(ctx), &down)
	interrupted := ctx.Err() != nil && down == nil
	if tp, ok := principal.(*cli.TerminalPrincipal); ok {
		tp.Close()
	}
	if view != nil {
		view.Close()
		view.FlushLog()
	}
	journalErr := closeJournal()
	if down == nil && journalErr == nil {
		clearMark(runID) // the journal holds the run's end
	}
	reported := false
	if stream != nil {
		if stopped := stream.Stopped(); stopped != "" {
			fmt.Fprintf(stderr, "run: %s; its journal is %s\n", stopped, journalPath)
		}
	}
	if down != nil {
		// The endpoint's failure is the run's: said once, and nothing of
		// the cancellation it caused.
		// The journal stops where the endpoint failed, as after a crash;
		// the trust ledger, which the resume feeds the journal's events,
		// is left as it was.
		obs.Ledger = nil
		if f.quiet {
			fmt.Fprintf(stderr, "run: %v (journal %s: %s)\n", down, journalPath, down.Resume(journalPath))
			return exitWith(exitUsage)
		}
		fmt.Fprintf(stderr, "run: %v\n", down)
		fmt.Fprintf(stderr, "journal: %s stops %s: %s\n", journalPath, down.Stopped(), down.Resume(journalPath))
		return exitWith(exitUsage)
	}
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
	cli.PrintSummary(summaryOut, out, interrupted)
	if journalErr != nil {
		fmt.Fprintf(stderr, "journal: %s is incomplete (see the error above)\n", journalPath)
	} else {
		fmt.Fprintf(stderr, "journal: %s  (replay: run replay %s)\n", journalPath, journalPath)

	}
	switch {
	case interrupted:
		return exitWith(exitInterrupted)
	case out.Status == orchestrator.StatusCompleted:
		return nil
	}
	return exitWith(exitFailed)
}

// recordedConfig is the configuration run.started records (see runConfig).
func recordedConfig(f *runOptions, mode string, teamYAML []byte, m *cli.Models) (json.RawMessage, error) {
	ws, err := filepath.Abs(f.workspace)
	if err != nil {
		return nil, fmt.Errorf("--workspace: %w", err)
	}
	cfg := runConfig{Team: string(teamYAML), TeamFile: f.team, Offline: m.Offline(), Model: f.model, Stream: f.stream,
		Workspace: ws, Escalations: mode, GoalConfig: f.GoalFlags.Config()}
	if f.trust != "" {
		if cfg.Trust, err = filepath.Abs(f.trust); err != nil {
			return nil, fmt.Errorf("--trust: %w", err)
		}
	}
	if !m.Offline() && m.BaseURL() != "" {
		cfg.BaseURL = model.RedactURL(m.BaseURL())
	}
	return json.Marshal(cfg)
}

const offlineNotice = `entrust: no model endpoint is configured, so every agent runs on the built-in
  offline simulator. It plays the protocol (accepts by restating your goal, works
  with the workspace tools, reports with evidence) but it is not a language model.
  To use a real one:   OPENAI_API_KEY=sk-... run --model gpt-4o-mini "GOAL"
  or a local server:   run --base-url http://localhost:11434/v1 --model qwen2.5:7b "GOAL"
`
