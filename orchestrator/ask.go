package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/prompts"
)

// answer is where a delegator's tool leaves its validated arguments for the
// ask that offered it: the context of the ask's loop (its parent's, with
// itself under answerKey).
type answer struct {
	context.Context
	v any
}

type answerKey struct{}

// Value returns the answer itself for answerKey.
func (a *answer) Value(key any) any {
	if key == (answerKey{}) {
		return a
	}
	return a.Context.Value(key)
}

// answered hands v to the ask in ctx, unless an earlier call of the same
// turn already answered it, and ends the ask.
func answered(ctx context.Context, v any) agents.Result {
	if a, ok := ctx.Value(answerKey{}).(*answer); ok && a.v == nil {
		a.v = v
	}
	return agents.Result{Content: "recorded", Stop: true}
}

// delegatorPrompt is the system prompt of this delegation's delegator when it
// is asked about it (to judge, answer, verify): rendered once.
func (d *delegation) delegatorPrompt() string {
	d.delegatorOnce.Do(func() {
		p := d.parent
		d.delegatorSys = d.render(prompts.DelegatorSystem, &prompts.Data{Agent: p.m.name, Role: p.m.Agent.Role, Goal: d.goal})
	})
	return d.delegatorSys
}

// asking is what one ask is made of, allocated at once.
type asking struct {
	got  answer
	fx   conversation
	l    agents.Loop
	md   model.Metadata
	msgs [4]model.Message // a turn and its answer fit
	// name is the tool whose validated result ended the ask.
	name string
}

// ask puts one question about child to this delegation's agent, its
// delegator, in a side conversation of its own (its role and the goal it
// delegated), offering only ts. It returns the name of the tool the model
// called and its arguments, validated and decoded by the tool.
func (d *delegation) ask(ctx context.Context, child *delegation, purpose model.Purpose, conv, tmpl string, data *prompts.Data, ts *agents.Toolset) (string, any, error) {
	rt := d.rt
	sys := child.delegatorPrompt()
	data.Agent, data.Role = d.m.name, d.m.Agent.Role
	choice := model.ToolChoice{Mode: model.ChoiceRequired}
	if names := ts.Names(); len(names) == 1 {
		choice.Name = names[0]
	}
	a := &asking{got: answer{Context: ctx}}
	g, _ := data.Goal.(*agents.Goal)
	a.md = goalMetadata(purpose, d.m.name, d.id, g)
	a.md.Delegate = data.Delegate
	// The call that counts is the one whose validated result ended the ask,
	// not any call of the same name the model also wrote.
	a.fx = conversation{d: d, m: d.m, purpose: purpose, name: conv, onResult: func(c *model.ToolCall, res *agents.Result) {
		if res.Stop && !res.IsError && a.name == "" {
			a.name = c.Name
		}
	}}
	a.msgs[0] = model.Message{Role: model.RoleSystem, Content: sys}
	a.msgs[1] = model.Message{Role: model.RoleUser, Content: d.render(tmpl, data)}
	a.l = agents.Loop{
		Model:      d.m.Agent.Model,
		Messages:   a.msgs[:2],
		Tools:      rt.protocol.toolsOf(ts),
		Known:      rt.isKnown,
		ToolChoice: choice,
		MaxSteps:   rt.limits.AskSteps,
		MaxNudges:  1,
		Charge:     d.chargeFn,
		BeforeTurn: d.askTurnFn,
		Effects:    &a.fx,
		// An ask is short: no model summary is asked for if it must be compacted.
		Window:   d.window(false),
		Metadata: func() *model.Metadata { return &a.md },
	}
	l := &a.l
	l.Hooks.Compacted = d.compacted(purpose)
	l.Hooks.Violation = d.refusedFn
	l.Hooks.Prose = func(ctx context.Context, _ string, n int) {
		d.violation(ctx, ViolationProse, nil, fmt.Sprintf("answered a %s request in prose instead of a tool call (%d)", purpose, n))
		l.Nudge = d.render(prompts.Nudge, &prompts.Data{Tools: ts.Names()})
	}
	if err := l.Run(&a.got); err != nil {
		return "", nil, err
	}
	if a.got.v == nil {
		return "", nil, errors.New("no call recorded")
	}
	return a.name, a.got.v, nil
}

