package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/words"
	"github.com/entrust-dev/entrust/prompts"
)

// Descriptions of the protocol tools, as the models see them. What a
// delegate must know of an act is said here, once, and shown only in the
// phase the act belongs to; the system prompt says only that every act is a
// tool call. A delegate's acts show their required fields in their schema
// and name their optional ones here (see shown); the runtime validates
// every call against the whole schema.
const (
	descAccept   = "Accept the goal: why it matters, in your own words; a plan naming the tools; and, per criterion and per constraint in order, how you will meet it. First moves may follow in this turn; they run once it is judged aligned. Optional: assumptions, risks (lists), confidence (0-1)."
	descDecline  = "Decline the goal. Optional: missing (a list), counter_proposal, suggested_agent."
	descClarify  = "Ask your delegator before deciding. Optional: options (a list), recommendation."
	descEscalate = "Ask your delegator rather than guess when a wrong guess is costly. Optional: options (a list), recommendation, blocking (default true)."
	descConsult  = "Ask a peer for advice; the work stays yours. Optional: context."
	descProgress = "Report progress; the answer may redirect or halt you. Optional: percent, next, stalled."

	// descComplete is complete_goal's for a goal with constraints,
	// descCompleteFree for one without.
	descComplete     = "Report the goal done, an entry per criterion and per constraint in the goal's order: met or respected, evidence, and cites (paths you wrote or read, ids of tool calls or delegations, e.g. d2), all checked. Optional: deviations (a list), confidence (0-1)."
	descCompleteFree = "Report the goal done, an entry per criterion in the goal's order: met, evidence, and cites (paths you wrote or read, ids of tool calls or delegations, e.g. d2), all checked. Optional: deviations (a list), confidence (0-1)."

	descDelegate = "Entrust a sub-goal to an agent, with at most your tools. It accepts before it acts; you get its verified outcome."
	descJudge    = "Judge the acceptance: aligned, or the gaps and a correction."
	descAnswer   = "Answer your delegate's escalation or question."
	descVerify   = "Verify the report: accept, revise with feedback, or reject."
	// descVerifyBreach is verify_report's for a report that breaks a
	// constraint: only then is accepted_breaches shown.
	descVerifyBreach = descVerify + " A broken constraint passes only if you name it in accepted_breaches, with a reason."
	descEscalateU    = "Pass the question up to your own delegator when it is beyond what you can decide."
)

// The fields a delegate's acts show in their schema: the required ones (and
// a report's constraints, when the goal has any); their descriptions above
// name the optional ones.
var (
	shownAccept   = []string{"restated_intent", "plan", "acknowledged_criteria", "acknowledged_constraints"}
	shownDecline  = []string{"reason"}
	shownClarify  = []string{"question"}
	shownEscalate = []string{"kind", "question"}
	shownConsult  = []string{"agent", "question"}
	shownProgress = []string{"summary"}
	// shownReport is complete_goal's for a goal with constraints,
	// shownReportFree for one without.
	// Their entries are matched to the goal's by position, so they show
	// no restatement of the criterion or constraint (see fillReport).
	shownReport     = append(slices.Clone(shownReportFree), "constraints", "constraints.respected", "constraints.evidence")
	shownReportFree = []string{"result", "criteria", "criteria.met", "criteria.evidence", "criteria.cites"}
	// shownVerify is verify_report's for a report without a breach.
	shownVerify = []string{"verdict", "unmet", "feedback"}
)

// protocolTools are the protocol tools every runtime shares: their handlers
// find their delegation in the context, so they hold no state, and their
// schemas are compiled once a process.
type protocolTools struct {
	accept, decline, clarify     agents.Tool
	escalate, progress, complete agents.Tool
	// completeFree is complete_goal for a goal without constraints: its
	// definition leaves the constraints out.
	completeFree          agents.Tool
	judge, answer, verify *agents.Toolset
	// verifyBreach is verify_report for a report that breaks a constraint:
	// the only one that shows accepted_breaches.
	verifyBreach *agents.Toolset
	// offered returns the toolset of an ask (Loop.Tools), one function per
	// toolset, made once.
	offered map[*agents.Toolset]func() *agents.Toolset
}

