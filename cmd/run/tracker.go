package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// tracker folds a run's events into the state of its delegation tree: what
// the live view draws. It is not safe for concurrent use; its owner locks.
type tracker struct {
	run      string
	start    time.Time
	last     time.Time
	goal     string
	nodes    map[string]*node
	roots    []*node
	escs     map[string]*escNode
	finished *orchestrator.Event

	calls  int
	usage  model.Usage
	cost   float64
	priced bool // every call so far had a known price
	models []string
}

// node is one delegation.
type node struct {
	id, parent, agent, delegator string
	objective, reassignedFrom    string
	depth                        int
	state                        string
	round                        int
	acceptance                   *agents.Acceptance
	alignment                    *agents.Alignment
	escalations                  []*escNode
	progress                     *agents.ProgressReport
	lastTool                     string
	lastToolErr                  bool
	violations                   int
	lastViolation                string
	usage                        model.Usage
	total                        *model.Usage
	cost                         float64
	priced                       bool
	reason, result               string
	children                     []*node
}

// escNode is an escalation (or a clarification) and its resolution.
type escNode struct {
	id            string
	esc           *agents.Escalation
	res           *agents.Resolution
	clarification bool
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
	return &tracker{nodes: map[string]*node{}, escs: map[string]*escNode{}, priced: true}
}

func (t *tracker) apply(e *orchestrator.Event) {
	t.last = e.Time
	if t.start.IsZero() {
		t.start = e.Time
	}
	if t.run == "" {
		t.run = e.Run
	}
	if e.Type == orchestrator.EventGoalOffered {
		n := &node{id: e.Delegation, parent: e.Parent, agent: e.Agent, delegator: e.Delegator, depth: e.Depth,
			reassignedFrom: e.ReassignedFrom, state: stOffered, priced: true}
		if e.Goal != nil {
			n.objective = e.Goal.Objective
		}
		t.nodes[n.id] = n
		if p, ok := t.nodes[e.Parent]; ok && e.Parent != "" {
			p.children = append(p.children, n)
		} else {
			t.roots = append(t.roots, n)
		}
		return
	}
	switch e.Type {
	case orchestrator.EventRunStarted:
		t.start = e.Time
		if e.Goal != nil {
			t.goal = e.Goal.Objective
		}
		return
	case orchestrator.EventRunFinished:
		t.finished = e
		return
	case orchestrator.EventModelCalled:
		t.calls++
		if e.Usage != nil {
			t.usage = t.usage.Add(*e.Usage)
			c, ok := costOf(e.Model, *e.Usage)
			t.cost += c
			t.priced = t.priced && ok
			if n := t.nodes[e.Delegation]; n != nil {
				n.usage = n.usage.Add(*e.Usage)
				n.cost += c
				n.priced = n.priced && ok
			}
		}
		if e.Model != "" && !slices.Contains(t.models, e.Model) {
			t.models = append(t.models, e.Model)
		}
		return
	case orchestrator.EventEscalationResolved:
		if x := t.escs[e.ID]; x != nil {
			x.res = e.Resolution
		}
		return
	}
	n := t.nodes[e.Delegation]
	if n == nil {
		return
	}
	switch e.Type {
	case orchestrator.EventGoalAccepted:
		n.state, n.round, n.acceptance, n.alignment = stAccepted, e.Round, e.Acceptance, nil
	case orchestrator.EventAlignmentJudged:
		n.alignment = e.Alignment
		if e.Aligned != nil && *e.Aligned {
			n.state = stWorking
		} else {
			n.state = stMisaligned
		}
	case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
		x := &escNode{id: e.ID, esc: e.Escalation, clarification: e.Type == orchestrator.EventClarificationAsked}
		if x.esc == nil {
			x.esc = &agents.Escalation{}
		}
		t.escs[e.ID] = x
		n.escalations = append(n.escalations, x)
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
		n.violations++
		n.lastViolation = e.Reason
	case orchestrator.EventGoalReported:
		n.state = stReported
	case orchestrator.EventReportVerified:
		if e.Verification != nil && e.Verification.Verdict == agents.VerdictRevise {
			n.state = stRevising
		}
	case orchestrator.EventGoalCompleted:
		n.state, n.result, n.total = stCompleted, e.Result, e.Total
	case orchestrator.EventGoalFailed:
		n.state, n.reason, n.total = stFailed, e.Reason, e.Total
	case orchestrator.EventGoalDeclined:
		n.state, n.reason, n.total = stDeclined, e.Reason, e.Total
	}
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
			return clip(s, 40)
		}
	}
	return ""
}