// judge asks this delegation's agent to judge a delegate's acceptance. It
// fails closed: a delegator that cannot judge (a provider error, its budget
// spent, no call) leaves the acceptance not aligned, with the reason; from the
// second failure in a row the question goes to the delegator's own delegator,
// whose explicit approval alone lets the acceptance pass.
func (d *delegation) judge(ctx context.Context, child *delegation, a *agents.Acceptance, round int) agents.Alignment {
	data := &prompts.Data{Goal: child.goal, Delegate: child.m.name, Acceptance: a, Round: round}
	_, v, err := d.ask(ctx, child, model.PurposeJudge, "judge "+child.id+" "+strconv.Itoa(round), prompts.JudgeAlignment, data, d.rt.judgeTS)
	al, ok := v.(agents.Alignment)
	if err == nil && !ok {
		err = fmt.Errorf("judged with %T", v)
	}
	if err == nil {
		child.setUnjudged(0)
		al.By = agents.By(d.m.name)
		return al
	}
	if ctx.Err() != nil {
		return agents.Alignment{Aligned: false, Gaps: []string{"cancelled: " + err.Error()}, By: agents.ByRuntime}
	}
	gap := "your delegator could not judge this acceptance (" + err.Error() + "); it does not pass unjudged"
	if child.setUnjudged(+1) < 2 {
		return agents.Alignment{Aligned: false, Gaps: []string{gap}, By: agents.ByRuntime, Unjudged: true}
	}
	q := fmt.Sprintf("%s could not judge %s's acceptance of %q: %v. Approve the acceptance as it stands (restated intent: %q)?",
		d.m.name, child.m.name, child.goal.Objective, err, a.RestatedIntent)
	if res, ok := d.askApproval(ctx, q, "approve judge "+child.id+" "+strconv.Itoa(round)); ok {
		child.setUnjudged(0)
		return agents.Alignment{Aligned: true, By: res.By}
	}
	return agents.Alignment{Aligned: false, Gaps: []string{gap + "; the question went up and was not approved"}, By: agents.ByRuntime, Unjudged: true}
}

// verify asks this delegation's agent to verify a delegate's report. It fails
// closed like judge: a delegator that cannot verify returns the report for
// revision with the reason, and from the second failure in a row asks its own
// delegator, whose explicit approval alone accepts it. breaches are the
// runtime's notes of the constraints the report breaks: only with them is
// accepted_breaches offered.
func (d *delegation) verify(ctx context.Context, child *delegation, rep *agents.Report, round int, breaches []string) agents.Verification {
	data := &prompts.Data{Goal: child.goal, Delegate: child.m.name, Report: rep, Round: round, Findings: breaches, Notes: child.verifyNotes()}
	ts := d.rt.verifyTS
	if len(breaches) > 0 {
		ts = d.rt.verifyBreachTS
	}
	_, val, err := d.ask(ctx, child, model.PurposeVerify, "verify "+child.id+" "+strconv.Itoa(round), prompts.VerifyReport, data, ts)
	v, ok := val.(agents.Verification)
	if err == nil && !ok {
		err = fmt.Errorf("verified with %T", val)
	}
	if err == nil {
		child.setUnjudged(0)
		v.By = agents.By(d.m.name)
		return v
	}
	if ctx.Err() != nil {
		return agents.Verification{Verdict: agents.VerdictReject, Feedback: "cancelled: " + err.Error(), By: agents.ByRuntime}
	}
	feedback := "your delegator could not verify this report (" + err.Error() + "); it is not accepted unverified"
	if child.setUnjudged(+1) < 2 {
		return agents.Verification{Verdict: agents.VerdictRevise, Feedback: feedback, By: agents.ByRuntime, Unjudged: true}
	}
	q := fmt.Sprintf("%s could not verify %s's report on %q: %v. Accept the report as it stands (result: %q)?",
		d.m.name, child.m.name, child.goal.Objective, err, rep.Result)
	if res, ok := d.askApproval(ctx, q, "approve verify "+child.id+" "+strconv.Itoa(round)); ok {
		child.setUnjudged(0)
		return agents.Verification{Verdict: agents.VerdictAccept, By: res.By}
	}
	return agents.Verification{Verdict: agents.VerdictRevise, Feedback: feedback + "; the question went up and was not approved", By: agents.ByRuntime, Unjudged: true}
}