var sharedTools = sync.OnceValues(func() (*protocolTools, error) {
	var err error
	must := func(t agents.Tool, e error) agents.Tool {
		if e != nil && err == nil {
			err = e
		}
		return t
	}
	p := &protocolTools{}
	p.accept = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolAcceptGoal, Description: descAccept, Shown: shownAccept},
		func(ctx context.Context, a agents.Acceptance) (agents.Result, error) {
			return from(ctx).onAccept(ctx, &a), nil
		}))
	p.decline = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolDeclineGoal, Description: descDecline, Shown: shownDecline},
		func(ctx context.Context, a agents.Decline) (agents.Result, error) {
			return from(ctx).onDecline(&a), nil
		}))
	p.clarify = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolAskClarification, Description: descClarify, Shown: shownClarify},
		func(ctx context.Context, a agents.Clarification) (agents.Result, error) {
			return from(ctx).onClarify(ctx, &a), nil
		}))
	p.escalate = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolEscalate, Description: descEscalate, Shown: shownEscalate},
		func(ctx context.Context, a agents.EscalateArgs) (agents.Result, error) {
			return from(ctx).onEscalate(ctx, &a), nil
		}))
	p.progress = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolReportProgress, Description: descProgress, Shown: shownProgress},
		func(ctx context.Context, a agents.ProgressReport) (agents.Result, error) {
			return from(ctx).onProgress(ctx, &a), nil
		}))
	complete := func(ctx context.Context, a agents.Report) (agents.Result, error) {
		return from(ctx).onComplete(ctx, &a), nil
	}
	p.complete = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolCompleteGoal, Description: descComplete, Shown: shownReport}, complete))
	p.completeFree = must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolCompleteGoal, Description: descCompleteFree, Shown: shownReportFree}, complete))

	// The delegator's tools hand their validated arguments to the ask that
	// offered them, and end it.
	judge := must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolJudgeAlignment, Description: descJudge},
		func(ctx context.Context, a agents.Alignment) (agents.Result, error) { return answered(ctx, a), nil }))
	answer := must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolAnswerEscalation, Description: descAnswer},
		func(ctx context.Context, a agents.AnswerArgs) (agents.Result, error) { return answered(ctx, a), nil }))
	passUp := must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolEscalate, Description: descEscalateU},
		func(ctx context.Context, a agents.EscalateArgs) (agents.Result, error) { return answered(ctx, a), nil }))
	verified := func(ctx context.Context, v agents.Verification) (agents.Result, error) { return answered(ctx, v), nil }
	verify := must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolVerifyReport, Description: descVerify, Shown: shownVerify}, verified))
	verifyBreach := must(agents.DefineTool(agents.ToolSpec{Name: agents.ToolVerifyReport, Description: descVerifyBreach}, verified))
	if err != nil {
		return nil, fmt.Errorf("orchestrator: %w", err)
	}
	p.judge, _ = agents.NewToolset(judge)
	p.answer, _ = agents.NewToolset(answer, passUp)
	p.verify, _ = agents.NewToolset(verify)
	p.verifyBreach, _ = agents.NewToolset(verifyBreach)
	p.offered = map[*agents.Toolset]func() *agents.Toolset{}
	for _, ts := range []*agents.Toolset{p.judge, p.answer, p.verify, p.verifyBreach} {
		p.offered[ts] = func() *agents.Toolset { return ts }
	}
	return p, nil
})

// toolsOf returns a function that returns ts, made once for the shared
// toolsets of asks.
func (p *protocolTools) toolsOf(ts *agents.Toolset) func() *agents.Toolset {
	if f, ok := p.offered[ts]; ok {
		return f
	}
	return func() *agents.Toolset { return ts }
}

func (rt *Runtime) buildTools() error {
	p, err := sharedTools()
	if err != nil {
		return err
	}
	rt.protocol = p
	rt.judgeTS, rt.answerTS, rt.verifyTS, rt.verifyBreachTS = p.judge, p.answer, p.verify, p.verifyBreach
	rt.isKnown = func(n string) bool { return agents.IsProtocolTool(n) || rt.known[n] }
	for _, m := range rt.members {
		for _, t := range m.Agent.Tools {
			m.gated = append(m.gated, &gated{Tool: t, name: t.Def().Name, kind: agents.KindOf(t)})
		}
		for _, n := range m.DelegatesTo {
			m.delegates = append(m.delegates, prompts.Peer{Name: n, Role: rt.members[n].Agent.Role})
		}
		for _, n := range m.Consults {
			m.peers = append(m.peers, prompts.Peer{Name: n, Role: rt.members[n].Agent.Role})
		}
		if len(m.DelegatesTo) > 0 {
			enums := map[string][]string{"agent": m.DelegatesTo}
			if len(rt.allTool) > 0 {
				enums["tools"] = rt.allTool
			}
			m.delegate, err = agents.DefineTool(agents.ToolSpec{Name: agents.ToolDelegate, Description: descDelegate, Enums: enums, Concurrent: true},
				func(ctx context.Context, a agents.DelegateArgs) (agents.Result, error) {
					return from(ctx).onDelegate(ctx, &a), nil
				})
			if err != nil {
				return fmt.Errorf("orchestrator: %w", err)
			}
		}
		if len(m.Consults) > 0 {
			m.consult, err = agents.DefineTool(agents.ToolSpec{Name: agents.ToolConsult, Description: descConsult, Shown: shownConsult,
				Enums: map[string][]string{"agent": m.Consults}, Concurrent: true},
				func(ctx context.Context, a agents.ConsultArgs) (agents.Result, error) {
					return from(ctx).onConsult(ctx, &a), nil
				})
			if err != nil {
				return fmt.Errorf("orchestrator: %w", err)
			}
		}
	}
	return nil
}

// gated wraps an action tool so that it runs only inside a delegation whose
// acceptance was judged aligned and whose authority includes it: the second
// lock behind the toolset offered to the model.
type gated struct {
	agents.Tool
	name string
	kind agents.ToolKind // agents.KindOf the tool, found once
}

// Call runs the tool if the delegation may, and never lets its result end
// the delegation: only protocol acts do (Result.Stop).
func (g *gated) Call(ctx context.Context, args json.RawMessage) agents.Result {
	res := g.call(ctx, args)
	res.Stop = false
	return res
}

func (g *gated) call(ctx context.Context, args json.RawMessage) agents.Result {
	d := from(ctx)
	if d == nil {
		return agents.Errorf("refused: %s runs only inside a delegation", g.name)
	}
	site := siteFrom(ctx)
	refused := &model.ToolCall{Name: g.name, Arguments: args}
	if site != nil {
		refused = site.call
	}
	if res, ok := d.locked(ctx, refused); ok {
		return res
	}
	switch {
	case !slices.Contains(d.effective, g.name):
		d.violation(ctx, ViolationBeyondAuthority, refused, g.name+" is beyond the delegation's authority")
		return agents.Errorf("refused: %s is not granted to you", g.name)
	}
	if site == nil {
		return g.Tool.Call(ctx, args) // not from a conversation: nothing to record
	}
	if p := d.run.replay; p != nil && p.inFlight(site.key) {
		if res, ok := d.recoverInFlight(ctx, site, g.Tool); ok {
			return res
		}
	}
	d.offPlan(ctx, site.call)
	c := d.run.fx.CallTool(ctx, site.key, g.Tool, site.call)
	site.latency = c.Latency
	if !c.Result.IsError && (g.kind == agents.KindWritesFiles || g.kind == agents.KindActs) {
		d.acted() // a read, a call of unknown kind or a failed call is no work on the feedback
	}
	return c.Result
}

