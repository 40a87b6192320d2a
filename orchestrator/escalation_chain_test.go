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

// A non-blocking escalation reaches the delegator at the asker's next turn
// boundary, not when the child returns: the delegator's model answers it
// (answer_escalation), the answer comes to the asker as a note before that
// turn, and the delegator's own conversation is told of it.
func TestNonBlockingEscalationAnsweredBeforeNextTurn(t *testing.T) {
	g := noteGoal
	no := false
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("leaf", g)),
		turn(call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "Use ISO dates."})),
		turn(complete(g, "done", "d2")))
	leaf := model.NewScripted("leaf", turn(accept(g)),
		turn(call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "Which date format?", Blocking: &no})),
		turn(complete(g, "done")))
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"leaf"}},
		{Agent: &agents.Agent{Name: "leaf", Role: "does", Model: leaf}, Supervision: structural},
	}}
	rt, mem := newRuntime(t, team, nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	reqs := leaf.Requests()
	if got := lastToolMessage(reqs[2]); !strings.Contains(got, "answers it before your next turn") {
		t.Errorf("the escalation's result: %q", got)
	}
	var sent strings.Builder
	for _, m := range reqs[2].Messages {
		sent.WriteString(m.Content + "\n")
	}
	if !strings.Contains(sent.String(), "Use ISO dates.") {
		t.Errorf("the asker's next turn does not carry the answer:\n%s", sent.String())
	}
	// The resolution is the lead's, and it comes before the asker's next
	// model call, not after the child returns.
	var resolved, nextTurn, returned int64
	for _, e := range mem.Events() {
		switch {
		case e.Type == orchestrator.EventEscalationResolved:
			if e.Resolution.By != "lead" || e.Resolution.Answer != "Use ISO dates." {
				t.Errorf("resolved %s", mustJSON(e.Resolution))
			}
			resolved = e.Seq
		case e.Type == orchestrator.EventModelCalled && e.Delegation == "d2" && resolved > 0 && nextTurn == 0:
			nextTurn = e.Seq
		case e.Type == orchestrator.EventGoalCompleted && e.Delegation == "d2":
			returned = e.Seq
		}
	}
	if resolved == 0 || nextTurn == 0 || resolved > nextTurn || resolved > returned {
		t.Fatalf("resolved at %d, asker's next turn at %d, child returned at %d\n%s", resolved, nextTurn, returned, types(mem.Events()))
	}
	lreqs := lead.Requests()
	var told strings.Builder
	for _, m := range lreqs[len(lreqs)-1].Messages {
		told.WriteString(m.Content + "\n")
	}
	if !strings.Contains(told.String(), "Which date format?") {
		t.Errorf("the lead's conversation is not told of the escalation:\n%s", told.String())
	}
}