// askApproval puts a yes-or-no question the runtime could not settle to this
// delegation's delegator, recommending no. Only an explicit "approve"
// (decision or answer) counts as yes. site names where it is asked (see
// Effects.NewID).
func (d *delegation) askApproval(ctx context.Context, question, site string) (agents.Resolution, bool) {
	esc := &agents.Escalation{Kind: agents.KindBlocked, Blocking: true, From: d.m.name, Delegation: d.id, Goal: d.goal,
		Origin: agents.ByRuntime, Question: question, Options: []string{"approve", "reject"}, Recommendation: "reject"}
	res := d.escalateUp(ctx, esc, EventEscalationRaised, site)
	yes := func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(strings.TrimRight(s, ".!")), "approve")
	}
	return res, !res.Refused && ctx.Err() == nil && (yes(res.Decision) || (res.Decision == "" && yes(res.Answer)))
}

// escalateUp raises esc from this delegation (typ is escalation.raised or
// clarification.asked) and returns its one resolution, which is also
// recorded. A blocking escalation goes to the delegator at once; a
// non-blocking one that reaches escalateUp (at the root, or left when its
// asker ends) is noted for the delegator and resolved by the runtime. site is
// where the escalation is raised (see Effects.NewID).
func (d *delegation) escalateUp(ctx context.Context, esc *agents.Escalation, typ EventType, site string) agents.Resolution {
	d.raise(ctx, esc, typ, site)
	var res agents.Resolution
	if esc.Blocking {
		res = d.answer(ctx, esc)
	} else {
		res = d.noted(esc)
	}
	d.resolved(ctx, esc, res)
	return res
}

// raise records esc as raised by this delegation, still open.
func (d *delegation) raise(ctx context.Context, esc *agents.Escalation, typ EventType, site string) {
	r := d.run
	esc.ID = r.fx.NewID("e", site)
	// Recorded in the order raised, as Fold orders them.
	d.mu.Lock()
	d.out.Escalations = append(d.out.Escalations, EscalationRecord{Escalation: *esc})
	d.mu.Unlock()
	r.emit(ctx, &Event{Type: typ, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, ID: esc.ID, Escalation: esc, Site: site})
}

// resolved records res as the one resolution of esc, raised by this
// delegation.
func (d *delegation) resolved(ctx context.Context, esc *agents.Escalation, res agents.Resolution) {
	d.mu.Lock()
	for i := range d.out.Escalations {
		if rec := &d.out.Escalations[i]; rec.Escalation.ID == esc.ID && rec.Resolution == nil {
			rec.Resolution = &res
			break
		}
	}
	d.mu.Unlock()
	d.run.emit(ctx, &Event{Type: EventEscalationResolved, Delegation: d.id, Parent: d.parentID(), Agent: string(res.By), ID: esc.ID, Resolution: &res})
}

// noted resolves a non-blocking escalation no one will answer in time: the
// runtime records it and the delegator sees it as a note before its next turn.
func (d *delegation) noted(esc *agents.Escalation) agents.Resolution {
	if d.parent != nil {
		d.parent.addNote(fmt.Sprintf("Note: %s escalated (%s, not blocking): %s", d.m.name, esc.Kind, esc.Question))
	}
	return agents.Resolution{Decision: "noted", Answer: "Recorded for " + d.delegatorName() + "; it does not block you. Continue.", By: agents.ByRuntime}
}