// Concurrent passes through the wrapped tool's setting.
func (g *gated) Concurrent() bool { return agents.IsConcurrent(g.Tool) }

// Kind passes through the wrapped tool's kind.
func (g *gated) Kind() agents.ToolKind { return g.kind }

// locked refuses a call that would act before an aligned acceptance, as a
// protocol violation: the second lock behind the loop's (see waited).
func (d *delegation) locked(ctx context.Context, call *model.ToolCall) (agents.Result, bool) {
	if d.state.Load() == stateWorking {
		return agents.Result{}, false
	}
	d.violation(ctx, ViolationBeforeAcceptance, call, call.Name+" called before an aligned acceptance")
	return agents.Errorf("refused: %s is not allowed before your acceptance is judged aligned", call.Name), true
}

// waited is the result of a call offered with the goal (an action tool or
// delegate) whose place in the turn came before an aligned acceptance. After
// an acceptance judged misaligned in the same turn it is refused unrun, as
// it was allowed to wait; any other is a protocol violation.
func (d *delegation) waited(ctx context.Context, call *model.ToolCall) agents.Result {
	if d.misalignedTurn.Load() {
		return agents.Errorf("not run: %s waits for an aligned acceptance, and yours was not; accept again first", call.Name)
	}
	d.violation(ctx, ViolationNotAllowed, call, fmt.Sprintf("tool %q is not allowed before an aligned acceptance", call.Name))
	return agents.Errorf("refused: %s is not allowed before your acceptance is judged aligned; call accept_goal first", call.Name)
}

func (d *delegation) onAccept(ctx context.Context, a *agents.Acceptance) agents.Result {
	if d.state.Load() != stateOffered {
		return agents.Errorf("refused: the goal is already accepted")
	}
	d.mu.Lock()
	d.out.AlignmentRounds++
	round := d.out.AlignmentRounds
	d.out.Acceptance = a
	d.mu.Unlock()
	r := d.run
	r.emit(ctx, &Event{Type: EventGoalAccepted, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Round: round, Acceptance: a})

	al := agents.Alignment{Aligned: true, By: agents.ByStructural}
	var derailed string
	if strings.TrimSpace(a.RestatedIntent) != "" {
		derailed = d.derailed(a.RestatedIntent)
	}
	named := d.planTools(a.Plan)
	gaps := d.structuralGaps(a, derailed, named)
	if derailed != "" {
		d.violation(ctx, ViolationDerailed, nil, derailed)
	}
	ignored := d.ignoredAcceptance(a)
	twice := false
	if ignored != "" {
		if twice = d.ignored(false) >= 2; twice {
			d.violation(ctx, ViolationIgnoredFeedback, nil, ignored+" (the second time)")
		}
	}
	infra := false // the judgement failed for want of a judge, not for the acceptance
	switch {
	case twice:
		al = agents.Alignment{Aligned: false, By: agents.ByRuntime,
			Gaps: []string{ignored + ", the second time: the feedback was ignored"}}
	case len(gaps) > 0:
		al = agents.Alignment{Aligned: false, Gaps: gaps, By: agents.ByStructural}
	case d.parent == nil:
		dec, err := r.fx.Decide(ctx, Key{Delegation: d.id, Conversation: "principal judge", Turn: round},
			func(ctx context.Context) (Decision, error) {
				al, err := d.rt.opts.Principal.JudgeAcceptance(ctx, d.goal, d.m.name, a)
				return Decision{Alignment: &al}, err
			})
		var judged agents.Alignment
		if dec.Alignment != nil {
			judged = *dec.Alignment
		}
		if err != nil {
			if ctx.Err() != nil {
				return agents.Result{Content: "cancelled", IsError: true} // the loop ends with the context's cause
			}
			judged = agents.Alignment{Aligned: false, Gaps: []string{"the user could not confirm: " + err.Error()}}
			infra = true
		}
		if judged.By == "" {
			judged.By = agents.ByUser
		}
		al = judged
	case d.sup.ModelJudge:
		al = d.parent.judge(ctx, d, a, round)
	}
	if ctx.Err() != nil {
		return agents.Result{Content: "cancelled", IsError: true}
	}
	aligned := al.Aligned
	d.mu.Lock()
	d.out.Alignment = &al
	d.mu.Unlock()
	r.emit(ctx, &Event{Type: EventAlignmentJudged, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(),
		Round: round, Aligned: &aligned, Alignment: &al})
	if aligned {
		d.mu.Lock()
		d.planned = named
		d.mu.Unlock()
		d.state.Store(stateWorking)
		data := d.prompt // made by work, whose loop calls this
		if data == nil {
			data = d.data()
		}
		return agents.Result{Content: d.render(prompts.Aligned, data), Pin: true, Recall: recalled(a)}
	}
	d.misalignedTurn.Store(true) // the calls it was pipelined with do not run
	if twice || round >= d.rt.limits.MaxAlignRounds {
		d.setFinal(StatusFailed, CauseMisaligned, fmt.Sprintf("misaligned after %d rounds: %s", round, strings.Join(al.Gaps, "; ")))
		return agents.Result{Content: "Your acceptance is still not aligned; the goal is withdrawn.", IsError: true, Stop: true}
	}
	findings := slices.Clone(al.Gaps)
	if al.Correction != "" {
		findings = append(findings, "Correction: "+al.Correction)
	}
	if !al.Unjudged && !infra {
		d.mu.Lock()
		d.fb.misaligned, d.fb.gaps, d.fb.asked = a, slices.Clone(findings), false
		d.mu.Unlock()
	}
	if ignored != "" {
		findings = append(findings, fmt.Sprintf(ignoredWarning, ignored))
	}
	data := d.data()
	data.Findings, data.Round = findings, round
	return agents.Result{Content: d.render(prompts.Misaligned, data), IsError: true, Pin: true}
}

