package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/words"
	"github.com/entrust-dev/entrust/prompts"
)

func TestOfferAcceptsByRestating(t *testing.T) {
	g := sampleGoal()
	p := newProtocol(t, nil, nil)
	c := newConvo(t, sim.New("writer", nil), p, dataFor(&g, g.Tools))
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))

	// In its own words: no copy of the goal's, even inside a stock phrase,
	// which the runtime would call derailed (FM-2.3).
	for _, copied := range []string{g.Intent, g.Objective, g.Intent + " " + g.Objective} {
		if words.NearCopy(a.RestatedIntent, copied) || !strings.Contains(a.RestatedIntent, "As I understand it") {
			t.Errorf("restated intent not in other words: %q", a.RestatedIntent)
		}
	}
	if !strings.Contains(strings.ToLower(a.RestatedIntent), "contributors") {
		t.Errorf("restated intent lost the goal's words: %q", a.RestatedIntent)
	}
	if len(a.AcknowledgedCriteria) != 2 || len(a.AcknowledgedConstraints) != 2 {
		t.Fatalf("acknowledged %d criteria and %d constraints", len(a.AcknowledgedCriteria), len(a.AcknowledgedConstraints))
	}
	for i, c := range g.Criteria {
		if !strings.Contains(a.AcknowledgedCriteria[i], strings.ToLower(c[:1])+c[1:]) {
			t.Errorf("criterion %d acknowledged out of order: %q", i+1, a.AcknowledgedCriteria[i])
		}
	}
	for i, c := range g.Constraints {
		if !strings.Contains(a.AcknowledgedConstraints[i], strings.ToLower(c[:1])+c[1:]) {
			t.Errorf("constraint %d acknowledged out of order: %q", i+1, a.AcknowledgedConstraints[i])
		}
	}
	plan := strings.Join(a.Plan, "\n")
	if !strings.Contains(plan, "write_file") || !strings.Contains(plan, "complete_goal") {
		t.Errorf("plan does not name its tools: %q", a.Plan)
	}
	if strings.Contains(plan, "read_file") || strings.Contains(plan, "list_files") {
		t.Errorf("plan names tools it will not use: %q", a.Plan)
	}
	if a.Confidence != 0.8 {
		t.Errorf("confidence %v", a.Confidence)
	}
}

func TestOfferDecisions(t *testing.T) {
	impossible := sampleGoal()
	impossible.Constraints = append(impossible.Constraints, "Finish in zero seconds, which is impossible")
	unclear := sampleGoal()
	unclear.Context = "Which repository is meant is ambiguous."
	cases := []struct {
		name    string
		persona sim.Persona
		goal    agents.Goal
		want    string
	}{
		{"default accepts", sim.Default, sampleGoal(), agents.ToolAcceptGoal},
		{"default declines the impossible", sim.Default, impossible, agents.ToolDeclineGoal},
		{"yes-man accepts the impossible", sim.YesMan, impossible, agents.ToolAcceptGoal},
		{"default asks when unclear", sim.Default, unclear, agents.ToolAskClarification},
		{"silent does not ask", sim.Silent, unclear, agents.ToolAcceptGoal},
		{"over-asker asks needlessly", sim.OverAsker, sampleGoal(), agents.ToolAskClarification},
		{"eager acts first", sim.Eager, sampleGoal(), "write_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProtocol(t, nil, nil)
			c := newConvo(t, sim.New("writer", &sim.Options{Persona: tc.persona}), p, dataFor(&tc.goal, tc.goal.Tools))
			call := c.call(tc.want)
			if tc.want == agents.ToolDeclineGoal {
				d := decode[agents.Decline](t, call)
				if !strings.Contains(d.Reason, "impossible") {
					t.Errorf("decline reason %q", d.Reason)
				}
			}
		})
	}
}

func TestEagerDelegatesBeforeAccepting(t *testing.T) {
	g := sampleGoal()
	g.Tools = nil
	p := newProtocol(t, []string{"helper"}, nil)
	d := dataFor(&g, nil, prompts.Peer{Name: "helper", Role: "Helps."})
	c := newConvo(t, sim.New("lead", &sim.Options{Persona: sim.Eager}), p, d)
	c.call(agents.ToolDelegate)
	c.fail(`refused: tool "delegate" is not allowed now`)
	c.call(agents.ToolAcceptGoal)
}

func TestOfferAfterClarification(t *testing.T) {
	g := sampleGoal()
	g.Context = "The audience is unclear."
	p := newProtocol(t, nil, nil)
	c := newConvo(t, sim.New("writer", nil), p, dataFor(&g, g.Tools))
	q := decode[agents.Clarification](t, c.call(agents.ToolAskClarification))
	if q.Recommendation == "" || len(q.Options) == 0 {
		t.Errorf("question without options or recommendation: %+v", q)
	}
	c.reply("Answer from lead: assume newcomers to Go.")
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if !slices.ContainsFunc(a.Assumptions, func(s string) bool { return strings.Contains(s, "newcomers to Go") }) {
		t.Errorf("answer not carried into the assumptions: %q", a.Assumptions)
	}
}