// answer takes esc to the delegator (see route) and fails closed: an
// escalation no one could answer is refused, with the reason.
func (d *delegation) answer(ctx context.Context, esc *agents.Escalation) agents.Resolution {
	res, err := d.route(ctx, esc)
	switch {
	case err != nil && ctx.Err() != nil:
		// Resolved all the same: no escalation is left open, whatever ends.
		res = agents.Resolution{Refused: true, Answer: "cancelled before an answer: " + context.Cause(ctx).Error(), By: agents.ByRuntime}
	case err != nil:
		res = agents.Resolution{Refused: true, By: agents.ByRuntime,
			Answer: "No answer could be had (" + err.Error() + "). Decide within your constraints and note it as a deviation, or decline."}
	case !res.Refused && strings.TrimSpace(res.Answer) == "" && strings.TrimSpace(res.Decision) == "":
		// An answer that says nothing approves nothing.
		res = agents.Resolution{Refused: true, By: agents.ByRuntime,
			Answer: string(res.By) + " gave an empty answer. Decide within your constraints and note it as a deviation, or decline."}
	}
	return res
}

// answerWaiting puts this delegation's non-blocking escalations to its
// delegator, at the turn boundary after they were raised, through the same
// path as a blocking one (the delegator answers or passes it up); each answer
// reaches the asker as a note before its turn. It runs on the asker's loop
// goroutine, in the order the escalations were raised, so a replay asks the
// same questions in the same order.
func (d *delegation) answerWaiting(ctx context.Context) {
	for _, esc := range d.takeWaiting() {
		res := d.answer(ctx, esc)
		d.resolved(ctx, esc, res)
		d.addNote(fmt.Sprintf("Your delegator's answer to your escalation (not blocking) %q: %s", esc.Question, formatResolution(res)))
		if !res.Refused {
			d.parent.addNote(fmt.Sprintf("Note: %s escalated (%s, not blocking): %s; it was answered: %s", d.m.name, esc.Kind, esc.Question, res.Answer))
		}
	}
}

// takeWaiting returns the non-blocking escalations waiting for an answer and
// empties the list.
func (d *delegation) takeWaiting() []*agents.Escalation {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.waiting
	d.waiting = nil
	return w
}

// noteWaiting resolves the non-blocking escalations still waiting when this
// delegation ends (its asker will take no other turn): noted for the
// delegator, as at the root.
func (d *delegation) noteWaiting(ctx context.Context) {
	for _, esc := range d.takeWaiting() {
		d.resolved(ctx, esc, d.noted(esc))
	}
}

// route takes esc to this delegation's delegator: the Principal at the root,
// else the delegator's model, which answers or passes it further up.
func (d *delegation) route(ctx context.Context, esc *agents.Escalation) (agents.Resolution, error) {
	if d.parent == nil {
		dec, err := d.run.fx.Decide(ctx, Key{Delegation: d.id, Conversation: "principal answer " + esc.ID},
			func(ctx context.Context) (Decision, error) {
				res, err := d.rt.opts.Principal.AnswerEscalation(ctx, esc)
				return Decision{Resolution: &res}, err
			})
		var res agents.Resolution
		if dec.Resolution != nil {
			res = *dec.Resolution
		}
		if err == nil && res.By == "" {
			res.By = agents.ByUser
		}
		return res, err
	}
	p := d.parent
	data := &prompts.Data{Goal: d.goal, Delegate: d.m.name, Escalation: esc}
	_, v, err := p.ask(ctx, d, model.PurposeAnswer, "answer "+esc.ID, prompts.AnswerEscalation, data, d.rt.answerTS)
	if err != nil {
		if ctx.Err() != nil {
			return agents.Resolution{}, err
		}
		// A delegator that cannot answer passes the question up.
		p.delegatorFailed(ctx, model.PurposeAnswer, "the delegator could not answer an escalation: "+err.Error()+"; passed up")
	}
	if a, ok := v.(agents.AnswerArgs); ok {
		return agents.Resolution{Answer: a.Answer, Decision: a.Decision, By: agents.By(p.m.name)}, nil
	}
	// The question goes up in the asker's words; the delegator's own words
	// travel beside them as its note on the chain.
	chain := slices.Clone(esc.Chain)
	if len(chain) == 0 {
		chain = []agents.Hop{{Agent: esc.From, Delegation: esc.Delegation}}
	}
	hop := agents.Hop{Agent: p.m.name, Delegation: p.id}
	if a, ok := v.(agents.EscalateArgs); ok && strings.TrimSpace(a.Question) != strings.TrimSpace(esc.Question) {
		hop.Note = a.Question
		if a.Recommendation != "" && a.Recommendation != esc.Recommendation {
			hop.Note += " (recommends: " + a.Recommendation + ")"
		}
	}
	up := &agents.Escalation{Kind: esc.Kind, Question: esc.Question, Options: esc.Options, Recommendation: esc.Recommendation,
		Blocking: true, From: p.m.name, Delegation: p.id, Goal: p.goal, Via: append(slices.Clone(esc.Via), d.m.name),
		Chain: append(chain, hop)}
	return p.escalateUp(ctx, up, EventEscalationRaised, "up "+esc.ID), nil
}