// recalled is the short form of an aligned acceptance that the delegate's
// conversation keeps from then on: its plan and assumptions, what it
// agreed to work by. Its restatements of the intent, criteria and
// constraints repeat the goal, which the system prompt holds; the journal
// and the delegator's judgement keep the whole.
func recalled(a *agents.Acceptance) json.RawMessage {
	b, err := json.Marshal(struct {
		Plan        []string `json:"plan"`
		Assumptions []string `json:"assumptions,omitempty"`
	}{a.Plan, a.Assumptions})
	if err != nil {
		return nil // the whole call stays
	}
	return b
}

// structuralGaps are the runtime's own checks of an acceptance: the intent
// restated in the agent's own words and about the goal (derailed), a plan, one acknowledgement per criterion and per constraint, and
// a plan that names (named: planTools) no tool outside the delegation's tools.
func (d *delegation) structuralGaps(a *agents.Acceptance, derailed string, named []string) []string {
	var gaps []string
	if strings.TrimSpace(a.RestatedIntent) == "" {
		gaps = append(gaps, "the intent is not restated")
	} else if derailed != "" {
		gaps = append(gaps, derailed)
	}
	if len(a.Plan) == 0 {
		gaps = append(gaps, "there is no plan")
	}
	check := func(what string, want []string, got []string) {
		if len(got) != len(want) {
			gaps = append(gaps, fmt.Sprintf("%d %s acknowledged, the goal has %d: acknowledge each, in order", len(got), what, len(want)))
			return
		}
		for i, g := range got {
			if strings.TrimSpace(g) == "" {
				gaps = append(gaps, fmt.Sprintf("%s %d (%q) is acknowledged with an empty entry", what, i+1, want[i]))
			}
		}
	}
	check("criteria", d.goal.Criteria, a.AcknowledgedCriteria)
	check("constraints", d.goal.Constraints, a.AcknowledgedConstraints)
	// A delegator's plan may name the tools it will grant its delegates.
	usable := d.effective
	if d.mayDelegate() {
		usable = d.authority
	}
	for _, t := range named {
		if !slices.Contains(usable, t) {
			gaps = append(gaps, fmt.Sprintf("the plan uses %s, which is not granted to you (granted: %v)", t, usable))
		}
	}
	return gaps
}

// planTools returns the team's action tools a plan names, word for word.
func (d *delegation) planTools(plan []string) []string {
	words := strings.FieldsFunc(strings.Join(plan, "\n"), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-'
	})
	var out []string
	for _, t := range d.rt.allTool {
		if slices.Contains(words, t) {
			out = append(out, t)
		}
	}
	return out
}

// offPlan notes an action tool used that the accepted plan never named,
// when the plan names tools (MAST FM-2.6, reasoning–action mismatch): a
// protocol.violation the first time each such tool runs, and a note shown
// to whoever verifies the report (see verifyNotes). The call runs.
func (d *delegation) offPlan(ctx context.Context, call *model.ToolCall) {
	d.mu.Lock()
	planned := d.planned
	first := len(planned) > 0 && !slices.Contains(planned, call.Name) && !slices.Contains(d.unplanned, call.Name)
	if first {
		d.unplanned = append(d.unplanned, call.Name)
	}
	d.mu.Unlock()
	if first {
		d.violation(ctx, ViolationUnplannedTool, call, fmt.Sprintf("%s used, which the accepted plan never named (it names %s)", call.Name, strings.Join(planned, ", ")))
	}
}

// verifyNotes is what a verifier of the delegation's last report is told
// to weigh: the tools used off the accepted plan, and the entries the
// delegate labelled with other words than the goal's (see fillReport).
func (d *delegation) verifyNotes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var notes []string
	if len(d.unplanned) > 0 {
		notes = append(notes, fmt.Sprintf("the delegate used %s, which its accepted plan never named (the plan names %s): check that the work matches what was accepted",
			strings.Join(d.unplanned, ", "), strings.Join(d.planned, ", ")))
	}
	return append(notes, d.relabelled...)
}

func (d *delegation) onDecline(a *agents.Decline) agents.Result {
	if d.state.Load() != stateOffered {
		return agents.Errorf("refused: the goal is already accepted; report it, or escalate")
	}
	d.mu.Lock()
	d.out.Decline = a
	d.mu.Unlock()
	d.setFinal(StatusDeclined, CauseDeclined, a.Reason)
	return agents.Result{Content: "Declined.", Stop: true}
}

// askStep charges the asker's step budget a step for an escalation, a
// clarification or a consultation, so asking cannot stand in for work
// without limit; with no step left the question is refused. (The Outcome's
// Steps count model turns only, as the journal does.)
func (d *delegation) askStep() (agents.Result, bool) {
	if err := d.meter.step(); err != nil {
		return agents.Errorf("refused: %v; asking costs a step", err), false
	}
	return agents.Result{}, true
}

func (d *delegation) onClarify(ctx context.Context, a *agents.Clarification) agents.Result {
	if res, ok := d.askStep(); !ok {
		return res
	}
	n, ok := d.countQuestion(ctx, &d.clarifications, "question")
	if !ok {
		return agents.Errorf("refused: you asked %d questions already, the most allowed; accept with your assumptions stated, or decline", n-1)
	}
	d.mu.Lock()
	d.fb.asked = true
	d.mu.Unlock()
	esc := &agents.Escalation{Kind: agents.KindClarification, Question: a.Question, Options: a.Options,
		Recommendation: a.Recommendation, Blocking: true, From: d.m.name, Delegation: d.id, Goal: d.goal}
	res := d.escalateUp(ctx, esc, EventClarificationAsked, siteName(ctx))
	content := formatResolution(res)
	if n == d.rt.limits.MaxClarifications {
		content += "\nThat was your last question: accept with your assumptions stated, or decline. Another question is refused as a violation."
	}
	return agents.Result{Content: content, Pin: true}
}