func TestMisalignedAcceptanceIsFixed(t *testing.T) {
	g := sampleGoal()
	p := newProtocol(t, nil, nil)
	c := newConvo(t, sim.New("writer", &sim.Options{Persona: sim.Drifter}), p, dataFor(&g, g.Tools))
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	purpose := strings.ToLower(g.Intent + " " + g.Objective)
	for _, w := range strings.Fields(strings.ToLower(a.RestatedIntent)) {
		if len(w) >= 5 && strings.Contains(purpose, strings.Trim(w, ".,")) {
			t.Errorf("drifter's intent %q shares %q with the goal", a.RestatedIntent, w)
		}
	}
	gaps := []string{"the restated intent has nothing in common with the goal's intent", "Correction: The intent is: " + g.Intent}
	c.fail(render(t, prompts.Misaligned, &prompts.Data{Round: 1, Findings: gaps}))
	a = decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if !words.Share(a.RestatedIntent, g.Intent) || words.NearCopy(a.RestatedIntent, g.Intent) ||
		!strings.Contains(a.RestatedIntent, "restate it with care") {
		t.Errorf("second restatement does not carry the intent in its own words: %q", a.RestatedIntent)
	}
	if len(a.Assumptions) < 2 || !strings.Contains(strings.Join(a.Assumptions, "\n"), "nothing in common") {
		t.Errorf("gaps not addressed: %q", a.Assumptions)
	}
}

func TestMisalignedCountsArePadded(t *testing.T) {
	// A goal the simulator cannot read (a user's template) is still fixed
	// from what the runtime's gaps say.
	p := newProtocol(t, nil, nil)
	c := &convo{t: t, m: sim.New("x", nil), p: p, tools: offerTools, msgs: []model.Message{
		{Role: model.RoleSystem, Content: "Do the thing my way."},
		{Role: model.RoleUser, Content: "Please take it."},
	}}
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if len(a.AcknowledgedCriteria) != 0 {
		t.Fatalf("acknowledged %q from nothing", a.AcknowledgedCriteria)
	}
	c.fail(render(t, prompts.Misaligned, &prompts.Data{Round: 1, Findings: []string{
		"0 criteria acknowledged, the goal has 2: acknowledge each, in order",
		"0 constraints acknowledged, the goal has 1: acknowledge each, in order"}}))
	a = decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if len(a.AcknowledgedCriteria) != 2 || len(a.AcknowledgedConstraints) != 1 {
		t.Errorf("padded to %d and %d", len(a.AcknowledgedCriteria), len(a.AcknowledgedConstraints))
	}
}

func TestWorkWritesThenCompletes(t *testing.T) {
	g := sampleGoal()
	p := newProtocol(t, nil, nil)
	d := dataFor(&g, g.Tools)
	c := newConvo(t, sim.New("writer", nil), p, d)
	c.call(agents.ToolAcceptGoal)
	c.aligned(d, "write_file", "read_file")

	w := decode[map[string]string](t, c.call("write_file"))
	if w["path"] != "write-an-onboarding-guide-for-the-repository.md" {
		t.Errorf("path %q", w["path"])
	}
	for _, s := range append(g.Criteria, g.Objective, g.Constraints[0]) {
		if !strings.Contains(w["content"], s) {
			t.Errorf("note lacks %q:\n%s", s, w["content"])
		}
	}
	c.reply("wrote 420 bytes to " + w["path"])
	rep := decode[agents.Report](t, c.call(agents.ToolCompleteGoal))
	if len(rep.Criteria) != len(g.Criteria) {
		t.Fatalf("report has %d criteria", len(rep.Criteria))
	}
	for i, cr := range rep.Criteria {
		if cr.Criterion != g.Criteria[i] || !cr.Met || !strings.Contains(cr.Evidence, w["path"]) {
			t.Errorf("criterion %d: %+v", i+1, cr)
		}
	}
	if len(rep.Deviations) != 0 {
		t.Errorf("deviations %q", rep.Deviations)
	}

	// Sent back: it writes again, addressing the feedback, and reports again.
	c.fail("Revise and report again: mention the CI badge\nUnmet: The guide lists who to ask for help")
	w2 := decode[map[string]string](t, c.call("write_file"))
	if !strings.Contains(w2["content"], "mention the CI badge") {
		t.Errorf("revised note ignores the feedback:\n%s", w2["content"])
	}
	c.reply("wrote 500 bytes to " + w2["path"])
	rep = decode[agents.Report](t, c.call(agents.ToolCompleteGoal))
	if !slices.ContainsFunc(rep.Deviations, func(s string) bool { return strings.Contains(s, "CI badge") }) {
		t.Errorf("revision not noted: %q", rep.Deviations)
	}
}