func (d *delegation) onConsult(ctx context.Context, a *agents.ConsultArgs) agents.Result {
	peer, ok := d.rt.members[a.Agent]
	if !ok || !slices.Contains(d.m.Consults, a.Agent) {
		return agents.Errorf("refused: you may consult only %v", d.m.Consults)
	}
	if res, ok := d.askStep(); !ok {
		return res
	}
	r := d.run
	site := siteName(ctx)
	id := r.fx.NewID("c", site)
	c := agents.Consultation{From: d.m.name, Agent: peer.name, Question: a.Question, Context: a.Context}
	asked := c
	r.emit(ctx, &Event{Type: EventConsultationAsked, Delegation: d.id, Parent: d.parentID(), Agent: d.m.name, ID: id, Consultation: &asked, Site: site})
	data := &prompts.Data{Agent: peer.name, Role: peer.Agent.Role, Consultation: &c}
	req := &model.Request{Messages: []model.Message{
		{Role: model.RoleSystem, Content: d.render(prompts.ConsultSystem, data)},
		{Role: model.RoleUser, Content: d.render(prompts.Consult, data)},
	}, Metadata: &model.Metadata{Purpose: model.PurposeConsult, Agent: peer.name, Delegation: d.id, Delegate: d.m.name}}
	if err := d.meter.tokensLeft(); err != nil {
		return agents.Errorf("consulting %s: %v", peer.name, err)
	}
	if budget := peer.Agent.ContextBudget(); budget > 0 {
		if n := model.EstimatePrompt(req); n > budget {
			return agents.Errorf("consulting %s: the question needs %d tokens, over %s's context budget of %d; ask it more briefly", peer.name, n, peer.name, budget)
		}
	}
	conv := &conversation{d: d, m: peer, purpose: model.PurposeConsult, name: "consult " + id}
	resp, err := conv.Generate(ctx, 1, req)
	if err != nil {
		return agents.Errorf("consulting %s failed: %v", peer.name, err)
	}
	u := resp.Usage
	if err := d.charge(u); err != nil {
		return agents.Errorf("consulting %s: %v", peer.name, err)
	}
	if tc := resp.Message.ToolCalls; len(tc) > 0 {
		// A peer is asked for advice, not to act (FM-1.2): it is offered no
		// tool, and whatever it calls is refused unrun.
		names := make([]string, len(tc))
		for i := range tc {
			names[i] = tc[i].Name
		}
		d.recordViolation(ctx, &Event{Type: EventProtocolViolation, Delegation: d.id, Parent: d.parentID(), Agent: peer.name,
			Violation: ViolationOutOfRole, Tool: tc[0].Name, CallID: tc[0].ID, Arguments: journalArgs(tc[0].Arguments),
			Reason: fmt.Sprintf("%s, consulted for advice, called %s instead of advising; refused, nothing ran", peer.name, strings.Join(names, ", "))})
		if strings.TrimSpace(resp.Message.Content) == "" {
			return agents.Errorf("consulting %s: it tried to act (called %s) instead of advising; its calls were refused and nothing ran. The work stays yours.", peer.name, strings.Join(names, ", "))
		}
	}
	c.Answer = resp.Message.Content
	if c.Answer == "" {
		c.Answer = "(no advice)"
	}
	d.mu.Lock()
	d.out.Consultations = append(d.out.Consultations, c)
	d.mu.Unlock()
	r.emit(ctx, &Event{Type: EventConsultationAnswered, Delegation: d.id, Parent: d.parentID(), Agent: peer.name, ID: id, Consultation: &c})
	return agents.Result{Content: c.Answer}
}