// countQuestion counts one more question in *count (the clarifications
// before acceptance, or the escalations after it) and returns the count and
// whether it is within Limits.MaxClarifications; one past it is recorded as
// a violation. what names the question in the violation.
func (d *delegation) countQuestion(ctx context.Context, count *int, what string) (int, bool) {
	d.mu.Lock()
	*count++
	n := *count
	d.mu.Unlock()
	if limit := d.rt.limits.MaxClarifications; n > limit {
		d.violation(ctx, ViolationNotAllowed, nil, fmt.Sprintf("asked a %s past the limit of %d", what, limit))
		return n, false
	}
	return n, true
}

func (d *delegation) onEscalate(ctx context.Context, a *agents.EscalateArgs) agents.Result {
	if res, ok := d.askStep(); !ok {
		return res
	}
	// Escalations after acceptance are held to the same limit as the
	// questions before it: an over-asker cannot spend its delegator's
	// attention (and its own budget) asking.
	n, ok := d.countQuestion(ctx, &d.escalations, "escalation")
	if !ok {
		return agents.Errorf("refused: you escalated %d times already, the most allowed; decide within your constraints and note it as a deviation, or report what is done with complete_goal", n-1)
	}
	esc := &agents.Escalation{Kind: a.Kind, Question: a.Question, Options: a.Options, Recommendation: a.Recommendation,
		Blocking: a.Blocking == nil || *a.Blocking, From: d.m.name, Delegation: d.id, Goal: d.goal}
	var content string
	if !esc.Blocking && d.parent != nil {
		// Answered by the delegator at this agent's next turn boundary.
		d.raise(ctx, esc, EventEscalationRaised, siteName(ctx))
		d.mu.Lock()
		d.waiting = append(d.waiting, esc)
		d.mu.Unlock()
		content = "Recorded: " + d.delegatorName() + " answers it before your next turn; it does not block you. Continue."
	} else {
		content = formatResolution(d.escalateUp(ctx, esc, EventEscalationRaised, siteName(ctx)))
	}
	if n == d.rt.limits.MaxClarifications {
		content += "\nThat was your last escalation: decide within your constraints and note it as a deviation, or report. Another escalation is refused as a violation."
	}
	return agents.Result{Content: content, Pin: true}
}

func formatResolution(res agents.Resolution) string {
	var b strings.Builder
	switch {
	case res.Refused:
		b.WriteString("Refused by " + string(res.By) + ": ")
	default:
		b.WriteString("Answer from " + string(res.By) + ": ")
	}
	b.WriteString(res.Answer)
	if res.Decision != "" {
		b.WriteString("\nDecision: " + res.Decision)
	}
	return b.String()
}

func (d *delegation) onProgress(ctx context.Context, p *agents.ProgressReport) agents.Result {
	r := d.run
	r.emit(ctx, &Event{Type: EventProgressReported, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Progress: p})
	d.mu.Lock()
	d.sinceProgress = 0
	steps := d.out.Steps
	d.mu.Unlock()
	iv := Intervention{Action: ActionContinue}
	k := Key{Delegation: d.id, Conversation: "supervise"}
	if site := siteFrom(ctx); site != nil {
		k.Turn, k.Call = site.key.Turn, site.key.Call
	}
	if sv := d.rt.opts.Supervisor; sv != nil {
		dec, _ := r.fx.Decide(ctx, k, func(ctx context.Context) (Decision, error) {
			_, left, _, bounded := d.meter.remaining()
			spent := d.meter.tokens.Load()
			var budget int64 // 0: unbounded
			if bounded {
				budget = spent + left
			}
			iv := sv(ctx, ProgressInfo{Delegation: d.id, Agent: d.m.name, Delegator: d.delegatorName(), Goal: d.goal,
				Progress: *p, Steps: steps, Tokens: spent, Budget: budget})
			return Decision{Intervention: &iv}, nil
		})
		if dec.Intervention != nil {
			iv = *dec.Intervention
		}
	}
	if p.Stalled && iv.Action == ActionContinue {
		iv = Intervention{Action: ActionStalled, Reason: "the delegate reports it is stalled"}
	}
	if iv.Action != ActionContinue && iv.Action != "" {
		r.emit(ctx, &Event{Type: EventSupervisionIntervened, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(), Intervention: &iv,
			Conversation: k.Conversation, Turn: k.Turn, CallIndex: k.Call})
	}
	switch iv.Action {
	case ActionHalt:
		d.setFinal(StatusFailed, CauseHalted, "halted by supervisor: "+iv.Reason)
		return agents.Result{Content: "Halted by your supervisor: " + iv.Reason, Stop: true}
	case ActionRedirect:
		return agents.Result{Content: "Your supervisor redirects you: " + iv.Instruction, Pin: true}
	case ActionStalled:
		return agents.Result{Content: "Noted that you are stalled. Escalate what blocks you, or report what is done with complete_goal."}
	}
	return agents.Result{Content: "Noted. Continue."}
}