func TestWorkWithoutTools(t *testing.T) {
	g := sampleGoal()
	g.Tools = nil
	p := newProtocol(t, nil, nil)
	d := dataFor(&g, nil)
	c := newConvo(t, sim.New("thinker", nil), p, d)
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if strings.Contains(strings.Join(a.Plan, " "), "write_file") {
		t.Errorf("plan uses an ungranted tool: %q", a.Plan)
	}
	c.aligned(d)
	rep := decode[agents.Report](t, c.call(agents.ToolCompleteGoal))
	for _, cr := range rep.Criteria {
		if !cr.Met || cr.Evidence == "" {
			t.Errorf("criterion %+v", cr)
		}
	}
}

func TestWorkDelegates(t *testing.T) {
	g := sampleGoal()
	g.Tools = nil
	delegates := []prompts.Peer{
		{Name: "drafter", Role: "Drafts text."},
		{Name: "reviewer", Role: "Reviews onboarding guides for contributors."},
		{Name: "accountant", Role: "Keeps the books."},
	}
	p := newProtocol(t, []string{"drafter", "reviewer", "accountant"}, nil)
	d := dataFor(&g, nil, delegates...)
	c := newConvo(t, sim.New("lead", nil), p, d)
	a := decode[agents.Acceptance](t, c.call(agents.ToolAcceptGoal))
	if !strings.Contains(strings.Join(a.Plan, " "), "delegate to drafter and reviewer") {
		t.Errorf("plan %q", a.Plan)
	}
	c.aligned(d, agents.ToolDelegate)

	resp := c.turn()
	calls := resp.Message.ToolCalls
	if callNames(calls) != "[delegate delegate]" {
		t.Fatalf("want two delegate calls, got %s", callNames(calls))
	}
	var agentsCalled []string
	for _, call := range calls {
		p.validate(t, call)
		da := decode[agents.DelegateArgs](t, call)
		agentsCalled = append(agentsCalled, da.Agent)
		if da.Intent == "" || !slices.Equal(da.Criteria, g.Criteria) || !slices.Equal(da.Constraints, g.Constraints) {
			t.Errorf("delegate args %+v", da)
		}
	}
	if !slices.Equal(agentsCalled, []string{"drafter", "reviewer"}) {
		t.Errorf("delegated to %q (the accountant's role does not fit)", agentsCalled)
	}
	first := decode[agents.DelegateArgs](t, calls[0])
	if first.Objective != g.Objective || first.Intent != g.Intent {
		t.Errorf("first delegate gets %+v", first)
	}
	// The drafter completes; the reviewer declines.
	c.msgs = append(c.msgs,
		model.Message{Role: model.RoleTool, ToolCallID: calls[0].ID, Content: `{"delegation":"d2","agent":"drafter","status":"completed","result":"drafted guide.md",` +
			`"criteria":[{"criterion":"The guide explains how to build and test","met":true,"evidence":"section Build"}]}`},
		model.Message{Role: model.RoleTool, ToolCallID: calls[1].ID, Content: `{"delegation":"d3","agent":"reviewer","status":"declined","reason":"busy"}`},
	)
	// A delegation that ended is not retried; the failure is escalated once.
	esc := decode[agents.EscalateArgs](t, c.call(agents.ToolEscalate))
	if esc.Kind != agents.KindBlocked || !strings.Contains(esc.Question, "reviewer") {
		t.Errorf("escalation %+v", esc)
	}
	c.reply("Answer from user: Complete without it and note the deviation")
	rep := decode[agents.Report](t, c.call(agents.ToolCompleteGoal))
	if !rep.Criteria[0].Met || rep.Criteria[0].Evidence != "drafter: section Build" {
		t.Errorf("criterion 1: %+v", rep.Criteria[0])
	}
	if !rep.Criteria[1].Met || !strings.Contains(rep.Criteria[1].Evidence, "drafter completed it") {
		t.Errorf("criterion 2: %+v", rep.Criteria[1])
	}
	if !strings.Contains(strings.Join(rep.Deviations, "\n"), "reviewer failed: declined (busy)") {
		t.Errorf("deviations %q", rep.Deviations)
	}
}

func TestWorkToolErrorsEscalateOnce(t *testing.T) {
	for _, persona := range []sim.Persona{sim.Default, sim.Silent} {
		t.Run(string(persona)+"_", func(t *testing.T) {
			g := sampleGoal()
			p := newProtocol(t, nil, nil)
			d := dataFor(&g, g.Tools)
			c := newConvo(t, sim.New("writer", &sim.Options{Persona: persona}), p, d)
			c.call(agents.ToolAcceptGoal)
			c.aligned(d, "write_file")
			c.call("write_file")
			c.fail("write_file failed: disk full")
			c.call("write_file")
			c.fail("write_file failed: disk full")
			if persona == sim.Default {
				esc := decode[agents.EscalateArgs](t, c.call(agents.ToolEscalate))
				if esc.Kind != agents.KindBlocked || esc.Blocking == nil || !*esc.Blocking || !strings.Contains(esc.Question, "disk full") {
					t.Errorf("escalation %+v", esc)
				}
				c.reply("Answer from lead: Complete without it and note the deviation")
			}
			rep := decode[agents.Report](t, c.call(agents.ToolCompleteGoal))
			for _, cr := range rep.Criteria {
				if cr.Met {
					t.Errorf("claims %q met though nothing was written", cr.Criterion)
				}
			}
			if !strings.Contains(strings.Join(rep.Deviations, "\n"), "disk full") {
				t.Errorf("deviations %q", rep.Deviations)
			}
		})
	}
}

