package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

var brief = agents.Goal{Intent: "keep the team informed", Objective: "write a note", Criteria: []string{"a note is written"},
	Constraints: []string{"at most 200 words", "no names of customers"}}

// admits is a report of brief that claims its criterion met (citing the
// delegation it made, d2's note call n1) and admits constraint 1 broken,
// either in its entry or in a deviation.
func admits(viaDeviation bool) model.ToolCall {
	r := agents.Report{Result: "wrote a long note",
		Criteria: []agents.CriterionResult{{Criterion: "a note is written", Met: true, Evidence: "done", Cites: []string{"n1"}}},
		Constraints: []agents.ConstraintResult{{Constraint: "at most 200 words", Respected: false, Evidence: "it runs to 450 words"},
			{Constraint: "no names of customers", Respected: true, Evidence: "none named"}}}
	if viaDeviation {
		r.Constraints[0] = agents.ConstraintResult{Constraint: "at most 200 words", Respected: true, Evidence: "mostly"}
		r.Deviations = []string{"Constraint 1 broken: the note runs to 450 words"}
	}
	return call(agents.ToolCompleteGoal, r)
}

func breachTeam(t *testing.T, lead, w model.Model, sup *orchestrator.Supervision) orchestrator.Team {
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w, Tools: []agents.Tool{newRecorder(t, "note").tool}}, Supervision: sup},
	}}
}

// A report admitting a broken constraint is not accepted by a yes-man
// delegator's bare accept, nor by the runtime alone: it goes back, and fails
// when it keeps coming back.
func TestBrokenConstraintNeedsANamedAcceptance(t *testing.T) {
	for _, tc := range []struct {
		name         string
		viaDeviation bool
		sup          *orchestrator.Supervision
	}{
		{"reported not respected, model verifies", false, &orchestrator.Supervision{ModelVerify: true}},
		{"named by a deviation, model verifies", true, &orchestrator.Supervision{ModelVerify: true}},
		{"structural supervision still asks the delegator", false, structural},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note := withID("n1", call("note", map[string]string{"text": "a long note"}))
			w := model.NewScripted("w", turn(accept(brief)), turn(note), turn(admits(tc.viaDeviation)), turn(admits(tc.viaDeviation)),
				turn(admits(tc.viaDeviation)))
			yes := verdict(agents.VerdictAccept, "looks good")
			lead := model.NewScripted("lead", turn(accept(brief)), turn(delegateTo("w", brief)), turn(yes), turn(yes), turn(yes),
				turn(call(agents.ToolCompleteGoal, agents.Report{Result: "no note", Criteria: []agents.CriterionResult{{Criterion: "x", Met: false}},
					Constraints: []agents.ConstraintResult{{Constraint: "a", Respected: true}, {Constraint: "b", Respected: true}}})))
			rt, mem := newRuntime(t, breachTeam(t, lead, w, tc.sup), &orchestrator.Options{Limits: orchestrator.Limits{RepeatLimit: -1}})
			out, _ := rt.Run(t.Context(), brief)
			wo := out.Children[0]
			if wo.Status != orchestrator.StatusFailed || wo.Cause != orchestrator.CauseRejected || !strings.Contains(wo.Reason, `constraint 1 ("at most 200 words") is broken`) {
				t.Fatalf("writer %s (%s): %s\n%s", wo.Status, wo.Cause, wo.Reason, types(mem.Events()))
			}
			for _, e := range ofType(mem.Events(), orchestrator.EventReportVerified) {
				if e.Delegation == "d2" && e.Verification.Verdict == agents.VerdictAccept {
					t.Fatalf("a breach was accepted: %s", mustJSON(e))
				}
			}
			if got := firstUserOf(lead, agents.ToolVerifyReport); (!tc.viaDeviation && !strings.Contains(got, "BROKEN")) ||
				!strings.Contains(got, "accepted_breaches") {
				t.Errorf("the delegator was not shown the breach:\n%s", got)
			}
		})
	}
}

// firstUserOf is the question of m's first request that offered tool.
func firstUserOf(m *model.Scripted, tool string) string {
	for _, r := range m.Requests() {
		if len(r.Tools) == 1 && r.Tools[0].Name == tool {
			for _, msg := range r.Messages {
				if msg.Role == model.RoleUser {
					return msg.Content
				}
			}
		}
	}
	return ""
}

// A breach the delegator names, with a reason, passes, and is recorded on
// the event; one it does not name does not.
func TestAcceptedBreachIsRecorded(t *testing.T) {
	note := withID("n1", call("note", map[string]string{"text": "a long note"}))
	w := model.NewScripted("w", turn(accept(brief)), turn(note), turn(admits(false)))
	ok := call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept,
		AcceptedBreaches: []agents.AcceptedBreach{{Constraint: 1, Reason: "the detail is worth the length"}, {Constraint: 2, Reason: "not broken anyway"}}})
	lead := model.NewScripted("lead", turn(accept(brief)), turn(delegateTo("w", brief)), turn(ok), turn(complete(brief, "done", "d2")))
	rt, mem := newRuntime(t, breachTeam(t, lead, w, &orchestrator.Supervision{ModelVerify: true}), nil)
	if _, err := rt.Run(t.Context(), brief); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	var ver *orchestrator.Event
	for _, e := range ofType(mem.Events(), orchestrator.EventReportVerified) {
		if e.Delegation == "d2" {
			ver = e
		}
	}
	if ver == nil || ver.Verification.Verdict != agents.VerdictAccept || len(ver.Verification.AcceptedBreaches) != 1 ||
		ver.Verification.AcceptedBreaches[0].Constraint != 1 {
		t.Fatalf("verification: %s", mustJSON(ver))
	}
}

