package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// followOptions are follow's.
type followOptions struct {
	conn
	escalations, trust string
	// output says where the events go: journal, view or JSON, log.
	output

	id          string
	in          io.Reader
	out, errOut io.Writer
}

func newFollowCmd(in io.Reader, out, errOut io.Writer) *cobra.Command {
	opts := &followOptions{in: in, out: out, errOut: errOut}
	cmd := &cobra.Command{
		Use:   "follow [flags] WORKFLOW-ID",
		Short: "Follow a run already on Temporal, as run follows the one it submits",
		Long: `follow attaches to the run of a workflow that entrust-temporal run (or the
library's Start) submitted, and follows it as run does: the live view from its
first event, a journal of all its events, the questions it is waiting on (the
lead's acceptance, escalations, breaches of constraints) answered here, the same
exit codes. Use it when the client that submitted the run went away: the run
went on without it. An interrupt cancels the run, as in run.

Questions: terminal asks you here, auto takes the recommendation (and confirms,
and accepts no breach), deny refuses. A run submitted with --escalations auto or
deny asks its workers, not its client.`,
		Example: "  entrust-temporal follow --journal run.jsonl entrust-20260101-120000-a1b2c3",
		Annotations: map[string]string{"footer": `Exit codes: 0 completed and verified, 1 failed or declined, 2 usage or
configuration error, 130 interrupted (the workflow is cancelled).`},
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.id = args[0]
			return interruptible(cmd, func(ctx context.Context) error { return followRun(ctx, opts) })
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	opts.conn.flags(cmd)
	_ = f.MarkHidden("task-queue") // the run's workflow is found by its id
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: who answers the questions the run waits on: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	opts.output.add(f, nil)
	f.StringVar(&opts.trust, "trust", cli.DefaultTrustPath, "trust ledger `FILE`: the trust shown, fed by the run's events and saved after it,\nunless another client (run, or another follow) counted the run already: each run counts once")
	return cmd
}

// followRun attaches to the run of workflow opts.id and follows it to its
// end.
func followRun(ctx context.Context, opts *followOptions) error {
	switch {
	case strings.TrimSpace(opts.id) == "":
		return usageErrorf("follow: the WORKFLOW-ID is empty")
	case opts.json && opts.quiet:
		return usageErrorf("follow: --json and --quiet: choose one")
	}
	mode, err := cli.EscalationMode(opts.escalations, opts.in)
	if err != nil {
		return usageErrorf("follow: %v", err)
	}
	c, err := opts.dial()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	// The latest execution of the workflow, held to: a run started later
	// under the same id is another run (counted on its own).
	desc, err := c.DescribeWorkflowExecution(ctx, opts.id, "")
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("follow: workflow %s: %w", opts.id, err)}
	}
	r := entrusttemporal.Attach(c, opts.id, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	if _, err := r.Events(ctx, 0); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("follow: workflow %s: %w", opts.id, err)}
	}
	// The trust ledger counts the run once, whichever of the clients that
	// follow it to its end saves first (run's, this one).
	ss, err := openSession(ctx, &sessionOptions{journal: opts.journal, id: opts.id, mode: mode, json: opts.json, quiet: opts.quiet,
		logLevel: opts.logLevel, trust: opts.trust, in: opts.in, out: opts.out, errOut: opts.errOut})
	if err != nil {
		return err
	}
	defer ss.close()
	if !opts.quiet && !opts.json {
		fmt.Fprintf(opts.errOut, "entrust: following workflow %s on %s, namespace %s · questions %s\n", opts.id, opts.address, opts.namespace, mode)
	}
	return ss.follow(ctx, r, true)
}

// output are the flags of where a followed run's events go, run's and
// follow's.
type output struct {
	journal, logLevel string
	json, quiet       bool
}

// add adds the flags to f in run's order, with between (if not nil) adding
// those that come between --json and --log-level.
func (o *output) add(f *pflag.FlagSet, between func()) {
	f.StringVar(&o.journal, "journal", "", "journal `FILE` (default runs/<workflow-id>.jsonl, or .1.jsonl… when one is there)")
	f.BoolVar(&o.quiet, "quiet", false, "no live view")
	f.BoolVar(&o.json, "json", false, "stream the events to stdout as JSON lines instead of the live view")
	if between != nil {
		between()
	}
	f.StringVar(&o.logLevel, "log-level", "", "`LEVEL` of the structured log on stderr: debug, info, warn, error or off\n(default warn with --quiet, else off: the live view and --json show the warnings)")
}

// interruptible runs fn with a context an interrupt (or SIGTERM) ends; a
// second interrupt ends the process at once.
func interruptible(cmd *cobra.Command, fn func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return fn(ctx)
}

// sessionOptions say where a followed run's events go and who answers its
// questions.
type sessionOptions struct {
	journal, id, mode string
	json, quiet       bool
	logLevel, trust   string
	in                io.Reader
	out, errOut       io.Writer
}

// session is a run followed at the terminal, as run shows one: its journal
// (sealed as run's), its live view or JSON lines, its log, traces and trust
// ledger, and the Principal of its questions.
type session struct {
	opts        *sessionOptions
	journalPath string
	journal     *orchestrator.Journal
	journalErr  error
	view        *cli.LiveView
	obs         *cli.Observers
	// sinks receive the run's events; add to them before follow.
	sinks []orchestrator.Sink
}

// unusedPath is path, or when a file is there already, the first of
// path's stem with .1, .2… before its extension that is free: the default
// journal of follow is the one run wrote for the same workflow, and
// following must not truncate it (nor remove it, when the session fails).
func unusedPath(path string) string {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	for i := 1; ; i++ {
		if _, err := os.Lstat(path); err != nil {
			return path // free, or CreateJournal says why not
		}
		path = fmt.Sprintf("%s.%d%s", stem, i, ext)
	}
}