func (d *delegation) onComplete(ctx context.Context, rep *agents.Report) agents.Result {
	if d.state.Load() != stateWorking {
		return agents.Errorf("refused: complete_goal needs an aligned acceptance first")
	}
	r := d.run
	relabelled := fillReport(d.goal, rep)
	d.mu.Lock()
	round := d.out.Revisions + 1
	d.relabelled = relabelled
	d.mu.Unlock()
	r.emit(ctx, &Event{Type: EventGoalReported, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Round: round, Report: rep})

	ignored := d.ignoredRevision(rep)
	if ignored != "" && d.ignored(true) >= 2 {
		// Sent back unchanged twice: nothing new to check or ask about.
		d.violation(ctx, ViolationIgnoredFeedback, nil, ignored+" (the second time)")
		ver := agents.Verification{Verdict: agents.VerdictReject, By: agents.ByRuntime,
			Feedback: ignored + ", the second time: the feedback was ignored"}
		d.mu.Lock()
		d.out.Report, d.out.Verification = rep, &ver
		d.mu.Unlock()
		r.emit(ctx, &Event{Type: EventReportVerified, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(), Round: round, Verification: &ver})
		d.setFinal(StatusFailed, CauseRejected, "report rejected: "+ver.Feedback)
		return agents.Result{Content: "Rejected: " + ver.Feedback, Stop: true}
	}

	findings := reportGaps(d.goal, rep)
	checks := d.check(ctx, rep, round)
	for _, e := range checks.Errors {
		findings = append(findings, "a verifier could not check: "+e)
	}
	findings = append(findings, checks.Evidence...)
	for _, u := range checks.Unmet {
		findings = append(findings, "verifier: "+u)
	}
	unmet := slices.Clone(checks.Unsupported)
	for _, u := range checks.Unmet {
		if !slices.Contains(unmet, u) {
			unmet = append(unmet, u)
		}
	}
	bs := breaches(d.goal, rep)
	var ver agents.Verification
	noVerifier := false // the revise is for want of a verifier, not feedback on the report
	switch {
	case len(findings) > 0:
		ver = agents.Verification{Verdict: agents.VerdictRevise, Unmet: unmet, Feedback: strings.Join(findings, "; "), By: agents.ByRuntime}
	case d.parent == nil:
		ver = agents.Verification{Verdict: agents.VerdictAccept, By: agents.ByRuntime}
		var accepted []agents.AcceptedBreach
		if len(bs) > 0 {
			// A broken constraint at the root is the user's to accept; the
			// user's own check of the report still runs after it: accepting
			// a breach is not accepting the report.
			accepted = d.rootAccepts(ctx, rep, bs, round)
			if ctx.Err() != nil {
				return agents.Result{Content: "cancelled", IsError: true}
			}
			ver = agents.Verification{Verdict: agents.VerdictAccept, By: agents.ByUser, AcceptedBreaches: accepted}
		}
		if pv, ok := d.rt.opts.Principal.(ReportVerifier); ok {
			notes := d.verifyNotes()
			dec, err := r.fx.Decide(ctx, Key{Delegation: d.id, Conversation: "principal verify", Turn: round},
				func(ctx context.Context) (Decision, error) {
					v, err := pv.VerifyReport(context.WithValue(ctx, notesKey{}, notes), d.goal, d.m.name, rep)
					return Decision{Verification: &v}, err
				})
			var v agents.Verification
			if dec.Verification != nil {
				v = *dec.Verification
			}
			switch {
			case err != nil && ctx.Err() != nil:
				return agents.Result{Content: "cancelled", IsError: true}
			case err != nil:
				ver = agents.Verification{Verdict: agents.VerdictRevise, Feedback: "the user could not verify the report: " + err.Error(), By: agents.ByRuntime}
				noVerifier = true
			default:
				ver = v
				if ver.By == "" {
					ver.By = agents.ByUser
				}
				if ver.Verdict == agents.VerdictAccept && len(accepted) > 0 {
					ver.AcceptedBreaches = accepted
				}
			}
		}
	case d.sup.ModelVerify || len(bs) > 0: // the runtime alone never accepts a breach
		ver = d.parent.verify(ctx, d, rep, round, breachNotes(bs))
		if ctx.Err() != nil {
			return agents.Result{Content: "cancelled", IsError: true}
		}
	default:
		ver = agents.Verification{Verdict: agents.VerdictAccept, By: agents.ByRuntime}
	}
	if !knownVerdict(ver.Verdict) {
		// A verdict that is none of the three is no acceptance: the report
		// goes back, and the revision counts, so it cannot loop.
		who := d.delegatorName()
		fb := fmt.Sprintf("%s gave the verdict %q, which is none of accept, revise or reject: the report is not accepted", who, ver.Verdict)
		if ver.Feedback != "" {
			fb += " (" + who + " said: " + ver.Feedback + ")"
		}
		ver = agents.Verification{Verdict: agents.VerdictRevise, Unmet: ver.Unmet, Feedback: fb, By: agents.ByRuntime}
		noVerifier = true
	}
	if len(bs) > 0 && ver.Verdict == agents.VerdictAccept {
		keepAccepted(bs, &ver)
		if un := unaccepted(bs, &ver); len(un) > 0 {
			// A bare accept does not accept a breach: only one named is.
			who := d.delegatorName()
			fb := describe(un) + ", and " + who + " did not accept the breach by name: respect it, or report why it cannot be"
			if ver.Feedback != "" {
				fb += " (" + who + " said: " + ver.Feedback + ")"
			}
			ver.Verdict, ver.By, ver.Feedback = agents.VerdictRevise, "runtime", fb
			if d.parent == nil {
				ver.Verdict = agents.VerdictReject // the user (or the escalation policy) did not accept it
			}
		}
	}
	if ver.Verdict == agents.VerdictRevise && round > d.sup.MaxRevisions {
		ver.Verdict = agents.VerdictReject
		ver.Feedback = strings.TrimSpace(ver.Feedback + fmt.Sprintf(" (still unmet after %d revisions)", d.sup.MaxRevisions))
	}
	d.mu.Lock()
	d.out.Report, d.out.Verification = rep, &ver
	if ver.Verdict == agents.VerdictRevise {
		d.out.Revisions++
	}
	d.mu.Unlock()
	r.emit(ctx, &Event{Type: EventReportVerified, Delegation: d.id, Parent: d.parentID(), Agent: d.delegatorName(), Round: round, Verification: &ver, Checks: checks.orNil()})
	switch ver.Verdict {
	case agents.VerdictAccept:
		d.setFinal(StatusCompleted, "", "")
		return agents.Result{Content: "Verified: the goal is complete.", Stop: true}
	case agents.VerdictReject:
		d.setFinal(StatusFailed, CauseRejected, "report rejected: "+ver.Feedback)
		return agents.Result{Content: "Rejected: " + ver.Feedback, Stop: true}
	}
	// A revise the delegate could act on is feedback it must not ignore;
	// one for want of a verifier (it could not check, or could not be
	// asked) is not: the same report may rightly come again.
	if !ver.Unjudged && !noVerifier && len(checks.Errors) == 0 {
		d.mu.Lock()
		d.fb.revised, d.fb.why, d.fb.acted = rep, ver.Feedback, false
		d.mu.Unlock()
	}
	msg := "Revise and report again: " + ver.Feedback
	if len(ver.Unmet) > 0 {
		msg += "\nUnmet: " + strings.Join(ver.Unmet, "; ")
	}
	if ignored != "" {
		msg += "\n" + fmt.Sprintf(ignoredWarning, ignored)
	}
	return agents.Result{Content: msg, IsError: true, Pin: true}
}