// At the root the user decides: the automatic policies accept no breach, so
// the goal fails; a Principal that accepts it by name lets it pass.
type breachPrincipal struct {
	orchestrator.AutoPrincipal
	accept bool
	asked  []orchestrator.Breach
}

func (p *breachPrincipal) AcceptBreaches(_ context.Context, _ *agents.Goal, _ string, _ *agents.Report, bs []orchestrator.Breach) ([]agents.AcceptedBreach, error) {
	p.asked = append(p.asked, bs...)
	if !p.accept {
		return nil, nil
	}
	return []agents.AcceptedBreach{{Constraint: bs[0].Index, Reason: "fine by me"}}, nil
}

func TestBrokenConstraintAtTheRoot(t *testing.T) {
	g := brief
	g.Criteria = []string{"a note is written"}
	run := func(p orchestrator.Principal) (*orchestrator.Outcome, error) {
		note := withID("n1", call("note", map[string]string{"text": "a long note"}))
		m := model.NewScripted("m", turn(accept(g)), turn(note), turn(admits(false)))
		rt, _ := newRuntime(t, solo(m, newRecorder(t, "note").tool), &orchestrator.Options{Principal: p})
		return rt.Run(t.Context(), g)
	}
	for _, p := range []orchestrator.Principal{orchestrator.AutoPrincipal{}, orchestrator.AutoPrincipal{Deny: true}, &breachPrincipal{}} {
		if out, err := run(p); err == nil || out.Cause != orchestrator.CauseRejected || !strings.Contains(out.Reason, "constraint 1") {
			t.Errorf("%T: %s (%s) %v", p, out.Status, out.Reason, err)
		}
	}
	bp := &breachPrincipal{accept: true}
	if out, err := run(bp); err != nil || out.Verification.By != "user" || len(out.Verification.AcceptedBreaches) != 1 {
		t.Fatalf("accepted by the user: %v %s", err, mustJSON(out.Verification))
	}
	if len(bp.asked) != 1 || bp.asked[0].Index != 1 || bp.asked[0].Constraint != "at most 200 words" {
		t.Fatalf("asked about %+v", bp.asked)
	}
}

// A Principal that accepts the breach but rejects the report: accepting a
// breach is not accepting the report, so the user's own check still runs.
type breachButRejectPrincipal struct {
	breachPrincipal
	verified int
}

func (p *breachButRejectPrincipal) VerifyReport(context.Context, *agents.Goal, string, *agents.Report) (agents.Verification, error) {
	p.verified++
	return agents.Verification{Verdict: agents.VerdictReject, Feedback: "not what I asked for"}, nil
}

func TestAcceptedBreachAtTheRootStillVerified(t *testing.T) {
	g := brief
	g.Criteria = []string{"a note is written"}
	note := withID("n1", call("note", map[string]string{"text": "a long note"}))
	m := model.NewScripted("m", turn(accept(g)), turn(note), turn(admits(false)))
	p := &breachButRejectPrincipal{breachPrincipal: breachPrincipal{accept: true}}
	rt, _ := newRuntime(t, solo(m, newRecorder(t, "note").tool), &orchestrator.Options{Principal: p})
	out, err := rt.Run(t.Context(), g)
	if err == nil || out.Status != orchestrator.StatusFailed || p.verified != 1 || len(p.asked) != 1 {
		t.Fatalf("status %s (%s), verified %d times, asked %d breaches, err %v", out.Status, out.Reason, p.verified, len(p.asked), err)
	}
}

// A report that leaves a constraint out is sent back: one entry each, in
// order, matched by position.
func TestEveryConstraintIsReported(t *testing.T) {
	note := withID("n1", call("note", map[string]string{"text": "x"}))
	short := call(agents.ToolCompleteGoal, agents.Report{Result: "done",
		Criteria:    []agents.CriterionResult{{Criterion: "written", Met: true, Cites: []string{"n1"}}},
		Constraints: []agents.ConstraintResult{{Constraint: "short", Respected: true}}})
	m := model.NewScripted("m", turn(accept(brief)), turn(note), turn(short), turn(complete(brief, "done", "n1")))
	rt, mem := newRuntime(t, solo(m, newRecorder(t, "note").tool), nil)
	if _, err := rt.Run(t.Context(), brief); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	ver := ofType(mem.Events(), orchestrator.EventReportVerified)
	if len(ver) != 2 || !strings.Contains(ver[0].Verification.Feedback, "1 constraints reported, the goal has 2") {
		t.Fatalf("verifications: %s", mustJSON(ver))
	}
}
