package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// tracker follows a run's events for the live view: the delegation tree is
// the journal's fold (orchestrator.Fold), and beside each delegation the
// tracker keeps what only a live view shows (its state, last tool, progress,
// cost). It is not safe for concurrent use; its owner locks.
type tracker struct {
	run      string
	start    time.Time
	last     time.Time
	goal     string
	fold     orchestrator.Fold
	nodes    map[string]*node
	finished *orchestrator.Event

	calls  int
	usage  model.Usage
	cost   float64
	priced bool // every call so far had a known price
	models []string
}

// node is one delegation: its outcome as folded so far, and its view.
type node struct {
	*orchestrator.Outcome
	state         string
	progress      *agents.ProgressReport
	lastTool      string
	lastToolErr   bool
	lastViolation string
	cost          float64
	priced        bool
}

// The states a node shows.
const (
	stOffered    = "offered"
	stAccepted   = "accepted"
	stMisaligned = "misaligned"
	stWorking    = "working"
	stReported   = "reported"
	stRevising   = "revising"
	stCompleted  = "completed"
	stFailed     = "failed"
	stDeclined   = "declined"
)

func newTracker() *tracker {
	return &tracker{nodes: map[string]*node{}, priced: true}
}

func (t *tracker) apply(e *orchestrator.Event) {
	t.last = e.Time
	if t.start.IsZero() {
		t.start = e.Time
	}
	if t.run == "" {
		t.run = e.Run
	}
	if t.fold.Apply(e) != nil {
		return // an event the tree cannot place: nothing to show
	}
	switch e.Type {
	case orchestrator.EventRunStarted:
		t.start = e.Time
		if e.Goal != nil {
			t.goal = e.Goal.Objective
		}
		return
	case orchestrator.EventRunFinished:
		f := *e // a lent event is reused once Emit returns (orchestrator.Borrower)
		t.finished = &f
		return
	case orchestrator.EventGoalOffered:
		t.nodes[e.Delegation] = &node{Outcome: t.fold.Outcome(e.Delegation), state: stOffered, priced: true}
		return
	case orchestrator.EventModelCalled:
		t.calls++
		if e.Usage != nil {
			t.usage = t.usage.Add(*e.Usage)
			c, ok := CostOf(e.Model, *e.Usage)
			t.cost += c
			t.priced = t.priced && ok
			if n := t.nodes[e.Delegation]; n != nil {
				n.cost += c
				n.priced = n.priced && ok
			}
		}
		if e.Model != "" && !slices.Contains(t.models, e.Model) {
			t.models = append(t.models, e.Model)
		}
		return
	}
	n := t.nodes[e.Delegation]
	if n == nil {
		return
	}
	switch e.Type {
	case orchestrator.EventGoalAccepted:
		n.state = stAccepted
	case orchestrator.EventAlignmentJudged:
		if e.Aligned != nil && *e.Aligned {
			n.state = stWorking
		} else {
			n.state = stMisaligned
		}
	case orchestrator.EventProgressReported:
		n.progress = e.Progress
	case orchestrator.EventToolCalled:
		if !agents.IsProtocolTool(e.Tool) {
			n.lastTool, n.lastToolErr = e.Tool+" "+argsBrief(e.Arguments), false
		}
	case orchestrator.EventToolResult:
		if !agents.IsProtocolTool(e.Tool) && e.IsError {
			n.lastToolErr = true
		}
	case orchestrator.EventProtocolViolation:
		n.lastViolation = e.Reason
	case orchestrator.EventGoalReported:
		n.state = stReported
	case orchestrator.EventReportVerified:
		if e.Verification != nil && e.Verification.Verdict == agents.VerdictRevise {
			n.state = stRevising
		}
	case orchestrator.EventGoalCompleted:
		n.state = stCompleted
	case orchestrator.EventGoalFailed:
		n.state = stFailed
	case orchestrator.EventGoalDeclined:
		n.state = stDeclined
	}
}

// roots are the trees to draw: the root delegation, and any delegation whose
// parent the tracker never saw.
func (t *tracker) roots() []*node {
	var out []*node
	if r := t.fold.Root(); r != nil {
		out = append(out, t.nodes[r.Delegation])
	}
	for _, o := range t.fold.Orphans() {
		out = append(out, t.nodes[o.Delegation])
	}
	return out
}