func TestWorkReportsProgressWhenReminded(t *testing.T) {
	g := sampleGoal()
	p := newProtocol(t, nil, nil)
	d := dataFor(&g, g.Tools)
	c := newConvo(t, sim.New("writer", nil), p, d)
	c.call(agents.ToolAcceptGoal)
	c.aligned(d, "write_file")
	c.call("write_file")
	c.reply("wrote 10 bytes to x.md")
	c.msgs = append(c.msgs, model.Message{Role: model.RoleUser, Content: "Report your progress with report_progress."})
	// The report rides in the same turn as the next move.
	calls := c.turn().Message.ToolCalls
	if len(calls) != 2 || calls[0].Name != agents.ToolReportProgress || calls[1].Name != agents.ToolCompleteGoal {
		t.Fatalf("want report_progress and complete_goal, got %s", callNames(calls))
	}
	c.p.validate(t, calls[0])
	c.p.validate(t, calls[1])
	if pr := decode[agents.ProgressReport](t, calls[0]); !strings.Contains(pr.Summary, "write_file") {
		t.Errorf("progress %+v", pr)
	}
}

// Offered its action tools with the offer, the simulator pipelines its
// first move after accept_goal; after a misaligned acceptance, whose
// pipelined calls were refused unrun, it accepts again with them.
func TestOfferPipelinesTheFirstMove(t *testing.T) {
	g := sampleGoal()
	p := newProtocol(t, nil, nil)
	d := dataFor(&g, g.Tools)
	c := newConvo(t, sim.New("writer", nil), p, d)
	c.tools = append(slices.Clone(g.Tools), offerTools...)
	for round := range 2 {
		calls := c.turn().Message.ToolCalls
		if len(calls) != 2 || calls[0].Name != agents.ToolAcceptGoal || calls[1].Name != "write_file" {
			t.Fatalf("round %d: want accept_goal then write_file, got %s", round+1, callNames(calls))
		}
		for _, cl := range calls {
			c.p.validate(t, cl)
		}
		if round == 0 {
			c.msgs = append(c.msgs,
				model.Message{Role: model.RoleTool, ToolCallID: calls[0].ID, Name: calls[0].Name, Content: render(t, prompts.Misaligned, &prompts.Data{Round: 1, Findings: []string{"the plan ignores brevity"}}), IsError: true},
				model.Message{Role: model.RoleTool, ToolCallID: calls[1].ID, Name: calls[1].Name, Content: "not run: write_file waits for an aligned acceptance, and yours was not; accept again first", IsError: true})
		}
	}
}

func TestWorkConsultsWhenAdviceIsAsked(t *testing.T) {
	g := sampleGoal()
	g.Context = "Consult the style expert first."
	p := newProtocol(t, nil, []string{"stylist"})
	d := dataFor(&g, g.Tools)
	d.Peers = []prompts.Peer{{Name: "stylist", Role: "Knows the house style."}}
	c := newConvo(t, sim.New("writer", nil), p, d)
	c.call(agents.ToolAcceptGoal)
	c.aligned(d, "write_file", agents.ToolConsult)
	ca := decode[agents.ConsultArgs](t, c.call(agents.ToolConsult))
	if ca.Agent != "stylist" {
		t.Errorf("consulted %q", ca.Agent)
	}
	c.reply("Use short sentences.")
	w := decode[map[string]string](t, c.call("write_file"))
	if !strings.Contains(w["content"], "Use short sentences.") {
		t.Errorf("advice not used:\n%s", w["content"])
	}
}

