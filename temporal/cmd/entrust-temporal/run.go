package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"github.com/spf13/cobra"
)

type runOptions struct {
	conn
	goal                  string
	criteria, constraints []string
	steps                 int
	journal, escalations  string
	id                    string
	json, quiet           bool
	in                    io.Reader
	out, errOut           io.Writer
}

func newRunCmd(in io.Reader, out, errOut io.Writer) *cobra.Command {
	opts := &runOptions{in: in, out: out, errOut: errOut}
	cmd := &cobra.Command{
		Use:   "run [flags] GOAL",
		Short: "Submit a goal as a workflow and follow it",
		Long: "run submits GOAL to the workers of the task queue as a Temporal workflow, shows its events as they come, writes its journal (which run replay reads), answers the escalations that reach the top, and exits as run does: 0 completed, 1 failed or declined, 2 a usage error, 130 interrupted (the run is cancelled).\n\n" +
			"Escalations: terminal asks you here, auto takes the agent's recommendation, deny refuses.",
		Example: "  entrust-temporal run --address localhost:7233 --journal run.jsonl \"Write an onboarding guide\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.goal = args[0]
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runGoal(ctx, opts)
		},
	}
	opts.conn.flags(cmd)
	f := cmd.Flags()
	f.StringSliceVar(&opts.criteria, "criteria", nil, "a success `CRITERION` of the goal (repeatable)")
	f.StringSliceVar(&opts.constraints, "constraint", nil, "a `CONSTRAINT` of the goal: must or must not (repeatable)")
	f.IntVar(&opts.steps, "steps", 0, "the lead's budget of model turns (`N`, 0: the team's)")
	f.StringVar(&opts.journal, "journal", "", "write the run's events to `FILE` as JSON lines")
	f.StringVar(&opts.escalations, "escalations", "", "`MODE`: who answers what reaches the top: terminal, auto or deny\n(default terminal when stdin is a terminal, else deny)")
	f.StringVar(&opts.id, "id", "", "the workflow `ID` (default entrust- and a fresh run id)")
	f.BoolVar(&opts.json, "json", false, "print the events as JSON lines instead of the live view")
	f.BoolVar(&opts.quiet, "quiet", false, "print only the outcome")
	return cmd
}

func runGoal(ctx context.Context, opts *runOptions) error {
	if strings.TrimSpace(opts.goal) == "" {
		return usageErrorf("run: the GOAL is empty")
	}
	mode := opts.escalations
	if mode == "" {
		mode = "deny"
		if f, ok := opts.in.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				mode = "terminal"
			}
		}
	}
	switch mode {
	case "terminal", "auto", "deny":
	default:
		return usageErrorf("run: --escalations %q: want terminal, auto or deny", opts.escalations)
	}
	var sinks []orchestrator.Sink
	if opts.journal != "" {
		fh, err := os.Create(opts.journal)
		if err != nil {
			return usageErrorf("run: --journal: %v", err)
		}
		j := orchestrator.NewJournal(fh)
		defer j.Close()
		sinks = append(sinks, j)
	}
	switch {
	case opts.json:
		enc := json.NewEncoder(opts.out)
		sinks = append(sinks, orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error { return enc.Encode(e) }))
	case !opts.quiet:
		sinks = append(sinks, orchestrator.SinkFunc(func(_ context.Context, e *orchestrator.Event) error { view(opts.out, e); return nil }))
	}
	c, err := opts.dial()
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	defer c.Close()
	goal := agents.Goal{Objective: opts.goal, Criteria: opts.criteria, Constraints: opts.constraints, Budget: agents.Budget{Steps: opts.steps}}
	cfg, _ := json.Marshal(map[string]any{"task_queue": opts.taskQueue, "escalations": mode})
	r, err := entrusttemporal.Start(ctx, c, goal, entrusttemporal.StartOptions{TaskQueue: opts.taskQueue, ID: opts.id, Config: cfg,
		AskClient: mode == "terminal", Deny: mode == "deny"})
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if !opts.json && !opts.quiet {
		fmt.Fprintf(opts.errOut, "entrust: workflow %s on %s, task queue %s · escalations %s\n", r.ID(), opts.address, opts.taskQueue, mode)
	}
	var fo entrusttemporal.FollowOptions
	fo.Sinks = sinks
	if mode == "terminal" {
		fo.Principal = &terminal{in: bufio.NewReader(opts.in), out: opts.errOut}
	}
	// An interrupt cancels the run and waits for its last events.
	follow := context.WithoutCancel(ctx)
	go func() {
		<-ctx.Done()
		_ = r.Cancel(follow)
	}()
	out, err := r.Follow(follow, fo)
	if out == nil && err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(opts.out, "%s: %s", out.Agent, out.Status)
	if out.Reason != "" {
		fmt.Fprintf(opts.out, " (%s)", out.Reason)
	}
	fmt.Fprintln(opts.out)
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitInterrupted}
	case out.Status != orchestrator.StatusCompleted:
		return &exitError{code: exitFailed}
	}
	return nil
}

