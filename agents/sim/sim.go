package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// Options configure a simulator. The zero value plays the protocol faithfully.
type Options struct {
	// Persona is the way of getting the protocol wrong to play as a
	// delegate; Default plays it right.
	Persona Persona
}

// New returns a simulator named name. opts may be nil. A simulator given a
// persona that is not known answers every request with an error matching
// ErrUnknownPersona; use ParsePersona to check a name first.
func New(name string, opts *Options) *model.Scripted {
	s := &simulator{}
	if opts != nil {
		s.persona = opts.Persona
	}
	return model.ScriptFunc(name, s.generate)
}

type simulator struct {
	persona Persona
}

// view is a request read once: the tools offered, the prompts, the calls
// made so far.
type view struct {
	req     *model.Request
	offered map[string]model.ToolDef
	system  string
	goal    goalInfo
	steps   []step
	user    string
}

func newView(req *model.Request) *view {
	v := &view{req: req, offered: map[string]model.ToolDef{}}
	for _, t := range req.Tools {
		v.offered[t.Name] = t
	}
	v.system = systemPrompt(req.Messages)
	v.goal = parseGoal(v.system)
	if md := req.Metadata; md != nil {
		v.goal.fromMetadata(md)
	}
	// A request the runtime made in process carries its Metadata and
	// flags failed calls; one that came over a wire is read as text.
	v.steps = readSteps(req.Messages, req.Metadata != nil)
	v.user = lastUser(req.Messages)
	return v
}

func (v *view) offers(name string) bool {
	_, ok := v.offered[name]
	return ok
}

func (s *simulator) generate(_ context.Context, req *model.Request) (*model.Response, error) {
	if !s.persona.known() {
		return nil, fmt.Errorf("%w %q", ErrUnknownPersona, s.persona)
	}
	v := newView(req)
	switch {
	case v.offers(agents.ToolJudgeAlignment):
		return calls(judge(v)), nil
	case v.offers(agents.ToolVerifyReport):
		return calls(verify(v)), nil
	case v.offers(agents.ToolAnswerEscalation):
		return calls(answer(v)), nil
	case v.offers(agents.ToolAcceptGoal):
		if s.persona == Prose {
			return text(fmt.Sprintf("I have read the goal and I will get started on %s right away.", lowerFirst(sentence(v.goal.objective())))), nil
		}
		return s.malform(v, calls(s.offer(v)...)), nil
	case v.offers(agents.ToolCompleteGoal):
		if s.persona == Prose {
			return text(fmt.Sprintf("I am working on %s and will let you know when it is done.", lowerFirst(sentence(v.goal.objective())))), nil
		}
		return s.malform(v, calls(s.work(v)...)), nil
	case folding(v):
		return text(recap(v.user)), nil
	case len(req.Tools) == 0 && s.persona == Meddler:
		// Asked for advice, it acts instead: a call of a tool it was not offered.
		return calls(model.Call(toolWriteFile, map[string]string{"path": "advice.md", "content": advise(v)})), nil
	case len(req.Tools) == 0:
		return text(advise(v)), nil
	}
	names := make([]string, 0, len(req.Tools))
	for _, t := range req.Tools {
		names = append(names, t.Name)
	}
	return text(fmt.Sprintf("The simulator has no protocol act for the tools offered (%s).", strings.Join(names, ", "))), nil
}

func calls(cs ...model.ToolCall) *model.Response {
	return &model.Response{Message: model.Message{Role: model.RoleAssistant, ToolCalls: cs}}
}

func text(s string) *model.Response {
	return &model.Response{Message: model.Message{Role: model.RoleAssistant, Content: s}}
}

// malform breaks the first two calls of a malformed persona's conversation:
// the first with truncated JSON, the second without its first required field.
func (s *simulator) malform(v *view, resp *model.Response) *model.Response {
	if s.persona != Malformed || len(resp.Message.ToolCalls) == 0 {
		return resp
	}
	c := &resp.Message.ToolCalls[0]
	switch len(v.steps) {
	case 0:
		c.Arguments = append([]byte(nil), c.Arguments[:len(c.Arguments)/2]...)
	case 1:
		c.Arguments = dropField(c.Arguments, required(v.offered[c.Name]))
	}
	return resp
}

// dropField removes the first of keys present in the JSON object args.
func dropField(args []byte, keys []string) []byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return args
	}
	keys = append(slices.Clone(keys), slices.Sorted(maps.Keys(m))...)
	for _, k := range keys {
		if _, ok := m[k]; ok {
			delete(m, k)
			break
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return args
	}
	return b
}