// children are n's delegations, in the order they were made.
func (t *tracker) children(n *node) []*node {
	out := make([]*node, 0, len(n.Children))
	for _, c := range n.Children {
		out = append(out, t.nodes[c.Delegation])
	}
	return out
}

func (n *node) objective() string {
	if n.Goal == nil {
		return ""
	}
	return n.Goal.Objective
}

// current is the alignment of the current round: none while an acceptance
// awaits its judgement.
func (n *node) current() *agents.Alignment {
	if n.state == stOffered || n.state == stAccepted {
		return nil
	}
	return n.Alignment
}

// argsBrief is the gist of a tool call's arguments: its path, or its first
// string argument.
func argsBrief(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	if p, ok := m["path"].(string); ok {
		return p
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			return Clip(s, 40)
		}
	}
	return ""
}

// open returns the escalations of n not resolved yet.
func (n *node) open() []orchestrator.EscalationRecord {
	var out []orchestrator.EscalationRecord
	for _, x := range n.Escalations {
		if x.Resolution == nil {
			out = append(out, x)
		}
	}
	return out
}

// tokens is the node's total if it ended with one, else its own so far plus
// its children's.
func (t *tracker) tokens(n *node) int {
	if n.terminal() && n.Total.Total() > 0 {
		return n.Total.Total()
	}
	sum := n.Usage.Total()
	for _, c := range t.children(n) {
		sum += t.tokens(c)
	}
	return sum
}

// costs is the node's cost with its children's, and whether all are known.
func (t *tracker) costs(n *node) (float64, bool) {
	c, ok := n.cost, n.priced
	for _, ch := range t.children(n) {
		cc, cok := t.costs(ch)
		c += cc
		ok = ok && cok
	}
	return c, ok
}

func (n *node) terminal() bool {
	return n.state == stCompleted || n.state == stFailed || n.state == stDeclined
}

// icon and colour of a state.
func stateLook(n *node) (string, Color) {
	switch n.state {
	case stCompleted:
		return "✓", Green
	case stFailed:
		return "✗", Red
	case stDeclined:
		return "⊘", Magenta
	case stMisaligned:
		return "≠", Red
	case stOffered, stAccepted:
		return "◌", Cyan
	}
	if len(n.open()) > 0 {
		return "?", Yellow
	}
	return "●", Yellow
}

func (n *node) label() string {
	switch n.state {
	case stAccepted:
		return "accepted, being judged"
	case stReported:
		return "reported, being verified"
	case stWorking:
		if o := n.open(); len(o) > 0 {
			return "waiting on " + o[0].Escalation.ID
		}
	}
	return n.state
}

func alignLabel(n *node) (string, Color) {
	a := n.current()
	if a == nil {
		return "", ""
	}
	by := a.By.Words()
	if a.Aligned {
		s := "aligned"
		if n.AlignmentRounds > 1 {
			s += fmt.Sprintf(" (round %d)", n.AlignmentRounds)
		}
		return s + " by " + by, Green
	}
	return "misaligned by " + by, Red
}

// CostText formats a cost, or "" when unknown.
func CostText(c float64, known bool) string {
	switch {
	case !known:
		return ""
	case c == 0:
		return "$0"
	case c < 0.01:
		return fmt.Sprintf("$%.4f", c)
	}
	return fmt.Sprintf("$%.2f", c)
}

// Scorer is what the live view and replay show trust from.
type Scorer interface {
	Score(agent string) (mean, sd float64)
}

// TrustText is the agent's trust as shown, or "" without a scorer.
func TrustText(sc Scorer, agent string) string {
	if sc == nil {
		return ""
	}
	m, sd := sc.Score(agent)
	return fmt.Sprintf("trust %.2f±%.2f", m, sd)
}

