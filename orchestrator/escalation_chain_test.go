package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// An escalation passed up the chain reaches the Principal in the asker's own
// words — question, options and recommendation verbatim — with the chain it
// travelled and each delegator's note; the answer comes back down verbatim.
func TestEscalationKeepsItsWords(t *testing.T) {
	g := noteGoal
	leafQ := agents.EscalateArgs{Kind: agents.KindRisk, Question: "The prod database is in the way: may I drop table users_tmp?",
		Options: []string{"drop it", "leave it"}, Recommendation: "leave it"}
	passUp := func(q string) model.ToolCall {
		return call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: q, Recommendation: "drop it"})
	}
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("mid", g)), turn(passUp("leaf wants to touch prod; your call")),
		turn(complete(g, "done", "d2")))
	mid := model.NewScripted("mid", turn(accept(g)), turn(delegateTo("leaf", g)), turn(passUp("Can leaf drop a table?")),
		turn(complete(g, "done", "d3")))
	leaf := model.NewScripted("leaf", turn(accept(g)), turn(call(agents.ToolEscalate, leafQ)), turn(complete(g, "done")))
	var asked *agents.Escalation
	rt, mem := newRuntime(t, threeLevels(lead, mid, leaf), &orchestrator.Options{Principal: orchestrator.PrincipalFuncs{
		Answer: func(_ context.Context, e *agents.Escalation) (agents.Resolution, error) {
			asked = e
			return agents.Resolution{Answer: "Leave users_tmp alone; it is not yours.", Decision: "leave it"}, nil
		}}})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if asked == nil || asked.Question != leafQ.Question || asked.Recommendation != "leave it" || strings.Join(asked.Options, "|") != "drop it|leave it" ||
		asked.Kind != agents.KindRisk {
		t.Fatalf("the Principal was asked %+v", asked)
	}
	want := []agents.Hop{{Agent: "leaf", Delegation: "d3"}, {Agent: "mid", Delegation: "d2", Note: "Can leaf drop a table? (recommends: drop it)"},
		{Agent: "lead", Delegation: "d1", Note: "leaf wants to touch prod; your call (recommends: drop it)"}}
	if mustJSON(asked.Chain) != mustJSON(want) {
		t.Fatalf("chain %s, want %s", mustJSON(asked.Chain), mustJSON(want))
	}
	reqs := leaf.Requests()
	if got := lastToolMessage(reqs[len(reqs)-1]); !strings.Contains(got, "Leave users_tmp alone; it is not yours.") {
		t.Fatalf("the leaf got %q", got)
	}
	raised := ofType(mem.Events(), orchestrator.EventEscalationRaised)
	if last := raised[len(raised)-1]; len(last.Escalation.Chain) != 3 {
		t.Fatalf("the journal does not carry the chain: %s", mustJSON(last))
	}
}

// Past MaxClarifications, a question is refused and counted as a violation;
// the last allowed answer says so.
func TestMaxClarificationsHolds(t *testing.T) {
	g := noteGoal
	ask := func(q string) model.Turn {
		return turn(call(agents.ToolAskClarification, agents.Clarification{Question: q}))
	}
	m := model.NewScripted("m", ask("one?"), ask("two?"), ask("three?"), turn(accept(g)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Limits: orchestrator.Limits{MaxClarifications: 2}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if n := len(ofType(mem.Events(), orchestrator.EventClarificationAsked)); n != 2 {
		t.Fatalf("%d questions went up, want 2", n)
	}
	if got := lastToolMessage(m.Requests()[2]); !strings.Contains(got, "That was your last question") {
		t.Errorf("the second answer: %q", got)
	}
	if got := lastToolMessage(m.Requests()[3]); !strings.Contains(got, "refused") || out.Violations != 1 {
		t.Errorf("the third question: %q, %d violations", got, out.Violations)
	}
}

// MaxClarifications holds for escalations after acceptance too: past it the
// escalation is refused unasked and counted as a violation; the last allowed
// answer says so.
func TestMaxClarificationsHoldsForEscalations(t *testing.T) {
	g := noteGoal
	no := false
	esc := func(q string) model.Turn {
		return turn(call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: q, Blocking: &no}))
	}
	m := model.NewScripted("m", turn(accept(g)), esc("one?"), esc("two?"), esc("three?"), turn(complete(g, "done")))
	rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Limits: orchestrator.Limits{MaxClarifications: 2}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if n := len(ofType(mem.Events(), orchestrator.EventEscalationRaised)); n != 2 {
		t.Fatalf("%d escalations went up, want 2", n)
	}
	if got := lastToolMessage(m.Requests()[3]); !strings.Contains(got, "That was your last escalation") {
		t.Errorf("the second answer: %q", got)
	}
	if got := lastToolMessage(m.Requests()[4]); !strings.Contains(got, "refused") || out.Violations != 1 {
		t.Errorf("the third escalation: %q, %d violations", got, out.Violations)
	}
	vs := ofType(mem.Events(), orchestrator.EventProtocolViolation)
	if len(vs) != 1 || vs[0].Violation != orchestrator.ViolationNotAllowed || !strings.Contains(vs[0].Reason, "escalation past the limit of 2") {
		t.Errorf("violations: %s", mustJSON(vs))
	}
}