// fillReport gives a report's entries the goal's criteria and constraints
// at the same position: entries are matched by position, so a delegate need
// not restate them (and is not shown the field), and the journal's
// goal.reported, the checks, the verifier and the delegator read each entry
// with the goal's text, never the delegate's own label. It returns a note
// for each entry the delegate labelled with other words than the goal's at
// its position (beyond a near copy: case, spacing, punctuation, a word or
// two, words.NearCopy), for whoever verifies the report to weigh: its
// evidence may be about something else. The label stays in the journal's
// tool.called arguments. An entry past the goal's count stays as sent, for
// reportGaps to refuse.
func fillReport(g *agents.Goal, rep *agents.Report) []string {
	var notes []string
	label := func(kind string, i int, sent *string, goal string) {
		if *sent != "" && *sent != goal && !words.NearCopy(*sent, goal) {
			notes = append(notes, fmt.Sprintf("the delegate labelled %s %d %q; the goal's %s %d is %q: judge the entry against the goal's, and its evidence for it",
				kind, i+1, *sent, kind, i+1, goal))
		}
		*sent = goal
	}
	for i := range min(len(rep.Criteria), len(g.Criteria)) {
		label("criterion", i, &rep.Criteria[i].Criterion, g.Criteria[i])
	}
	for i := range min(len(rep.Constraints), len(g.Constraints)) {
		label("constraint", i, &rep.Constraints[i].Constraint, g.Constraints[i])
	}
	return notes
}

// knownVerdict reports whether v is one of accept, revise and reject.
func knownVerdict(v agents.Verdict) bool {
	switch v {
	case agents.VerdictAccept, agents.VerdictRevise, agents.VerdictReject:
		return true
	}
	return false
}

// reportGaps checks a report's own claims: one entry per criterion and per
// constraint, in the goal's order, and each criterion met. Entries are
// matched by position, never by text.
func reportGaps(g *agents.Goal, rep *agents.Report) []string {
	var gaps []string
	if len(g.Constraints) > 0 && len(rep.Constraints) != len(g.Constraints) {
		gaps = append(gaps, fmt.Sprintf("%d constraints reported, the goal has %d: report each, in the goal's order, respected or not", len(rep.Constraints), len(g.Constraints)))
	}
	if len(rep.Criteria) != len(g.Criteria) {
		return append(gaps, fmt.Sprintf("%d criteria reported, the goal has %d: report each, in the goal's order", len(rep.Criteria), len(g.Criteria)))
	}
	for i, c := range g.Criteria {
		if !rep.Criteria[i].Met {
			gaps = append(gaps, fmt.Sprintf("criterion %d (%q) is reported unmet", i+1, c))
		}
	}
	return gaps
}

// delegateResult is what a delegator's model gets back from delegate.
type delegateResult struct {
	Delegation string                   `json:"delegation"`
	Agent      string                   `json:"agent"`
	Status     Status                   `json:"status"`
	Result     string                   `json:"result,omitempty"`
	Criteria   []agents.CriterionResult `json:"criteria,omitempty"`
	Deviations []string                 `json:"deviations,omitempty"`
	Reason     string                   `json:"reason,omitempty"`
	// Next says, when it did not complete, what the delegator may do now:
	// the runtime reassigns nothing but a decline.
	Next string `json:"next,omitempty"`
}

// nextAfter tells a delegator what it may do about an outcome that did not
// complete.
func nextAfter(o *Outcome) string {
	switch {
	case o.Status == StatusCompleted:
		return ""
	case o.Cause == CauseHalted:
		return "A supervisor halted this sub-goal: it is final. Do not delegate it again unless you change the goal itself; do it another way, escalate, or report it not done."
	}
	return "It was not reassigned. Decide: delegate it again (to whom, with what changes), do it yourself, escalate, or report it not done."
}

// fingerprint names a goal by what it asks — objective, criteria and
// constraints, case and spacing aside — so that the same sub-goal delegated
// again under other words of intent or context is recognised.
func fingerprint(g *agents.Goal) string {
	norm := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	parts := []string{norm(g.Objective)}
	for _, c := range g.Criteria {
		parts = append(parts, "c:"+norm(c))
	}
	for _, c := range g.Constraints {
		parts = append(parts, "k:"+norm(c))
	}
	return strings.Join(parts, "\x00")
}