// lines renders the tree for the live view: a header, one line per
// delegation and a few detail lines under each, cut to width.
func (t *tracker) lines(st Style, width int, now time.Time, sc Scorer) []string {
	elapsed := now.Sub(t.start)
	if t.finished != nil {
		elapsed = t.finished.Time.Sub(t.start)
	}
	if t.start.IsZero() {
		elapsed = 0
	}
	head := []segment{{Bold, "entrust"}, {Dim, " · run " + t.run + " · "}, {"", elapsed.Round(100 * time.Millisecond).String()},
		{Dim, " · " + Plural(t.calls, "model call") + " · "}, {"", TokensText(t.usage)}}
	if c := CostText(t.cost, t.priced && t.calls > 0); c != "" {
		head = append(head, segment{Dim, " · "}, segment{"", c})
	}
	out := []string{st.line(width, head...)}
	var walk func(n *node, prefix, branch, cont string)
	walk = func(n *node, prefix, branch, cont string) {
		icon, col := stateLook(n)
		segs := []segment{{Dim, prefix + branch}, {col, icon + " "}, {Bold, n.Agent}, {Dim, " ← " + n.Delegator + "  "}, {col, n.label()}}
		if al, ac := alignLabel(n); al != "" && n.state != stMisaligned {
			segs = append(segs, segment{Dim, " · "}, segment{ac, al})
		}
		segs = append(segs, segment{Dim, " · " + Thousands(t.tokens(n)) + " tok"})
		if c, ok := t.costs(n); ok && c > 0 {
			segs = append(segs, segment{Dim, " " + CostText(c, true)})
		}
		if n.Violations > 0 {
			segs = append(segs, segment{Red, fmt.Sprintf(" · %d violation(s)", n.Violations)})
		}
		if tt := TrustText(sc, n.Agent); tt != "" {
			segs = append(segs, segment{Dim, " · " + tt})
		}
		segs = append(segs, segment{"", "  " + strings.TrimSpace(n.objective())})
		out = append(out, st.line(width, segs...))

		detail := prefix + cont + "   "
		if n.ReassignedFrom != "" {
			out = append(out, st.line(width, segment{Dim, detail + "↻ reassigned from " + n.ReassignedFrom}))
		}
		if a := n.current(); n.state == stMisaligned && a != nil {
			for _, g := range a.Gaps {
				out = append(out, st.line(width, segment{Dim, detail}, segment{Red, "≠ " + g}))
			}
		}
		for _, x := range n.Escalations {
			id := x.Escalation.ID
			if x.Resolution == nil {
				out = append(out, st.line(width, segment{Dim, detail}, segment{Yellow, "⚠ " + id + " " + escKind(&x.Escalation) + ": "}, segment{"", x.Escalation.Question}))
				continue
			}
			verb := "answered by "
			if x.Resolution.Refused {
				verb = "refused by "
			}
			out = append(out, st.line(width, segment{Dim, detail + "↳ " + id + " " + escKind(&x.Escalation) + " " + verb + x.Resolution.By.Words() + ": " + ResolutionText(x.Resolution)}))
		}
		if !n.terminal() {
			if p := n.progress; p != nil {
				s := fmt.Sprintf("… %s", p.Summary)
				if p.Percent > 0 {
					s = fmt.Sprintf("… %.0f%% %s", p.Percent, p.Summary)
				}
				out = append(out, st.line(width, segment{Dim, detail + s}))
			}
			if n.lastTool != "" {
				c, mark := Dim, "⚙ "
				if n.lastToolErr {
					c, mark = Red, "⚙ ✗ "
				}
				out = append(out, st.line(width, segment{Dim, detail}, segment{c, mark + n.lastTool}))
			}
		}
		if n.state == stFailed || n.state == stDeclined {
			out = append(out, st.line(width, segment{Dim, detail}, segment{Red, n.Reason}))
		}
		children := t.children(n)
		for i, c := range children {
			if i == len(children)-1 {
				walk(c, prefix+cont, "└─ ", "   ")
			} else {
				walk(c, prefix+cont, "├─ ", "│  ")
			}
		}
	}
	for _, r := range t.roots() {
		walk(r, "", "", "")
	}
	if f := t.finished; f != nil {
		switch f.Status {
		// The result and the reason are the summary's, printed below.
		case orchestrator.StatusCompleted:
			out = append(out, st.line(width, segment{Green, "run completed"}))
		default:
			out = append(out, st.line(width, segment{Red, "run " + string(f.Status)}))
		}
	}
	return out
}

