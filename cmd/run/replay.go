package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
	"github.com/entrust-dev/entrust/orchestrator/trust"
	"github.com/spf13/cobra"
)

// replayOptions are "run replay"'s.
type replayOptions struct {
	io      *iostreams
	trust   string
	json    bool
	journal string
}

func newReplayCmd(io *iostreams) *cobra.Command {
	opts := &replayOptions{io: io}
	cmd := &cobra.Command{
		Use:   "replay [flags] JOURNAL",
		Short: "Re-render a finished run from its journal",
		Long: `Re-renders a finished run from its journal alone: the delegation tree, each
acceptance and alignment, escalations with their resolutions, reports and
verifications, outcomes, and the usage of every model call by agent.

It exits 1, after showing the journal and saying why on stderr, when the journal
breaks an invariant or its seals say it cannot be believed (broken, or sealed
with another key); 2 when it cannot be read; 0 otherwise.`,
		Example: `  run replay runs/20260101-120000-a1b2c3.jsonl
  run replay "$(ls -t runs/*.jsonl | head -1)"
  run replay --json runs/20260101-120000-a1b2c3.jsonl | jq '.tree.children[].report'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("name one journal file: run replay JOURNAL")
			}
			return nil
		},
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"jsonl"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(_ *cobra.Command, args []string) error {
			opts.journal = args[0]
			return runReplay(opts)
		},
	}
	cmd.Flags().StringVar(&opts.trust, "trust", "", "trust ledger `FILE` to show each agent's current trust from (default runs/trust.json if it exists)")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the rebuilt delegation tree as JSON (orchestrator.Outcome) instead of the text")
	return cmd
}

// runReplay renders the journal opts.journal.
func runReplay(opts *replayOptions) error {
	path, stdout, stderr := opts.journal, opts.io.out, opts.io.err
	f, err := os.Open(path)
	if err != nil {
		return configError(err)
	}
	defer f.Close()
	// The key is read, never made, to check a journal: one sealed with a
	// key this machine does not hold is said to be so.
	key, _, kerr := orchestrator.LoadJournalKey(false)
	if kerr != nil && !errors.Is(kerr, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "run replay: warning: %v\n", kerr)
	}
	events, integrity, truncated, err := orchestrator.ReadSealedJournal(f, key)
	if err != nil {
		return configError(fmt.Errorf("%s is not a valid journal: %w", path, err))
	}
	if truncated {
		fmt.Fprintf(stderr, "run replay: warning: the last line of %s is torn (the run was cut off mid-write); replaying the events before it\n", path)
	}
	if err := checkEvents(events); err != nil {
		return configError(fmt.Errorf("%s is not a valid journal: %w", path, err))
	}
	root, err := orchestrator.Rebuild(events)
	if err != nil {
		return configError(fmt.Errorf("%s is not a consistent journal: %w", path, err))
	}
	if integrity.State == orchestrator.IntegrityBroken || integrity.State == orchestrator.IntegrityOtherKey {
		fmt.Fprintf(stderr, "run replay: warning: integrity %s: what it records cannot be believed\n", integrity)
	}
	bad := invariantBreaches(events)
	if opts.json {
		if err := writeReplayJSON(stdout, events, root, truncated, integrity, bad); err != nil {
			return err
		}
		return replayVerdict(path, bad, integrity)
	}
	var sc cli.Scorer
	tp := opts.trust
	if tp == "" {
		if _, err := os.Stat(cli.DefaultTrustPath); err == nil {
			tp = cli.DefaultTrustPath
		}
	}
	if tp != "" {
		if _, err := os.Stat(tp); err != nil {
			fmt.Fprintf(stderr, "run replay: warning: --trust: %v\n", err)
			tp = ""
		}
	}
	if tp != "" {
		l, err := trust.Open(tp)
		if err != nil {
			fmt.Fprintf(stderr, "run replay: warning: --trust: %v\n", err)
		} else {
			sc = l
		}
	}
	if events[len(events)-1].Type != orchestrator.EventRunFinished {
		fmt.Fprintf(stderr, "run replay: warning: the run never finished (no run.finished): showing it as it stood\n")
	}
	renderReplay(stdout, events, root, sc, integrity, bad)
	return replayVerdict(path, bad, integrity)
}

// replayVerdict is how replay exits once it has shown the journal: 1 when
// the journal breaks an invariant or its seals say it cannot be believed
// (broken, or sealed with a key not at hand), so a script can tell without
// reading the output; nil otherwise. A journal without seals is not
// refused: journals from before seals, and --unsigned runs, have none.
func replayVerdict(path string, bad []invariant.Violation, integrity orchestrator.Integrity) error {
	var why []string
	if len(bad) > 0 {
		why = append(why, fmt.Sprintf("%d invariant breach(es)", len(bad)))
	}
	if integrity.State == orchestrator.IntegrityBroken || integrity.State == orchestrator.IntegrityOtherKey {
		why = append(why, "integrity "+integrity.String())
	}
	if len(why) == 0 {
		return nil
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("%s: %s", path, strings.Join(why, "; "))}
}

// invariantBreaches checks the journal's events against DESIGN.md's
// invariants. A run that never finished (killed, or still going) is held to
// what its events already say, not to the ends it has yet to reach.
func invariantBreaches(events []*orchestrator.Event) []invariant.Violation {
	bad := invariant.CheckJournal
	if events[len(events)-1].Type != orchestrator.EventRunFinished {
		bad = invariant.CheckUnfinished
	}
	return append([]invariant.Violation{}, bad(events)...)
}

// checkEvents refuses what is JSON but not a journal.
func checkEvents(events []*orchestrator.Event) error {
	if len(events) == 0 {
		return errors.New("it holds no events")
	}
	var prev int64
	for i, e := range events {
		switch {
		case e.Type == "":
			return fmt.Errorf("event %d has no type", i+1)
		case !e.Type.Known():
			return fmt.Errorf("event %d has an unknown type %q", i+1, e.Type)
		case e.Seq <= prev:
			return fmt.Errorf("event %d has seq %d after %d: events are out of order", i+1, e.Seq, prev)
		}
		prev = e.Seq
	}
	return nil
}

// agentUsage is one agent's model calls.
type agentUsage struct {
	agent  string
	calls  int
	errors int
	usage  model.Usage
	cost   float64
	priced bool
	models []string
	ms     float64
}

func renderReplay(w io.Writer, events []*orchestrator.Event, root *orchestrator.Outcome, sc cli.Scorer, integrity orchestrator.Integrity, bad []invariant.Violation) {
	st := cli.NewStyle(w)
	first, last := events[0], events[len(events)-1]
	var goal *agents.Goal
	var finished *orchestrator.Event
	byAgent := map[string]*agentUsage{}
	var order []string
	total := &agentUsage{agent: "total", priced: true}
	retries := 0
	judged := map[string][]*orchestrator.Event{} // alignment.judged by delegation, every round
	compacted := map[string][]compactionAt{}     // context.compacted by delegation
	turns := map[string]int{}                    // turns so far, by delegation
	for _, e := range events {
		switch e.Type {
		case orchestrator.EventContextCompacted:
			if e.Compaction != nil {
				compacted[e.Delegation] = append(compacted[e.Delegation], compactionAt{step: turns[e.Delegation] + 1, e: e})
			}
		case orchestrator.EventAlignmentJudged:
			judged[e.Delegation] = append(judged[e.Delegation], e)
		case orchestrator.EventRunStarted:
			goal = e.Goal
		case orchestrator.EventRunFinished:
			finished = e
		case orchestrator.EventModelRetried:
			retries++
		case orchestrator.EventModelCalled:
			if e.Purpose == "turn" {
				turns[e.Delegation]++
			}
			u := byAgent[e.Agent]
			if u == nil {
				u = &agentUsage{agent: e.Agent, priced: true}
				byAgent[e.Agent] = u
				order = append(order, e.Agent)
			}
			for _, x := range []*agentUsage{u, total} {
				x.calls++
				x.ms += e.LatencyMS
				if e.Error != "" {
					x.errors++
				}
				if e.Usage != nil {
					x.usage = x.usage.Add(*e.Usage)
					c, ok := cli.CostOf(e.Model, *e.Usage)
					x.cost += c
					x.priced = x.priced && ok
				}
				if e.Model != "" && !slices.Contains(x.models, e.Model) {
					x.models = append(x.models, e.Model)
				}
			}
		}
	}

	status := st.Paint(cli.Yellow, "unfinished")
	switch {
	case finished != nil && finished.Cause == orchestrator.CauseCancelled:
		status = st.Paint(cli.Yellow, "interrupted")
	case finished != nil:
		status = statusPaint(st, finished.Status)
	}
	fmt.Fprintf(w, "%s %s · %s · %s · %s\n", st.Paint(cli.Bold, "run"), first.Run, first.Time.UTC().Format("2006-01-02 15:04:05 UTC"),
		last.Time.Sub(first.Time).Round(time.Millisecond), status)
	if goal != nil {
		fmt.Fprintf(w, "%s %s\n", st.Paint(cli.Bold, "goal:"), cli.OneLine(goal.Objective))
		for _, c := range goal.Criteria {
			fmt.Fprintln(w, "  criterion:  "+cli.OneLine(c))
		}
		for _, c := range goal.Constraints {
			fmt.Fprintln(w, "  constraint: "+cli.OneLine(c))
		}
	}
	icol := cli.Yellow
	switch integrity.State {
	case orchestrator.IntegrityVerified:
		icol = cli.Green
	case orchestrator.IntegrityBroken, orchestrator.IntegrityOtherKey:
		icol = cli.Red
	}
	fmt.Fprintf(w, "%s %s\n", st.Paint(cli.Bold, "integrity:"), st.Paint(icol, integrity.String()))
	fmt.Fprintln(w)

	var walk func(o *orchestrator.Outcome, prefix, branch, cont string)
	walk = func(o *orchestrator.Outcome, prefix, branch, cont string) {
		icon, col := outcomeLook(o.Status)
		head := fmt.Sprintf("%s %s ← %s", o.Delegation, o.Agent, o.Delegator)
		fmt.Fprintf(w, "%s%s %s · %s · %s tokens (own %s) · %s", prefix+branch, st.Paint(col, icon), st.Paint(cli.Bold, head),
			statusPaint(st, o.Status), cli.Thousands(o.Total.Total()), cli.Thousands(o.Usage.Total()), cli.Plural(o.Steps, "step"))
		if tt := cli.TrustText(sc, o.Agent); tt != "" {
			fmt.Fprint(w, " · "+tt)
		}
		fmt.Fprintln(w)
		d := prefix + cont + "   "
		line := func(c cli.Color, format string, args ...any) {
			fmt.Fprintln(w, d+st.Paint(c, cli.OneLine(fmt.Sprintf(format, args...))))
		}
		if o.Goal != nil && o.Parent != "" {
			line("", "goal: %s", cli.OneLine(o.Goal.Objective))
		}
		if o.ReassignedFrom != "" {
			line(cli.Dim, "reassigned from %s", o.ReassignedFrom)
		}
		if a := o.Acceptance; a != nil {
			line("", "accepted (round %d): %s", o.AlignmentRounds, cli.OneLine(a.RestatedIntent))
			for i, p := range a.Plan {
				line(cli.Dim, "  %d. %s", i+1, cli.OneLine(p))
			}
		}
		rounds := judged[o.Delegation]
		for _, e := range rounds {
			al := e.Alignment
			if al == nil {
				continue
			}
			round := ""
			if len(rounds) > 1 {
				round = fmt.Sprintf("round %d: ", e.Round)
			}
			if al.Aligned {
				line(cli.Green, "%saligned (judged by %s)", round, al.By.Words())
			} else {
				line(cli.Red, "%smisaligned (judged by %s): %s", round, al.By.Words(), strings.Join(al.Gaps, "; "))
			}
		}
		if o.Decline != nil {
			line(cli.Magenta, "declined: %s", o.Decline.Reason)
		}
		for _, x := range o.Escalations {
			e := x.Escalation
			line(cli.Yellow, "escalation %s (%s): %s", e.ID, e.Kind, cli.OneLine(e.Question))
			if len(e.Options) > 0 {
				line(cli.Dim, "  options: %s", strings.Join(e.Options, " | "))
			}
			if e.Recommendation != "" {
				line(cli.Dim, "  recommended: %s", e.Recommendation)
			}
			switch r := x.Resolution; {
			case r == nil:
				line(cli.Red, "  → never resolved")
			case r.Refused:
				line("", "  → refused by %s: %s", r.By.Words(), cli.OneLine(r.Answer))
			default:
				line("", "  → answered by %s: %s", r.By.Words(), cli.OneLine(cli.ResolutionText(r)))
			}
		}
		for _, c := range o.Consultations {
			line("", "consulted %s: %s", c.Agent, cli.OneLine(c.Question))
			line(cli.Dim, "  → %s", cli.Clip(c.Answer, 200))
		}
		if r := o.Report; r != nil {
			line("", "reported: %s", cli.Clip(r.Result, 300))
			for _, c := range r.Criteria {
				mark := st.Paint(cli.Green, "met")
				if !c.Met {
					mark = st.Paint(cli.Red, "NOT met")
				}
				fmt.Fprintf(w, "%s  - %s: %s%s\n", d, cli.OneLine(c.Criterion), mark, cli.OneLine(evidence(c.Evidence)))
			}
		}
		if v := o.Verification; v != nil {
			c := cli.Green
			if v.Verdict != agents.VerdictAccept {
				c = cli.Red
			}
			s := fmt.Sprintf("verified by %s: %s", v.By.Words(), v.Verdict)
			if o.Revisions > 0 {
				s += fmt.Sprintf(" (after %d revision(s))", o.Revisions)
			}
			if v.Feedback != "" {
				s += " — " + cli.OneLine(v.Feedback)
			}
			line(c, "%s", s)
		}
		if o.Violations > 0 {
			line(cli.Red, "%d protocol violation(s)", o.Violations)
		}
		for _, x := range compacted[o.Delegation] {
			line(cli.Dim, "context compacted before %s %d: %s", x.e.Purpose, x.step, cli.CompactionText(x.e.Compaction))
		}
		if o.Status != orchestrator.StatusCompleted && o.Reason != "" {
			line(cli.Red, "%s: %s", o.Status, o.Reason)
		}
		for i, c := range o.Children {
			if i == len(o.Children)-1 {
				walk(c, prefix+cont, "└─ ", "   ")
			} else {
				walk(c, prefix+cont, "├─ ", "│  ")
			}
		}
	}
	walk(root, "", "", "")

	fmt.Fprintln(w)
	fmt.Fprintln(w, st.Paint(cli.Bold, "usage by agent"))
	wa := len("agent")
	for _, a := range order {
		wa = max(wa, len(a))
	}
	// The prompt tokens the provider served from its prompt cache get a
	// column when it reported any.
	cached := total.usage.CachedTokens > 0
	row := func(u *agentUsage) {
		cost := cli.CostText(u.cost, u.priced && u.calls > 0)
		if cost == "" {
			cost = "?"
		}
		fmt.Fprintf(w, "  %-*s %6d %10s", wa, u.agent, u.calls, cli.Thousands(u.usage.PromptTokens))
		if cached {
			fmt.Fprintf(w, " %10s", cli.Thousands(u.usage.CachedTokens))
		}
		fmt.Fprintf(w, " %11s %10s %9s %9.1fs  %s\n", cli.Thousands(u.usage.CompletionTokens), cli.Thousands(u.usage.Total()), cost, u.ms/1000,
			strings.Join(u.models, ", "))
	}
	fmt.Fprintf(w, "  %-*s %6s %10s", wa, "agent", "calls", "prompt")
	if cached {
		fmt.Fprintf(w, " %10s", "cached")
	}
	fmt.Fprintf(w, " %11s %10s %9s %10s  %s\n", "completion", "total", "cost", "model time", "models")
	for _, a := range order {
		row(byAgent[a])
	}
	row(total)
	if retries > 0 {
		fmt.Fprintf(w, "%d model call(s) retried\n", retries)
	}
	fmt.Fprintln(w)
	// A run that never finished (killed, or still going) is held to what
	// its events already say, not to the ends it has yet to reach.
	hold := "invariants: all %d hold"
	if last.Type != orchestrator.EventRunFinished {
		hold = "invariants: all %d hold so far (the run never finished)"
	}
	if len(bad) == 0 {
		fmt.Fprintln(w, st.Paint(cli.Green, fmt.Sprintf(hold, len(invariant.Checks()))))
	} else {
		fmt.Fprintln(w, st.Paint(cli.Red, fmt.Sprintf("invariants: %d breach(es)", len(bad))))
		for _, v := range bad {
			fmt.Fprintln(w, "  "+st.Paint(cli.Red, v.String()))
		}
	}
	if finished != nil {
		fmt.Fprintln(w)
		if finished.Status == orchestrator.StatusCompleted {
			fmt.Fprintln(w, st.Paint(cli.Green, "result:"))
			fmt.Fprintln(w, cli.Indent(cli.Visible(finished.Result), "  "))
		} else if finished.Cause == orchestrator.CauseCancelled {
			fmt.Fprintf(w, "%s %s\n", st.Paint(cli.Yellow, "outcome: interrupted:"), cli.OneLine(finished.Reason))
		} else {
			fmt.Fprintf(w, "%s %s\n", st.Paint(cli.Red, "outcome: "+string(finished.Status)+":"), cli.OneLine(finished.Reason))
		}
	}
}

func evidence(s string) string {
	if s == "" {
		return ""
	}
	return " — " + cli.Clip(s, 160)
}

func outcomeLook(s orchestrator.Status) (string, cli.Color) {
	switch s {
	case orchestrator.StatusCompleted:
		return "✓", cli.Green
	case orchestrator.StatusDeclined:
		return "⊘", cli.Magenta
	case orchestrator.StatusFailed:
		return "✗", cli.Red
	}
	return "●", cli.Yellow
}

func statusPaint(st cli.Style, s orchestrator.Status) string {
	_, c := outcomeLook(s)
	if s == "" {
		return st.Paint(cli.Yellow, "unfinished")
	}
	return st.Paint(c, string(s))
}

// compactionAt is a context.compacted event and the turn it came before.
type compactionAt struct {
	step int
	e    *orchestrator.Event
}

// replayDoc is what run replay --json prints: the run and its delegation
// tree as orchestrator.Rebuild makes it from the journal.
type replayDoc struct {
	Run string `json:"run"`
	// Finished says the journal ends with run.finished; Torn that its last
	// line was cut off and left out.
	Finished bool `json:"finished"`
	Torn     bool `json:"torn,omitempty"`
	// Integrity is what the journal's seals say of it: "verified", "not
	// signed", "broken at event N (…)" or "sealed with another key (…)".
	Integrity string `json:"integrity"`
	// Status and Reason are run.finished's (how the run ended), "" when it
	// never finished.
	Status orchestrator.Status `json:"status,omitempty"`
	Reason string              `json:"reason,omitempty"`
	Start  time.Time           `json:"start"`
	End    time.Time           `json:"end"`
	// Usage sums every model call of the run.
	Usage model.Usage `json:"usage"`
	// Invariants is the number of DESIGN.md's invariants checked, and
	// Breaches those the journal breaks (empty when all hold; for a run
	// that never finished, what its events already break), as the text
	// lists them.
	Invariants int                   `json:"invariants"`
	Breaches   []invariant.Violation `json:"breaches"`
	// Tree is the root delegation with its children.
	Tree *orchestrator.Outcome `json:"tree"`
}

func writeReplayJSON(w io.Writer, events []*orchestrator.Event, root *orchestrator.Outcome, torn bool, integrity orchestrator.Integrity, bad []invariant.Violation) error {
	first, last := events[0], events[len(events)-1]
	doc := replayDoc{Run: first.Run, Torn: torn, Integrity: integrity.String(), Start: first.Time, End: last.Time, Tree: root,
		Invariants: len(invariant.Checks()), Breaches: bad}
	for _, e := range events {
		switch {
		case e.Type == orchestrator.EventRunFinished:
			doc.Finished, doc.Status, doc.Reason = true, e.Status, e.Reason
		case e.Type == orchestrator.EventModelCalled && e.Usage != nil:
			doc.Usage = doc.Usage.Add(*e.Usage)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