func (d *delegation) onDelegate(ctx context.Context, a *agents.DelegateArgs) agents.Result {
	rt, r := d.rt, d.run
	if res, ok := d.locked(ctx, &model.ToolCall{Name: agents.ToolDelegate}); ok {
		return res
	}
	target, ok := rt.members[a.Agent]
	if !ok || !slices.Contains(d.m.DelegatesTo, a.Agent) {
		return agents.Errorf("refused: you may delegate only to %v", d.m.DelegatesTo)
	}
	// A goal handed back up its own chain (A → B → A) is not delegation
	// but a loop of responsibility (FM-1.2).
	for p := d; p != nil; p = p.parent {
		if p.m.name == a.Agent {
			chain := d.m.name
			for q := d.parent; q != nil; q = q.parent {
				chain += " ← " + q.m.name
			}
			d.violation(ctx, ViolationOutOfRole, nil, fmt.Sprintf("delegate to %s, which is already in the chain above (%s)", a.Agent, chain))
			return agents.Errorf("refused: %s already holds a goal in the chain above you (%s); a goal is not handed back up its chain. Do it yourself, delegate to someone else, or escalate.", a.Agent, chain)
		}
	}
	if d.depth+1 > rt.limits.MaxDepth {
		r.emit(ctx, &Event{Type: EventBudgetExceeded, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Reason: string(agents.BudgetDepth),
			Limit: int64(rt.limits.MaxDepth), Used: int64(d.depth + 1)})
		return agents.Errorf("refused: the delegation depth limit (%d) is reached; do it yourself or escalate", rt.limits.MaxDepth)
	}
	grant := d.authority
	if a.Tools != nil {
		for _, t := range a.Tools {
			if !slices.Contains(d.authority, t) {
				d.violation(ctx, ViolationBeyondAuthority, nil, fmt.Sprintf("delegate grants %s, beyond its authority %v", t, d.authority))
				return agents.Errorf("refused: %s is beyond your authority; you may grant only %v", t, d.authority)
			}
		}
		grant = intersect(a.Tools, d.authority)
	}
	goal := &agents.Goal{Intent: a.Intent, Objective: a.Objective, Criteria: a.Criteria, Constraints: a.Constraints,
		Context: a.Context, Tools: grant, ParentIntents: append(slices.Clone(d.goal.ParentIntents), d.goal.Intent)}
	if a.Budget != nil {
		goal.Budget = agents.Budget{Steps: a.Budget.Steps, Tokens: a.Budget.Tokens}
	}
	for _, c := range a.Checks {
		if why := rt.validSpec(c, goal); why != "" {
			return agents.Errorf("refused: %s", why)
		}
	}
	goal.Checks = a.Checks
	if d.meter.exhausted() {
		return agents.Errorf("refused: your budget is spent; nothing is left to give a delegate")
	}
	fp := fingerprint(goal)
	d.mu.Lock()
	why, halted := d.halted[fp]
	d.mu.Unlock()
	if halted {
		d.violation(ctx, ViolationNotAllowed, nil, "delegate repeats a sub-goal a supervisor halted: "+why)
		return agents.Errorf("refused: a supervisor halted this sub-goal (%s); it is final unless you change the goal itself (objective, criteria or constraints)", why)
	}
	// Only a delegation that will be made takes a fan-out slot.
	d.mu.Lock()
	if d.fanOut >= rt.limits.MaxFanOut {
		d.mu.Unlock()
		r.emit(ctx, &Event{Type: EventBudgetExceeded, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, Reason: string(agents.BudgetFanOut),
			Limit: int64(rt.limits.MaxFanOut), Used: int64(rt.limits.MaxFanOut + 1)})
		return agents.Errorf("refused: the fan-out limit (%d delegations) is reached", rt.limits.MaxFanOut)
	}
	d.fanOut++
	d.mu.Unlock()
	out := r.entrust(ctx, d, target, goal, grant, siteName(ctx))
	d.addChild(out)
	if out.Status == StatusCompleted {
		d.acted()
	}
	if out.Cause == CauseHalted {
		d.mu.Lock()
		if d.halted == nil {
			d.halted = map[string]string{}
		}
		d.halted[fp] = out.Reason
		d.mu.Unlock()
	}
	res := delegateResult{Delegation: out.Delegation, Agent: out.Agent, Status: out.Status, Reason: out.Reason, Next: nextAfter(out)}
	if out.Report != nil && out.Status == StatusCompleted {
		res.Result, res.Criteria, res.Deviations = out.Report.Result, out.Report.Criteria, out.Report.Deviations
	}
	b, _ := json.Marshal(res)
	// The outcome is the delegator's evidence for its own report: kept whole.
	return agents.Result{Content: string(b), IsError: out.Status != StatusCompleted, Pin: true}
}

// derailed says why a restated intent is not the goal's (MAST FM-2.3), ""
// when it may be: one that shares no content word with the goal's intent
// and objective (after stop words), or one that only copies either of them
// or both (words.NearCopy: case, spacing and punctuation aside, a word or
// two changed, and stock words around or within the copy counting for
// nothing: "I understand the purpose: <intent>" copies it), or only
// rewords them (words.Reworded: their words in another order, filler
// adverbs aside, nothing of its own). A goal whose intent and objective have no content word
// (four letters or more, not a stop word) is left to the judge.
func (d *delegation) derailed(restated string) string {
	pw := d.purposeWords()
	if len(pw) == 0 {
		return ""
	}
	g := d.goal
	for _, copied := range [...]string{g.Intent, g.Objective, purpose(g), g.Objective + "\n" + g.Intent} {
		if words.NearCopy(restated, copied) || words.Reworded(restated, copied) {
			return "the restated intent only copies the goal's words: say in your own words what the goal is for"
		}
	}
	if !words.ShareWith(restated, pw) {
		return fmt.Sprintf("the restated intent (%q) has no word in common with the goal's intent or objective: say in your own words what the goal is for", model.ClipText(restated, 120))
	}
	return ""
}