// open returns the escalations of n not resolved yet.
func (n *node) open() []*escNode {
	var out []*escNode
	for _, x := range n.escalations {
		if x.res == nil {
			out = append(out, x)
		}
	}
	return out
}

// tokens is the node's total if it ended, else its own so far plus its
// children's.
func (n *node) tokens() int {
	if n.total != nil {
		return n.total.Total()
	}
	sum := n.usage.Total()
	for _, c := range n.children {
		sum += c.tokens()
	}
	return sum
}

// costs is the node's cost with its children's, and whether all are known.
func (n *node) costs() (float64, bool) {
	c, ok := n.cost, n.priced
	for _, ch := range n.children {
		cc, cok := ch.costs()
		c += cc
		ok = ok && cok
	}
	return c, ok
}

func (n *node) terminal() bool {
	return n.state == stCompleted || n.state == stFailed || n.state == stDeclined
}

// icon and colour of a state.
func stateLook(n *node) (string, color) {
	switch n.state {
	case stCompleted:
		return "✓", green
	case stFailed:
		return "✗", red
	case stDeclined:
		return "⊘", magenta
	case stMisaligned:
		return "≠", red
	case stOffered, stAccepted:
		return "◌", cyan
	}
	if len(n.open()) > 0 {
		return "?", yellow
	}
	return "●", yellow
}

func (n *node) label() string {
	switch n.state {
	case stAccepted:
		return "accepted, being judged"
	case stReported:
		return "reported, being verified"
	case stWorking:
		if o := n.open(); len(o) > 0 {
			return "waiting on " + o[0].id
		}
	}
	return n.state
}

func alignLabel(n *node) (string, color) {
	a := n.alignment
	if a == nil {
		return "", ""
	}
	by := string(a.By)
	if a.Aligned {
		s := "aligned"
		if n.round > 1 {
			s += fmt.Sprintf(" (round %d)", n.round)
		}
		return s + " by " + by, green
	}
	return "misaligned by " + by, red
}