// TestPersonas drives each persona through its offer and working phases and
// checks the calls it makes, validating every argument against the real
// tools except where the persona is meant to break them.
func TestPersonas(t *testing.T) {
	type step struct {
		want  string // the tool called, "" for prose
		reply string // the result it gets; "" for the phase's natural answer
		bad   bool   // the arguments are meant to be invalid
	}
	const aligned = "<aligned>"
	cases := []struct {
		persona sim.Persona
		steps   []step
		check   func(t *testing.T, calls []model.ToolCall)
	}{
		{persona: sim.Default, steps: []step{{want: "accept_goal", reply: aligned}, {want: "write_file", reply: "wrote 9 bytes to x.md"}, {want: "complete_goal"}}},
		{persona: sim.Eager, steps: []step{{want: "write_file", reply: "refused: tool write_file is not allowed now"}, {want: "accept_goal", reply: aligned}, {want: "write_file", reply: "wrote 9 bytes"}, {want: "complete_goal"}}},
		{persona: sim.YesMan, steps: []step{{want: "accept_goal", reply: aligned}, {want: "write_file", reply: "wrote 9 bytes"}, {want: "complete_goal"}}},
		{persona: sim.Drifter, steps: []step{{want: "accept_goal", reply: "Your acceptance is not aligned with the delegator's intent (round 1).\n- intent"}, {want: "accept_goal", reply: aligned}, {want: "write_file"}}},
		{persona: sim.Silent, steps: []step{{want: "accept_goal", reply: aligned}, {want: "write_file", reply: "write_file failed: x"}, {want: "write_file", reply: "write_file failed: x"}, {want: "complete_goal"}}},
		{persona: sim.OverAsker, steps: []step{
			{want: "ask_clarification", reply: "Answer from lead: Yes"}, {want: "accept_goal", reply: aligned},
			{want: "escalate", reply: "Answer from runtime: Recorded; continue."}, {want: "write_file", reply: "wrote 9 bytes"},
			{want: "complete_goal", reply: "Revise and report again: more"}, {want: "escalate", reply: "Answer from runtime: ok"}, {want: "write_file"}}},
		{persona: sim.Looper, steps: []step{{want: "accept_goal", reply: aligned}, {want: "list_files", reply: "a.md"}, {want: "list_files", reply: "a.md"}, {want: "list_files", reply: "refused: same call"}, {want: "list_files"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				for _, c := range calls[2:] {
					if string(c.Arguments) != string(calls[1].Arguments) {
						t.Errorf("looper changed its arguments: %s", c.Arguments)
					}
				}
			}},
		{persona: sim.Malformed, steps: []step{{want: "accept_goal", bad: true, reply: "invalid arguments"}, {want: "accept_goal", bad: true, reply: "invalid arguments"}, {want: "accept_goal", reply: aligned}, {want: "write_file"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				if json.Valid(calls[0].Arguments) {
					t.Errorf("first arguments are valid JSON: %s", calls[0].Arguments)
				}
				var m map[string]any
				if err := json.Unmarshal(calls[1].Arguments, &m); err != nil {
					t.Errorf("second arguments are not JSON: %v", err)
				}
				if _, ok := m["restated_intent"]; ok {
					t.Errorf("second arguments keep the first required field: %s", calls[1].Arguments)
				}
			}},
		{persona: sim.Hallucinator, steps: []step{{want: "accept_goal", reply: aligned}, {want: "run_shell", bad: true, reply: `refused: unknown tool "run_shell"`}, {want: "write_file", reply: "wrote"}, {want: "complete_goal"}}},
		{persona: sim.Quitter, steps: []step{{want: "accept_goal", reply: aligned}, {want: "complete_goal", reply: "Revise and report again: nothing was written"}, {want: "complete_goal"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				var rep agents.Report
				json.Unmarshal(calls[1].Arguments, &rep)
				if len(rep.Criteria) != 2 || !rep.Criteria[0].Met || !rep.Criteria[1].Met {
					t.Errorf("quitter does not claim every criterion: %+v", rep)
				}
			}},
		{persona: sim.Withholder, steps: []step{{want: "accept_goal", reply: aligned}, {want: "write_file", reply: "wrote"}, {want: "complete_goal"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				var rep agents.Report
				json.Unmarshal(calls[2].Arguments, &rep)
				if len(rep.Criteria) != 1 || rep.Criteria[0].Criterion != sampleGoal().Criteria[0] {
					t.Errorf("withholder reports %+v", rep.Criteria)
				}
			}},
		{persona: sim.Prose, steps: []step{{want: "", reply: "Prose is commentary, not a protocol act."}, {want: ""}}},
		{persona: sim.Stubborn, steps: []step{
			{want: "accept_goal", reply: "Your acceptance is not aligned with the delegator's intent (round 1).\n- intent"},
			{want: "accept_goal", reply: "Your acceptance is not aligned with the delegator's intent (round 2).\n- intent"}, {want: "accept_goal"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				for _, c := range calls[1:] {
					if string(c.Arguments) != string(calls[0].Arguments) {
						t.Errorf("stubborn changed its acceptance: %s", c.Arguments)
					}
				}
			}},
		{persona: sim.Offplan, steps: []step{{want: "accept_goal", reply: aligned}, {want: "list_files", reply: "a.md"}, {want: "write_file", reply: "wrote"}, {want: "complete_goal"}},
			check: func(t *testing.T, calls []model.ToolCall) {
				var a agents.Acceptance
				json.Unmarshal(calls[0].Arguments, &a)
				if plan := strings.Join(a.Plan, " "); !strings.Contains(plan, "write_file") || strings.Contains(plan, "list_files") {
					t.Errorf("offplan's plan: %q", plan)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(string(tc.persona)+"_", func(t *testing.T) {
			g := sampleGoal()
			if tc.persona == sim.YesMan {
				g.Constraints = append(g.Constraints, "It is impossible to write")
			}
			p := newProtocol(t, nil, nil)
			d := dataFor(&g, []string{"write_file", "list_files"})
			c := newConvo(t, sim.New("writer", &sim.Options{Persona: tc.persona}), p, d)
			var calls []model.ToolCall
			for i, s := range tc.steps {
				resp := c.turn()
				got := resp.Message.ToolCalls
				if s.want == "" {
					if len(got) != 0 || resp.Message.Content == "" {
						t.Fatalf("step %d: want prose, got %s", i+1, callNames(got))
					}
					c.msgs = append(c.msgs, model.Message{Role: model.RoleUser, Content: s.reply})
					continue
				}
				if len(got) != 1 || got[0].Name != s.want {
					t.Fatalf("step %d: want %s, got %s %q", i+1, s.want, callNames(got), resp.Message.Content)
				}
				calls = append(calls, got[0])
				if !s.bad {
					p.validate(t, got[0])
				} else if tl, ok := p.tools[s.want]; ok && !tl.Call(t.Context(), got[0].Arguments).IsError {
					t.Errorf("step %d: arguments meant to be invalid validate: %s", i+1, got[0].Arguments)
				}
				switch {
				case s.reply == aligned:
					c.aligned(d, "write_file", "list_files")
				case s.reply == "":
				case errorReply(s.reply):
					c.fail(s.reply)
				default:
					c.reply(s.reply)
				}
			}
			if tc.check != nil {
				tc.check(t, calls)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	g := sampleGoal()
	good := agents.Acceptance{RestatedIntent: "So that newcomers become productive contributors quickly.", Plan: []string{"write"},
		AcknowledgedCriteria: []string{"a", "b"}, AcknowledgedConstraints: []string{"c", "d"}}
	drift := good
	drift.RestatedIntent = "Maximise quarterly advertising revenue."
	short := good
	short.AcknowledgedCriteria = []string{"a"}
	noConstraints := good
	noConstraints.AcknowledgedConstraints = nil
	cases := []struct {
		name     string
		acc      agents.Acceptance
		findings []string
		aligned  bool
		gap      string
	}{
		{"aligned", good, nil, true, ""},
		{"drift", drift, nil, false, "nothing in common"},
		{"missing criterion", short, nil, false, "1 criteria acknowledged, the goal has 2"},
		{"missing constraints", noConstraints, nil, false, "0 constraints acknowledged, the goal has 2"},
		{"runtime findings", good, []string{"the plan uses rm, which is not granted"}, false, "rm"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A persona never changes how a delegator behaves.
			for _, persona := range []sim.Persona{sim.Default, sim.Prose, sim.Drifter} {
				call := askDelegator(t, persona, prompts.JudgeAlignment, &prompts.Data{Goal: &g, Delegate: "writer", Acceptance: &tc.acc, Findings: tc.findings, Round: 1}, agents.ToolJudgeAlignment)
				al := decode[agents.Alignment](t, call)
				if al.Aligned != tc.aligned {
					t.Errorf("%s: aligned = %v, want %v (gaps %q)", persona, al.Aligned, tc.aligned, al.Gaps)
				}
				if tc.gap != "" && !strings.Contains(strings.Join(al.Gaps, "\n"), tc.gap) {
					t.Errorf("%s: gaps %q lack %q", persona, al.Gaps, tc.gap)
				}
				if !al.Aligned && al.Correction == "" {
					t.Errorf("%s: no correction", persona)
				}
			}
		})
	}
}

// askDelegator asks a simulator, as the delegator of goal d.Goal, the
// question of template tmpl, offering only tools, and returns its validated
// call.
func askDelegator(t *testing.T, persona sim.Persona, tmpl string, d *prompts.Data, tools ...string) model.ToolCall {
	t.Helper()
	p := newProtocol(t, nil, nil)
	d.Agent, d.Role = "lead", "Leads the team."
	c := &convo{t: t, m: sim.New("lead", &sim.Options{Persona: persona}), p: p, tools: tools, msgs: []model.Message{
		{Role: model.RoleSystem, Content: render(t, prompts.DelegatorSystem, &prompts.Data{Agent: "lead", Role: "Leads the team.", Goal: d.Goal})},
		{Role: model.RoleUser, Content: render(t, tmpl, d)},
	}}
	return c.call(tools[0])
}

func TestVerify(t *testing.T) {
	g := sampleGoal()
	met := func(ev ...string) agents.Report {
		r := agents.Report{Result: "Wrote guide.md"}
		for i, c := range g.Criteria {
			r.Criteria = append(r.Criteria, agents.CriterionResult{Criterion: c, Met: true, Evidence: ev[i]})
		}
		return r
	}
	all := met("section Build", "section Help")
	noEvidence := met("section Build", "")
	notMet := met("x", "y")
	notMet.Criteria[1].Met = false
	withheld := met("x", "y")
	withheld.Criteria = withheld.Criteria[:1]
	reworded := met("x", "y")
	reworded.Criteria[0].Criterion = "Build and test are explained"
	cases := []struct {
		name     string
		rep      agents.Report
		findings []string
		round    int
		verdict  agents.Verdict
		unmet    []string
	}{
		{"all met", all, nil, 1, agents.VerdictAccept, nil},
		{"reworded in order", reworded, nil, 1, agents.VerdictAccept, nil},
		{"no evidence", noEvidence, nil, 1, agents.VerdictRevise, g.Criteria[1:]},
		{"not met", notMet, nil, 2, agents.VerdictRevise, g.Criteria[1:]},
		{"withheld", withheld, nil, 1, agents.VerdictRevise, g.Criteria[1:]},
		{"runtime findings", all, []string{"verifier: guide.md is empty"}, 1, agents.VerdictRevise, nil},
		{"third revision", notMet, nil, 3, agents.VerdictReject, g.Criteria[1:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call := askDelegator(t, sim.Quitter, prompts.VerifyReport, &prompts.Data{Goal: &g, Delegate: "writer", Report: &tc.rep, Findings: tc.findings, Round: tc.round}, agents.ToolVerifyReport)
			v := decode[agents.Verification](t, call)
			if v.Verdict != tc.verdict || !slices.Equal(v.Unmet, tc.unmet) {
				t.Errorf("verdict %s unmet %q, want %s %q (feedback %q)", v.Verdict, v.Unmet, tc.verdict, tc.unmet, v.Feedback)
			}
			if v.Verdict != agents.VerdictAccept && v.Feedback == "" {
				t.Error("no feedback")
			}
			for _, f := range tc.findings {
				if !strings.Contains(v.Feedback, f) {
					t.Errorf("feedback %q lacks the finding %q", v.Feedback, f)
				}
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	g := sampleGoal()
	cases := []struct {
		name             string
		esc              agents.Escalation
		answer, decision string
	}{
		{"recommendation", agents.Escalation{Kind: agents.KindAmbiguity, Question: "Which?", Options: []string{"a", "b"}, Recommendation: "b"}, "b", "b"},
		{"first option", agents.Escalation{Kind: agents.KindBlocked, Blocking: true, Question: "Which?", Options: []string{"a", "b"}}, "a", "a"},
		{"nothing offered", agents.Escalation{Kind: agents.KindRisk, Question: "Now what?"}, "Proceed with your best judgement and note it as a deviation.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.esc.From = "writer"
			call := askDelegator(t, sim.Silent, prompts.AnswerEscalation, &prompts.Data{Goal: &g, Delegate: "writer", Escalation: &tc.esc},
				agents.ToolAnswerEscalation, agents.ToolEscalate)
			a := decode[agents.AnswerArgs](t, call)
			if a.Answer != tc.answer || a.Decision != tc.decision {
				t.Errorf("answer %+v, want %q / %q", a, tc.answer, tc.decision)
			}
		})
	}
}

func TestConsultAnswersInProse(t *testing.T) {
	c := agents.Consultation{From: "writer", Question: "How long should the guide be?", Context: "For new contributors."}
	d := &prompts.Data{Agent: "editor", Role: "Edits prose.", Consultation: &c}
	req := &model.Request{Messages: []model.Message{
		{Role: model.RoleSystem, Content: render(t, prompts.ConsultSystem, d)},
		{Role: model.RoleUser, Content: render(t, prompts.Consult, d)},
	}}
	m := sim.New("editor", &sim.Options{Persona: sim.Prose})
	r1, err := m.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := m.Generate(t.Context(), req)
	if len(r1.Message.ToolCalls) != 0 || !strings.Contains(r1.Message.Content, "How long should the guide be") {
		t.Errorf("advice %q", r1.Message.Content)
	}
	if r1.Message.Content != r2.Message.Content {
		t.Error("advice is not deterministic")
	}
	// The meddler, asked for advice, acts instead.
	r3, err := sim.New("editor", &sim.Options{Persona: sim.Meddler}).Generate(t.Context(), req)
	if err != nil || len(r3.Message.ToolCalls) != 1 || r3.Message.ToolCalls[0].Name != "write_file" {
		t.Errorf("meddler consulted: %+v, %v", r3, err)
	}
}

func TestPersonaCatalogue(t *testing.T) {
	seen := map[sim.Persona]bool{}
	for _, p := range sim.Personas() {
		if sim.Describe(p) == "" || seen[p] || p == sim.Default {
			t.Errorf("persona %q: described %q, listed twice %v", p, sim.Describe(p), seen[p])
		}
		seen[p] = true
		if got, err := sim.ParsePersona(string(p)); err != nil || got != p {
			t.Errorf("ParsePersona(%q) = %q, %v", p, got, err)
		}
	}
	if len(sim.Personas()) != 14 {
		t.Errorf("%d personas", len(sim.Personas()))
	}
	if sim.Describe(sim.Default) == "" {
		t.Error("Default undescribed")
	}
	for _, s := range []string{"", "default"} {
		if p, err := sim.ParsePersona(s); err != nil || p != sim.Default {
			t.Errorf("ParsePersona(%q) = %q, %v", s, p, err)
		}
	}
	if _, err := sim.ParsePersona("genius"); !errors.Is(err, sim.ErrUnknownPersona) {
		t.Errorf("ParsePersona(genius) = %v", err)
	}
	m := sim.New("x", &sim.Options{Persona: "genius"})
	if _, err := m.Generate(t.Context(), &model.Request{}); !errors.Is(err, sim.ErrUnknownPersona) {
		t.Errorf("Generate with an unknown persona: %v", err)
	}
}

// TestDefaultArgumentsAlwaysValidate runs the default simulator through many
// goals, edge cases included, and validates every call it makes against the
// real protocol tools.
func TestDefaultArgumentsAlwaysValidate(t *testing.T) {
	goals := []agents.Goal{
		sampleGoal(),
		{Intent: "I", Objective: "O"},
		{Intent: "", Objective: "Only an objective", Criteria: []string{"one"}},
		{Intent: "Ünïcödé — “quotes” and\nnewlines", Objective: "Write\tsomething: {\"json\": true}", Criteria: []string{"multi\nline criterion", "x"},
			Constraints: []string{"- looks like a list item", "2. looks numbered"}, Context: "Context: nested header"},
		{Intent: strings.Repeat("long intent ", 200), Objective: strings.Repeat("long objective ", 200), Criteria: []string{strings.Repeat("c", 2000)}},
	}
	for i, g := range goals {
		for _, delegates := range [][]prompts.Peer{nil, {{Name: "helper", Role: "Helps."}}} {
			t.Run(fmt.Sprintf("goal%d/delegates%d", i, len(delegates)), func(t *testing.T) {
				names := []string{}
				for _, d := range delegates {
					names = append(names, d.Name)
				}
				p := newProtocol(t, names, nil)
				tools := []string{"write_file"}
				d := dataFor(&g, tools, delegates...)
				c := newConvo(t, sim.New("writer", nil), p, d)
				c.call(agents.ToolAcceptGoal)
				working := tools
				if len(delegates) > 0 {
					working = append(working, agents.ToolDelegate)
				}
				c.aligned(d, working...)
				for n := 0; ; n++ {
					if n > 6 {
						t.Fatal("did not complete")
					}
					resp := c.turn()
					for _, call := range resp.Message.ToolCalls {
						p.validate(t, call)
					}
					if resp.Message.ToolCalls[0].Name == agents.ToolCompleteGoal {
						rep := decode[agents.Report](t, resp.Message.ToolCalls[0])
						if len(rep.Criteria) != len(g.Criteria) {
							t.Errorf("report has %d criteria, goal %d", len(rep.Criteria), len(g.Criteria))
						}
						break
					}
					content := "wrote 10 bytes to x.md"
					if resp.Message.ToolCalls[0].Name == agents.ToolDelegate {
						content = `{"agent":"helper","status":"completed","result":"done"}`
					}
					c.reply(content)
				}
			})
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	m := sim.New("writer", nil)
	m.SetRecording(false)
	p := newProtocol(t, nil, nil)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			g := sampleGoal()
			g.Objective = fmt.Sprintf("Write guide 10%02d", i)
			d := dataFor(&g, g.Tools)
			req := &model.Request{Messages: []model.Message{
				{Role: model.RoleSystem, Content: render(t, prompts.DelegateSystem, d)},
				{Role: model.RoleUser, Content: render(t, prompts.Offer, d)},
			}, Tools: p.defs(t, offerTools...)}
			resp, err := m.Generate(context.Background(), req)
			if err != nil {
				t.Error(err)
				return
			}
			a := decode[agents.Acceptance](t, resp.Message.ToolCalls[0])
			if !strings.Contains(a.RestatedIntent, fmt.Sprintf("guide and 10%02d", i)) {
				t.Errorf("answer mixed up: %q", a.RestatedIntent)
			}
		})
	}
	wg.Wait()
}

// In process the simulator reads the request's Metadata, not the prompt:
// a prompt without the goal still gets an acceptance of the goal the
// metadata names.
func TestMetadataOverPrompt(t *testing.T) {
	p := newProtocol(t, nil, nil)
	md := &model.Metadata{Purpose: model.PurposeTurn, Phase: model.PhaseOffered, Agent: "w", Delegation: "d1",
		Intent: "keep the team informed", Objective: "write a note", Criteria: []string{"a note is written", "it is short"},
		Constraints: []string{"be brief"}, Tools: []string{"write_file"}}
	req := &model.Request{Metadata: md, Messages: []model.Message{
		{Role: model.RoleSystem, Content: "You are w."}, {Role: model.RoleUser, Content: "Your goal is in the metadata."}},
		Tools: p.defs(t, agents.ToolAcceptGoal, agents.ToolDeclineGoal, agents.ToolAskClarification)}
	resp, err := sim.New("w", nil).Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.Message.ToolCalls
	if len(calls) != 1 || calls[0].Name != agents.ToolAcceptGoal {
		t.Fatalf("want accept_goal, got %s %q", callNames(calls), resp.Message.Content)
	}
	a := decode[agents.Acceptance](t, calls[0])
	if len(a.AcknowledgedCriteria) != 2 || len(a.AcknowledgedConstraints) != 1 {
		t.Fatalf("acceptance %+v does not acknowledge the metadata's criteria and constraints", a)
	}
}
