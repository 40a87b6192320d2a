package orchestrator_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// oddVerifier is a root Principal whose verdict on every report is not one
// of accept, revise and reject.
type oddVerifier struct {
	orchestrator.AutoPrincipal
	verdict  agents.Verdict
	verified int
}

func (p *oddVerifier) VerifyReport(context.Context, *agents.Goal, string, *agents.Report) (agents.Verification, error) {
	p.verified++
	return agents.Verification{Verdict: p.verdict, Feedback: "looks fine"}, nil
}

// A verdict outside accept/revise/reject is no acceptance: the report goes
// back as a counted revision, so the run ends rejected after the revision
// limit instead of asking again for ever.
func TestUnknownVerdictFailsClosed(t *testing.T) {
	g := noteGoal
	for _, v := range []agents.Verdict{"approve", "", "Accept"} {
		t.Run(string(v), func(t *testing.T) {
			note := withID("n1", call("note", map[string]string{"text": "x"}))
			turns := []model.Turn{turn(accept(g)), turn(note)}
			for i := range 8 { // more reports than the limit allows, each its own
				turns = append(turns, turn(complete(g, fmt.Sprintf("done, take %d", i+1), "n1")))
			}
			m := model.NewScripted("solo", turns...)
			p := &oddVerifier{verdict: v}
			rt, mem := newRuntime(t, solo(m, newRecorder(t, "note").tool), &orchestrator.Options{Principal: p})
			out, _ := rt.Run(t.Context(), g)
			if out.Status != orchestrator.StatusFailed || out.Cause != orchestrator.CauseRejected {
				t.Fatalf("status %s (%s: %s), want failed, rejected\n%s", out.Status, out.Cause, out.Reason, types(mem.Events()))
			}
			const maxRevisions = 2 // Limits' default
			if p.verified != maxRevisions+1 {
				t.Errorf("the Principal was asked %d times, want %d", p.verified, maxRevisions+1)
			}
			ver := ofType(mem.Events(), orchestrator.EventReportVerified)
			if len(ver) == 0 || !strings.Contains(ver[0].Verification.Feedback, "none of accept, revise or reject") ||
				ver[0].Verification.Verdict != agents.VerdictRevise {
				t.Errorf("first verification: %s", mustJSON(ver))
			}
			checkJournal(t, mem.Events())
		})
	}
}

// An answer that says nothing (no answer, no decision, not refused) is a
// refusal: the asker is told no one answered, not handed a blank.
func TestEmptyAnswerIsRefused(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", turn(accept(g)), turn(escalateCall("which colour?")), turn(complete(g, "done", "d2")))
	var got []agents.Resolution
	rt, mem := newRuntime(t, solo(lead), &orchestrator.Options{Principal: orchestrator.PrincipalFuncs{
		Answer: func(context.Context, *agents.Escalation) (agents.Resolution, error) {
			return agents.Resolution{}, nil
		}}})
	rt.Run(t.Context(), g)
	for _, e := range ofType(mem.Events(), orchestrator.EventEscalationResolved) {
		got = append(got, *e.Resolution)
	}
	if len(got) != 1 || !got[0].Refused || !strings.Contains(got[0].Answer, "empty answer") {
		t.Fatalf("resolutions: %s", mustJSON(got))
	}
}