// costText formats a cost, or "" when unknown.
func costText(c float64, known bool) string {
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

func trustText(sc scorer, agent string) string {
	if sc == nil {
		return ""
	}
	m, sd := sc.Score(agent)
	return fmt.Sprintf("trust %.2f±%.2f", m, sd)
}

// lines renders the tree for the live view: a header, one line per
// delegation and a few detail lines under each, cut to width.
func (t *tracker) lines(st style, width int, now time.Time, sc scorer) []string {
	elapsed := now.Sub(t.start)
	if t.finished != nil {
		elapsed = t.finished.Time.Sub(t.start)
	}
	if t.start.IsZero() {
		elapsed = 0
	}
	head := []segment{{bold, "entrust"}, {dim, " · run " + t.run + " · "}, {"", elapsed.Round(100 * time.Millisecond).String()},
		{dim, " · " + plural(t.calls, "model call") + " · "}, {"", thousands(t.usage.Total()) + " tokens"}}
	if c := costText(t.cost, t.priced && t.calls > 0); c != "" {
		head = append(head, segment{dim, " · "}, segment{"", c})
	}
	out := []string{st.line(width, head...)}
	var walk func(n *node, prefix, branch, cont string)
	walk = func(n *node, prefix, branch, cont string) {
		icon, col := stateLook(n)
		segs := []segment{{dim, prefix + branch}, {col, icon + " "}, {bold, n.agent}, {dim, " ← " + n.delegator + "  "}, {col, n.label()}}
		if al, ac := alignLabel(n); al != "" && n.state != stMisaligned {
			segs = append(segs, segment{dim, " · "}, segment{ac, al})
		}
		segs = append(segs, segment{dim, " · " + thousands(n.tokens()) + " tok"})
		if c, ok := n.costs(); ok && c > 0 {
			segs = append(segs, segment{dim, " " + costText(c, true)})
		}
		if n.violations > 0 {
			segs = append(segs, segment{red, fmt.Sprintf(" · %d violation(s)", n.violations)})
		}
		if tt := trustText(sc, n.agent); tt != "" {
			segs = append(segs, segment{dim, " · " + tt})
		}
		segs = append(segs, segment{"", "  " + strings.TrimSpace(n.objective)})
		out = append(out, st.line(width, segs...))

		detail := prefix + cont + "   "
		if n.reassignedFrom != "" {
			out = append(out, st.line(width, segment{dim, detail + "↻ reassigned from " + n.reassignedFrom}))
		}
		if n.state == stMisaligned && n.alignment != nil {
			for _, g := range n.alignment.Gaps {
				out = append(out, st.line(width, segment{dim, detail}, segment{red, "≠ " + g}))
			}
		}
		for _, x := range n.escalations {
			if x.res == nil {
				out = append(out, st.line(width, segment{dim, detail}, segment{yellow, "⚠ " + x.id + " " + escKind(x) + ": "}, segment{"", x.esc.Question}))
				continue
			}
			verb := "answered by "
			if x.res.Refused {
				verb = "refused by "
			}
			out = append(out, st.line(width, segment{dim, detail + "↳ " + x.id + " " + escKind(x) + " " + verb + string(x.res.By) + ": " + resolutionText(x.res)}))
		}
		if !n.terminal() {
			if p := n.progress; p != nil {
				s := fmt.Sprintf("… %s", p.Summary)
				if p.Percent > 0 {
					s = fmt.Sprintf("… %.0f%% %s", p.Percent, p.Summary)
				}
				out = append(out, st.line(width, segment{dim, detail + s}))
			}
			if n.lastTool != "" {
				c, mark := dim, "⚙ "
				if n.lastToolErr {
					c, mark = red, "⚙ ✗ "
				}
				out = append(out, st.line(width, segment{dim, detail}, segment{c, mark + n.lastTool}))
			}
		}
		if n.state == stFailed || n.state == stDeclined {
			out = append(out, st.line(width, segment{dim, detail}, segment{red, n.reason}))
		}
		for i, c := range n.children {
			if i == len(n.children)-1 {
				walk(c, prefix+cont, "└─ ", "   ")
			} else {
				walk(c, prefix+cont, "├─ ", "│  ")
			}
		}
	}
	for _, r := range t.roots {
		walk(r, "", "", "")
	}
	if f := t.finished; f != nil {
		switch f.Status {
		case orchestrator.StatusCompleted:
			out = append(out, st.line(width, segment{green, "run completed"}, segment{dim, " · " + clip(f.Result, 200)}))
		default:
			out = append(out, st.line(width, segment{red, "run " + string(f.Status)}, segment{dim, " · " + f.Reason}))
		}
	}
	return out
}

func escKind(x *escNode) string {
	if x.clarification {
		return "question"
	}
	return string(x.esc.Kind)
}

func resolutionText(r *agents.Resolution) string {
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
		who = strings.Repeat("  ", n.depth) + n.id + " " + n.agent + ": "
	}
	line := func(format string, args ...any) string { return at + who + fmt.Sprintf(format, args...) }
	switch e.Type {
	case orchestrator.EventRunStarted:
		return at + fmt.Sprintf("run %s started: %q", e.Run, t.goal)
	case orchestrator.EventRunResumed:
		return at + fmt.Sprintf("run %s resumed from its journal (resume %d): what it recorded is not done again", e.Run, e.Attempt)
	case orchestrator.EventGoalOffered:
		s := line("offered by %s: %q", e.Delegator, clip(t.nodes[e.Delegation].objective, 120))
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
		return line("accepted (round %d): %q, plan: %s", e.Round, clip(e.Acceptance.RestatedIntent, 100), clip(strings.Join(e.Acceptance.Plan, "; "), 120))
	case orchestrator.EventAlignmentJudged:
		if e.Alignment == nil {
			return ""
		}
		if e.Alignment.Aligned {
			return line("aligned (judged by %s)", e.Alignment.By)
		}
		return line("misaligned (judged by %s): %s", e.Alignment.By, clip(strings.Join(e.Alignment.Gaps, "; "), 160))
	case orchestrator.EventGoalDeclined:
		return line("declined: %s", e.Reason)
	case orchestrator.EventEscalationRaised, orchestrator.EventClarificationAsked:
		x := t.escs[e.ID]
		if x == nil {
			return ""
		}
		s := line("%s %s (%s): %s", map[bool]string{true: "asks", false: "escalates"}[x.clarification], e.ID, escKind(x), clip(x.esc.Question, 160))
		if len(x.esc.Options) > 0 {
			s += " [options: " + clip(strings.Join(x.esc.Options, " | "), 120) + "]"
		}
		return s
	case orchestrator.EventEscalationResolved:
		x := t.escs[e.ID]
		if x == nil || e.Resolution == nil {
			return ""
		}
		if n = t.nodes[x.esc.Delegation]; n != nil {
			who = strings.Repeat("  ", n.depth) + n.id + " " + n.agent + ": "
		}
		verb := "answered"
		if e.Resolution.Refused {
			verb = "refused"
		}
		return line("%s %s by %s: %s", e.ID, verb, e.Resolution.By, clip(resolutionText(e.Resolution), 160))
	case orchestrator.EventConsultationAsked:
		if c := e.Consultation; c != nil {
			return line("consults %s: %s", c.Agent, clip(c.Question, 120))
		}
	case orchestrator.EventConsultationAnswered:
		if c := e.Consultation; c != nil {
			return line("%s advises: %s", c.Agent, clip(c.Answer, 120))
		}
	case orchestrator.EventProgressReported:
		if p := e.Progress; p != nil {
			return line("progress %.0f%%: %s", p.Percent, clip(p.Summary, 120))
		}
	case orchestrator.EventSupervisionIntervened:
		if iv := e.Intervention; iv != nil {
			return line("supervisor: %s %s", iv.Action, clip(iv.Reason+" "+iv.Instruction, 120))
		}
	case orchestrator.EventToolCalled:
		if !agents.IsProtocolTool(e.Tool) {
			return line("tool %s %s", e.Tool, argsBrief(e.Arguments))
		}
	case orchestrator.EventToolResult:
		if !agents.IsProtocolTool(e.Tool) && e.IsError {
			return line("tool %s failed: %s", e.Tool, clip(e.Result, 160))
		}
	case orchestrator.EventProtocolViolation:
		return line("protocol violation: %s", clip(e.Reason, 160))
	case orchestrator.EventGoalReported:
		if e.Report != nil {
			return line("reports: %s", clip(e.Report.Result, 140))
		}
	case orchestrator.EventReportVerified:
		if v := e.Verification; v != nil {
			s := line("report verified by %s: %s", v.By, v.Verdict)
			if v.Feedback != "" {
				s += " — " + clip(v.Feedback, 140)
			}
			return s
		}
	case orchestrator.EventGoalReassigned:
		return line("goal reassigned to %s: %s", e.Agent, clip(e.Reason, 120))
	case orchestrator.EventBudgetExceeded:
		return line("budget exceeded: %s (%d of %d)", e.Reason, e.Used, e.Limit)
	case orchestrator.EventContextCompacted:
		if e.Compaction == nil {
			return ""
		}
		return line("context compacted: %s", compactionText(e.Compaction))
	case orchestrator.EventModelRetried:
		return line("model call retried (attempt %d failed: %s; waiting %.1fs)", e.Attempt, clip(e.Error, 100), e.WaitMS/1000)
	case orchestrator.EventModelCalled:
		if e.Error != "" {
			return line("model call failed: %s", clip(e.Error, 160))
		}
	case orchestrator.EventGoalCompleted:
		return line("completed · %s tokens", thousands(usageTotal(e.Total)))
	case orchestrator.EventGoalFailed:
		return line("failed: %s", e.Reason)
	case orchestrator.EventRunFinished:
		s := at + fmt.Sprintf("run %s · %s tokens · %s", e.Status, thousands(usageTotal(e.Total)), plural(t.calls, "model call"))
		if c := costText(t.cost, t.priced && t.calls > 0); c != "" {
			s += " · " + c
		}
		return s
	}
	return ""
}

func usageTotal(u *model.Usage) int {
	if u == nil {
		return 0
	}
	return u.Total()
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