// openSession opens the journal, the observers and the view. A mistake in
// them is a usage error, made before any run is touched.
func openSession(ctx context.Context, o *sessionOptions) (*session, error) {
	s := &session{opts: o, journalPath: o.journal}
	if s.journalPath == "" {
		s.journalPath = unusedPath(filepath.Join("runs", o.id+".jsonl"))
	}
	// More than one client may follow the run to its end (run, follow): the
	// ledger counts it once.
	obs, err := cli.OpenObservers(ctx, cli.ObserveOptions{LogLevel: o.logLevel, Quiet: o.quiet, Trust: o.trust, CountOnce: true}, o.errOut)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	s.obs = obs
	// The journal is sealed as run seals its own (orchestrator.Journal.Seal),
	// with the key of this machine's user: it is written here, from the
	// workflow's events. It is in the record of sealed runs under the
	// workflow's id (the run's id, for a run Start submitted) before its
	// first line, or the session does not start: stripped of its seals, it
	// is never believed as a journal from before seals (run resume
	// --unsigned).
	key, _, err := orchestrator.LoadJournalKey(true)
	if err != nil {
		obs.Close(o.errOut)
		return nil, &exitError{code: exitUsage, err: err}
	}
	if s.journal, err = cli.CreateSealedJournal(s.journalPath, o.id, key); err != nil {
		obs.Close(o.errOut)
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--journal: %w", err)}
	}
	recorded := o.id
	s.sinks = []orchestrator.Sink{orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
		var err error
		if e.Run != recorded {
			// A run whose id is not its workflow's (a RunInput of another
			// client's) is recorded under its own before a line of it is
			// written.
			if err = cli.RecordSealed(e.Run, s.journalPath); err == nil {
				recorded = e.Run
			}
		}
		if err == nil {
			err = s.journal.Emit(ctx, e)
		}
		if err != nil && s.journalErr == nil {
			s.journalErr = err
		}
		return err
	})}
	switch {
	case o.json:
		s.sinks = append(s.sinks, orchestrator.NewJournal(o.out))
	case !o.quiet:
		s.view = cli.NewLiveView(o.out, obs.Scorer())
		obs.LogThrough(s.view.LogWriter(o.errOut))
		s.sinks = append(s.sinks, s.view)
	}
	s.sinks = append(s.sinks, obs.Sinks...)
	return s, nil
}

// abort undoes openSession's journal and view when no run is followed after
// all.
func (s *session) abort() {
	if s.view != nil {
		s.view.Close()
	}
	s.journal.Close()
	os.Remove(s.journalPath)
	s.journal = nil
}

// close saves the trust ledger, flushes the traces and writes the log held
// below the view.
func (s *session) close() {
	s.obs.Close(s.opts.errOut)
	if s.view != nil {
		s.view.FlushLog()
	}
}

// follow follows r to its end into the session's sinks, answering its
// questions by the session's mode when ask is set, and returns how it
// ended as run does: nil when completed and verified. An interrupt (ctx
// done) cancels the run and waits for its last events.
func (s *session) follow(ctx context.Context, r *entrusttemporal.Run, ask bool) error {
	o := s.opts
	if r.RunID() != "" {
		// A workflow id may be given to a new run once the last is closed
		// (run --id nightly, each night): the ledger counts each execution.
		s.obs.CountAs(r.ID() + "@" + r.RunID())
	}
	fo := entrusttemporal.FollowOptions{Sinks: s.sinks}
	var terminal *cli.TerminalPrincipal
	if ask {
		switch o.mode {
		case cli.EscalateTerminal:
			var p cli.Pauser
			if s.view != nil {
				p = s.view
			}
			terminal = cli.NewTerminalPrincipal(o.in, o.errOut, p)
			fo.Principal = terminal
		case cli.EscalateAuto:
			fo.Principal = orchestrator.AutoPrincipal{}
		default:
			fo.Principal = orchestrator.AutoPrincipal{Deny: true}
		}
	}
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
	if terminal != nil {
		terminal.Close()
	}
	if s.view != nil {
		s.view.Close()
		s.view.FlushLog()
	}
	if err := s.journal.Close(); err != nil && s.journalErr == nil {
		s.journalErr = err
	}
	if out == nil {
		if runErr == nil {
			runErr = errors.New("the run ended with no outcome")
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("%w (journal: %s)", runErr, s.journalPath)}
	}
	// A run that did not complete says why in the summary; an error beside
	// a completed outcome (a sink of the workers) is said here.
	if runErr != nil && out.Status == orchestrator.StatusCompleted {
		fmt.Fprintf(o.errOut, "run: %v\n", runErr)
	}
	if s.journalErr != nil {
		fmt.Fprintf(o.errOut, "run: %v\n", s.journalErr)
	}
	summaryOut := o.out
	if o.json {
		summaryOut = o.errOut
	}
	cli.PrintSummary(summaryOut, out, interrupted)
	if s.journalErr != nil {
		fmt.Fprintf(o.errOut, "journal: %s is incomplete (see the error above)\n", s.journalPath)
	} else {
		fmt.Fprintf(o.errOut, "journal: %s  (replay: run replay %s)\n", s.journalPath, s.journalPath)
	}
	switch {
	case interrupted:
		return &exitError{code: exitInterrupted}
	case out.Status != orchestrator.StatusCompleted:
		return &exitError{code: exitFailed}
	}
	return nil
}