// view prints one event as a line of the live view.
func view(w io.Writer, e *orchestrator.Event) {
	if e.Type == orchestrator.EventModelCalled {
		return
	}
	var detail string
	switch {
	case e.Tool != "" && e.Type == orchestrator.EventToolCalled:
		detail = e.Tool
	case e.Tool != "" && e.Type == orchestrator.EventToolResult:
		detail = e.Tool + " → " + clip(e.Result, 80)
	case e.Goal != nil:
		detail = clip(e.Goal.Objective, 80)
	case e.Reason != "":
		detail = clip(e.Reason, 80)
	}
	who := e.Agent
	if e.Delegation != "" {
		who = e.Delegation + " " + who
	}
	fmt.Fprintf(w, "%4d  %-20s %-14s %s\n", e.Seq, e.Type, who, detail)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// terminal is the Principal at the terminal: it judges the lead's
// acceptance and answers the escalations that reach the top.
type terminal struct {
	mu  sync.Mutex
	in  *bufio.Reader
	out io.Writer
}

func (t *terminal) line(prompt string) (string, error) {
	fmt.Fprint(t.out, prompt)
	s, err := t.in.ReadString('\n')
	if err != nil && s == "" {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no answer: stdin closed")
		}
		return "", err
	}
	return strings.TrimSpace(s), nil
}

// JudgeAcceptance shows the acceptance and asks whether it is aligned.
func (t *terminal) JudgeAcceptance(_ context.Context, g *agents.Goal, agent string, a *agents.Acceptance) (agents.Alignment, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, _ := json.MarshalIndent(a, "  ", "  ")
	fmt.Fprintf(t.out, "\n%s accepts %q:\n  %s\n", agent, g.Objective, b)
	s, err := t.line("Aligned? [Y/n, or say what is missing] ")
	if err != nil {
		return agents.Alignment{}, err
	}
	switch strings.ToLower(s) {
	case "", "y", "yes":
		return agents.Alignment{Aligned: true, By: "user"}, nil
	case "n", "no":
		return agents.Alignment{Aligned: false, Gaps: []string{"the user does not find it aligned"}, By: "user"}, nil
	}
	return agents.Alignment{Aligned: false, Gaps: []string{s}, By: "user"}, nil
}

// AnswerEscalation shows the escalation and reads the answer; an empty one
// takes the recommendation, "refuse" refuses.
func (t *terminal) AnswerEscalation(_ context.Context, e *agents.Escalation) (agents.Resolution, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, "\n%s escalates (%s): %s\n", e.From, e.Kind, e.Question)
	for i, o := range e.Options {
		fmt.Fprintf(t.out, "  %d. %s\n", i+1, o)
	}
	if e.Recommendation != "" {
		fmt.Fprintf(t.out, "  recommended: %s\n", e.Recommendation)
	}
	s, err := t.line("Answer [empty: the recommendation; refuse: refuse] ")
	if err != nil {
		return agents.Resolution{}, err
	}
	switch {
	case s == "" && e.Recommendation != "":
		return agents.Resolution{Answer: "Proceed with your recommendation: " + e.Recommendation, Decision: e.Recommendation, By: "user"}, nil
	case s == "" || strings.EqualFold(s, "refuse"):
		return agents.Resolution{Refused: true, Answer: "The user refused to decide; decide within your constraints or decline.", By: "user"}, nil
	}
	for i, o := range e.Options {
		if s == fmt.Sprint(i+1) {
			return agents.Resolution{Answer: o, Decision: o, By: "user"}, nil
		}
	}
	return agents.Resolution{Answer: s, By: "user"}, nil
}