func escKind(x *agents.Escalation) string {
	if x.Kind == agents.KindClarification {
		return "question"
	}
	return string(x.Kind)
}

// ResolutionText is what an escalation's resolution says: its decision
// and its answer.
func ResolutionText(r *agents.Resolution) string {
	if r.Decision != "" && r.Decision != r.Answer && !strings.Contains(r.Answer, r.Decision) {
		return r.Decision + " — " + r.Answer
	}
	return r.Answer
}

// describe renders one event as a plain line for logs and pipes, or "" for
// the events not worth a line (model calls, protocol tool calls).
func (t *tracker) describe(e *orchestrator.Event) string {
	at := fmt.Sprintf("[%6.2fs] ", e.Time.Sub(t.start).Seconds())
	n := t.nodes[e.Delegation]
	who := ""
	if n != nil {
		who = strings.Repeat("  ", n.Depth) + n.Delegation + " " + n.Agent + ": "
	}
	line := func(format string, args ...any) string { return at + who + fmt.Sprintf(format, args...) }
	switch e.Type {
	case orchestrator.EventRunStarted:
		return at + fmt.Sprintf("run %s started: %q", e.Run, t.goal)
	case orchestrator.EventRunResumed:
		return at + fmt.Sprintf("run %s resumed from its journal (resume %d): what it recorded is not done again", e.Run, e.Attempt)
	case orchestrator.EventGoalOffered:
		var objective string
		if n != nil {
			objective = n.objective()
		}
		s := line("offered by %s: %q", e.Delegator, Clip(objective, 120))
		if len(e.Tools) > 0 {
			s += " (tools: " + strings.Join(e.Tools, ", ") + ")"
		}
		if e.ReassignedFrom != "" {
			s += " (reassigned from " + e.ReassignedFrom + ")"
		}
		return s
	case orchestrator.EventGoalAccepted:
		if e.Acceptance == nil {
			return line("accepted (round %d)", e.Round)
		}
		return line("accepted (round %d): %q, plan: %s", e.Round, Clip(e.Acceptance.RestatedIntent, 100), Clip(strings.Join(e.Acceptance.Plan, "; "), 120))
	case orchestrator.EventAlignmentJudged:
		if e.Alignment == nil {
			return ""
		}
		if e.Alignment.Aligned {
			return line("aligned (judged by %s)", e.Alignment.By.Words())
		}
		return line("misaligned (judged by %s): %s", e.Alignment.By.Words(), Clip(strings.Join(e.Alignment.Gaps, "; "), 160))
	case orchestrator.EventGoalDeclined:
		return line("declined: %s", e.Reason)
	case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
		x := e.Escalation
		if x == nil {
			return ""
		}
		verb := "escalates"
		if e.Type == orchestrator.EventClarificationAsked {
			verb = "asks"
		}
		s := line("%s %s (%s): %s", verb, e.ID, escKind(x), Clip(x.Question, 160))
		if len(x.Options) > 0 {
			s += " [options: " + Clip(strings.Join(x.Options, " | "), 120) + "]"
		}
		return s
	case orchestrator.EventEscalationResolved:
		if n == nil || e.Resolution == nil {
			return ""
		}
		verb := "answered"
		if e.Resolution.Refused {
			verb = "refused"
		}
		return line("%s %s by %s: %s", e.ID, verb, e.Resolution.By.Words(), Clip(ResolutionText(e.Resolution), 160))
	case orchestrator.EventConsultationAsked:
		if c := e.Consultation; c != nil {
			return line("consults %s: %s", c.Agent, Clip(c.Question, 120))
		}
	case orchestrator.EventConsultationAnswered:
		if c := e.Consultation; c != nil {
			return line("%s advises: %s", c.Agent, Clip(c.Answer, 120))
		}
	case orchestrator.EventProgressReported:
		if p := e.Progress; p != nil {
			return line("progress %.0f%%: %s", p.Percent, Clip(p.Summary, 120))
		}
	case orchestrator.EventSupervisionIntervened:
		if iv := e.Intervention; iv != nil {
			return line("supervisor: %s %s", iv.Action, Clip(iv.Reason+" "+iv.Instruction, 120))
		}
	case orchestrator.EventToolCalled:
		if !agents.IsProtocolTool(e.Tool) {
			return line("tool %s %s", e.Tool, argsBrief(e.Arguments))
		}
	case orchestrator.EventToolResult:
		if !agents.IsProtocolTool(e.Tool) && e.IsError {
			return line("tool %s failed: %s", e.Tool, Clip(e.Result, 160))
		}
	case orchestrator.EventProtocolViolation:
		if e.Violation == orchestrator.ViolationUnplannedTool {
			// Noted for the verifier, not refused: the call ran.
			return line("noted: %s", Clip(e.Reason, 160))
		}
		return line("protocol violation: %s", Clip(e.Reason, 160))
	case orchestrator.EventGoalReported:
		if e.Report != nil {
			return line("reports: %s", Clip(e.Report.Result, 140))
		}
	case orchestrator.EventReportVerified:
		if v := e.Verification; v != nil {
			s := line("report verified by %s: %s", v.By.Words(), v.Verdict)
			if v.Feedback != "" {
				s += " — " + Clip(v.Feedback, 140)
			}
			return s
		}
	case orchestrator.EventGoalReassigned:
		return line("goal reassigned to %s: %s", e.Agent, Clip(e.Reason, 120))
	case orchestrator.EventBudgetExceeded:
		return line("budget exceeded: %s (%d of %d)", e.Reason, e.Used, e.Limit)
	case orchestrator.EventContextCompacted:
		if e.Compaction == nil {
			return ""
		}
		return line("context compacted: %s", CompactionText(e.Compaction))
	case orchestrator.EventModelRetried:
		return line("model call retried (attempt %d failed: %s; waiting %.1fs)", e.Attempt, Clip(e.Error, 100), e.WaitMS/1000)
	case orchestrator.EventModelFailover:
		return line("model %s failed over to %s: %s", e.Model, e.Fallback, Clip(e.Error, 100))
	case orchestrator.EventModelCalled:
		if e.Error != "" {
			return line("model call failed: %s", Clip(e.Error, 160))
		}
	case orchestrator.EventGoalCompleted:
		return line("completed · %s", TokensText(usageOf(e.Total)))
	case orchestrator.EventGoalFailed:
		return line("failed: %s", e.Reason)
	case orchestrator.EventRunFinished:
		s := at + fmt.Sprintf("run %s · %s · %s", e.Status, TokensText(usageOf(e.Total)), Plural(t.calls, "model call"))
		if c := CostText(t.cost, t.priced && t.calls > 0); c != "" {
			s += " · " + c
		}
		return s
	}
	return ""
}