// judge plays a delegator judging an acceptance: aligned unless the restated
// intent shares no meaningful word with the goal's intent and objective, or
// the acknowledgements do not match the criteria and constraints one for one,
// or the runtime found gaps.
func judge(v *view) model.ToolCall {
	g := v.goal
	a := parseAcceptance(v.user)
	al := agents.Alignment{Aligned: true}
	if a.Parsed {
		if purpose := g.Intent + " " + g.Objective; len(meaningful(purpose)) > 0 && !overlap(a.RestatedIntent, purpose) {
			al.Gaps = append(al.Gaps, fmt.Sprintf("the restated intent (%q) has nothing in common with the goal's intent: say why the goal matters", clip(a.RestatedIntent, 120)))
			al.Correction = "The intent is: " + sentence(g.intent()) + "."
		}
		if g.Parsed {
			if len(a.Criteria) != len(g.Criteria) {
				al.Gaps = append(al.Gaps, fmt.Sprintf("%d criteria acknowledged, the goal has %d: acknowledge each, in order", len(a.Criteria), len(g.Criteria)))
			}
			if len(a.Constraints) != len(g.Constraints) {
				al.Gaps = append(al.Gaps, fmt.Sprintf("%d constraints acknowledged, the goal has %d: acknowledge each, in order", len(a.Constraints), len(g.Constraints)))
			}
		}
		al.Gaps = append(al.Gaps, a.Findings...)
	}
	if len(al.Gaps) > 0 {
		al.Aligned = false
		if al.Correction == "" {
			al.Correction = "Acknowledge every success criterion and every constraint, one entry each, in the goal's order."
		}
	}
	return model.Call(agents.ToolJudgeAlignment, al)
}

// verify plays a delegator verifying a report: accepted when every criterion
// of the goal is reported met with evidence and the runtime found nothing;
// sent back for revision otherwise, and rejected from the third revision on.
func verify(v *view) model.ToolCall {
	g := v.goal
	r := parseReport(v.user)
	if !r.Parsed {
		return model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept,
			Feedback: "The report could not be read; the runtime's checks stand."})
	}
	var unmet, why []string
	check := func(criterion string, c *criterionInfo) {
		switch {
		case c == nil:
			unmet, why = append(unmet, criterion), append(why, fmt.Sprintf("%q is not reported", criterion))
		case !c.Met:
			unmet, why = append(unmet, criterion), append(why, fmt.Sprintf("%q is reported not met", criterion))
		case c.Evidence == "":
			unmet, why = append(unmet, criterion), append(why, fmt.Sprintf("%q has no evidence", criterion))
		}
	}
	if len(g.Criteria) == 0 {
		for i := range r.Criteria {
			check(r.Criteria[i].Criterion, &r.Criteria[i])
		}
	}
	for i, want := range g.Criteria {
		var got *criterionInfo
		for j := range r.Criteria {
			if strings.EqualFold(strings.TrimSpace(r.Criteria[j].Criterion), strings.TrimSpace(want)) {
				got = &r.Criteria[j]
				break
			}
		}
		if got == nil && len(r.Criteria) == len(g.Criteria) {
			got = &r.Criteria[i] // restated in other words, in the same order
		}
		check(want, got)
	}
	if len(unmet) == 0 && len(r.Findings) == 0 {
		return model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept})
	}
	var fb []string
	if len(why) > 0 {
		fb = append(fb, "Unmet: "+strings.Join(why, "; ")+".")
	}
	if len(r.Findings) > 0 {
		fb = append(fb, "The runtime found: "+strings.Join(r.Findings, "; ")+".")
	}
	ver := agents.Verification{Verdict: agents.VerdictRevise, Unmet: unmet, Feedback: strings.Join(fb, " ")}
	if r.Revision >= 3 {
		ver.Verdict = agents.VerdictReject
		ver.Feedback += fmt.Sprintf(" Still not done at revision %d.", r.Revision)
	}
	return model.Call(agents.ToolVerifyReport, ver)
}

// answer plays a delegator answering an escalation: the delegate's
// recommendation, else its first option, else a call to judgement.
func answer(v *view) model.ToolCall {
	e := parseEscalation(v.user)
	var a agents.AnswerArgs
	switch {
	case e.Recommendation != "":
		a.Answer, a.Decision = e.Recommendation, e.Recommendation
		for _, o := range e.Options {
			if strings.EqualFold(o, e.Recommendation) {
				a.Decision = o
			}
		}
	case len(e.Options) > 0:
		a.Answer, a.Decision = e.Options[0], e.Options[0]
	default:
		a.Answer = "Proceed with your best judgement and note it as a deviation."
	}
	return model.Call(agents.ToolAnswerEscalation, a)
}

// advise plays a consulted peer: prose, deterministic, about the question.
func advise(v *view) string {
	c := parseConsult(v.user)
	q := sentence(c.Question)
	if q == "" {
		q = "your question"
	}
	who := v.goal.Agent
	if who == "" {
		who = "the simulator"
	}
	s := fmt.Sprintf("Advice from %s on “%s”: start from the success criteria and work back to the smallest piece of work that meets each of them; "+
		"state your assumptions in your report; and where a wrong guess would be costly, escalate rather than guess.", who, clip(q, 200))
	if c.Context != "" {
		s += fmt.Sprintf(" Given the context (%s), keep the first version small and easy to check.", clip(c.Context, 120))
	}
	return s
}