func usageOf(u *model.Usage) model.Usage {
	if u == nil {
		return model.Usage{}
	}
	return *u
}

// TokensText says how many tokens u spent: "12,345 tokens", and how many
// prompt tokens of them the provider served from its prompt cache, where it
// said: "12,345 tokens (8,000 cached)".
func TokensText(u model.Usage) string {
	s := Thousands(u.Total()) + " tokens"
	if u.CachedTokens > 0 {
		s += " (" + Thousands(u.CachedTokens) + " cached)"
	}
	return s
}

// Plural is "1 thing" or "n things".
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// CompactionText says what a compaction did: the tokens before and after,
// what was clipped and folded, and who wrote the summary.
func CompactionText(c *agents.Compaction) string {
	s := fmt.Sprintf("%s → %s of %s tokens", Thousands(c.Before), Thousands(c.After), Thousands(c.Budget))
	if c.Clipped > 0 {
		s += fmt.Sprintf(", %d clipped", c.Clipped)
	}
	if c.Folded > 0 {
		var calls []string
		for _, n := range slices.Sorted(maps.Keys(c.Calls)) {
			calls = append(calls, fmt.Sprintf("%s ×%d", n, c.Calls[n]))
		}
		s += fmt.Sprintf(", %d messages folded", c.Folded)
		if len(calls) > 0 {
			s += " (" + strings.Join(calls, ", ") + ")"
		}
		s += " into a summary by " + c.By
		if c.Error != "" {
			s += " (the model's failed: " + OneLine(c.Error) + ")"
		}
	}
	return s
}
