package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

var runbook = agents.Goal{Intent: "Help on-call engineers restore the payment service quickly at night.",
	Objective: "Write a runbook for payment outages", Criteria: []string{"the runbook names the first three checks"},
	Constraints: []string{"no shell commands that delete data"}}

// firstAcceptance is a careful first acceptance of runbook, which a judge
// then finds misaligned.
func firstAcceptance() agents.Acceptance {
	return agents.Acceptance{
		RestatedIntent:          "So that whoever is paged can get payments running again fast.",
		Plan:                    []string{"write the runbook", "report with evidence"},
		AcknowledgedCriteria:    []string{"the runbook will list the first checks to make"},
		AcknowledgedConstraints: []string{"no command in it will delete data"},
		Assumptions:             []string{"the reader knows the payment dashboards"},
		Risks:                   []string{"the checks may date quickly"},
		Confidence:              0.8,
	}
}

// giveUp is a lead's reports of g not done, enough for the revisions the
// root allows.
func giveUp(g agents.Goal) []model.Turn {
	r := agents.Report{Result: "not done", Criteria: []agents.CriterionResult{{Criterion: g.Criteria[0]}}}
	for _, c := range g.Constraints {
		r.Constraints = append(r.Constraints, agents.ConstraintResult{Constraint: c, Respected: true})
	}
	t := turn(call(agents.ToolCompleteGoal, r))
	return []model.Turn{t, t, t}
}

// ignoredEvents are the ignored_feedback violations of w's delegations.
func ignoredEvents(events []*orchestrator.Event) []*orchestrator.Event {
	var out []*orchestrator.Event
	for _, e := range ofType(events, orchestrator.EventProtocolViolation) {
		if e.Violation == orchestrator.ViolationIgnoredFeedback && e.Agent == "w" {
			out = append(out, e)
		}
	}
	return out
}

// A careful model that answers misalignment feedback is never counted as
// ignoring it; one that sends the same acceptance, or changes only what the
// gaps do not name, is warned the first time.
func TestIgnoredFeedbackAtAcceptance(t *testing.T) {
	edit := func(f func(a *agents.Acceptance)) agents.Acceptance {
		a := firstAcceptance()
		f(&a)
		return a
	}
	for _, tc := range []struct {
		name    string
		gaps    []string
		revised agents.Acceptance
		ignored bool
	}{
		{"intent rewritten for the gap", []string{"the restated intent misses that the runbook is for the night shift"},
			edit(func(a *agents.Acceptance) {
				a.RestatedIntent = "So that the engineer paged at night can bring payments back fast, without waking anyone else."
			}), false},
		{"criterion made precise", []string{"criterion 1 is acknowledged too vaguely: say which checks"},
			edit(func(a *agents.Acceptance) {
				a.AcknowledgedCriteria = []string{"the runbook will name the first three checks: the gateway health page, the queue depth and the database failover state"}
			}), false},
		{"missing criterion restated", []string{"your acknowledgement leaves out that the runbook names the first three checks"},
			edit(func(a *agents.Acceptance) {
				a.AcknowledgedCriteria = []string{"it will list the three checks to run first, in order"}
			}), false},
		{"missing the point, intent reworded", []string{"you missed the point: recovery, not diagnosis"},
			edit(func(a *agents.Acceptance) {
				a.RestatedIntent = "The point is recovery: whoever is on call at night gets the payment service back up quickly."
			}), false},
		{"plan completed", []string{"the plan does not say where the runbook goes or who reviews it"},
			edit(func(a *agents.Acceptance) {
				a.Plan = []string{"write the runbook in docs/runbooks/payments.md", "ask the payments lead to review it", "report with evidence"}
			}), false},
		{"constraint owned", []string{"constraint 1 is not acknowledged in your own words"},
			edit(func(a *agents.Acceptance) {
				a.AcknowledgedConstraints = []string{"every command in the runbook is read-only; nothing that drops, truncates or removes data"}
			}), false},
		{"a gap that names no field, answered anywhere", []string{"this is not what we need yet"},
			edit(func(a *agents.Acceptance) {
				a.Assumptions = append(a.Assumptions, "the first responder has read-only access")
			}), false},
		{"acknowledgements reworded", []string{"the acknowledgements are copied from the criteria word for word"},
			edit(func(a *agents.Acceptance) {
				a.AcknowledgedCriteria = []string{"a reader finds the three things to look at first, before anything else"}
			}), false},
		{"a question of method answered in the acknowledgements", []string{"missing: how you will know the checks are the right ones"},
			edit(func(a *agents.Acceptance) {
				a.AcknowledgedCriteria = []string{"the first three checks, taken from the last two incident reviews"}
			}), false},
		{"one of two gaps addressed", []string{"the restated intent misses the night shift", "the risks ignore stale dashboards"},
			edit(func(a *agents.Acceptance) { a.RestatedIntent = "So the night shift can restore payments fast." }), false},

		{"sent again unchanged", []string{"the restated intent misses the night shift"}, firstAcceptance(), true},
		{"only case and punctuation changed", []string{"the restated intent misses the night shift"},
			edit(func(a *agents.Acceptance) { a.RestatedIntent = strings.ToUpper(a.RestatedIntent) + "!!" }), true},
		{"a field the gap does not name changed", []string{"the restated intent misses the night shift"},
			edit(func(a *agents.Acceptance) { a.Confidence, a.Risks = 0.95, []string{"none"} }), true},
		{"the missing criterion still not restated", []string{"your acknowledgement leaves out that the runbook names the first three checks"},
			edit(func(a *agents.Acceptance) { a.AcknowledgedCriteria = []string{"I will do this part well"} }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := runbook
			lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)),
				turn(judge(false, tc.gaps...)), turn(judge(false, tc.gaps...)), turn(judge(true)), turn(complete(g, "done", "d2")))
			third := accept(g)
			w := model.NewScripted("w", turn(call(agents.ToolAcceptGoal, firstAcceptance())), turn(call(agents.ToolAcceptGoal, tc.revised)),
				turn(third), turn(complete(g, "done")))
			judged := orchestrator.Supervision{ModelJudge: true}
			rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
				{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
			}}, nil)
			out, err := rt.Run(t.Context(), g)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
			}
			got := lastToolMessage(w.Requests()[2])
			if warned := strings.Contains(got, "without addressing the feedback"); warned != tc.ignored {
				t.Fatalf("warned %v, want %v: %q", warned, tc.ignored, got)
			}
			// The first time is only a warning: the judge is still asked and
			// the third, careful acceptance goes through.
			if n := len(ignoredEvents(mem.Events())); n != 0 {
				t.Fatalf("%d ignored_feedback violations after one resubmission", n)
			}
			if out.Status != orchestrator.StatusCompleted {
				t.Fatalf("status %s: %s\n%s", out.Status, out.Reason, types(mem.Events()))
			}
			checkJournal(t, mem.Events())
		})
	}
}

// The second acceptance that ignores the feedback ends the delegation as
// misaligned, without another judge call, recorded as ignored_feedback and
// not as a stall (FM-1.3 stays for repeated steps).
func TestIgnoredFeedbackTwiceFails(t *testing.T) {
	g := runbook
	gap := "the restated intent misses the night shift"
	lead := model.NewScripted("lead", append([]model.Turn{turn(accept(g)), turn(delegateTo("w", g)),
		turn(judge(false, gap)), turn(judge(false, gap))}, giveUp(g)...)...)
	same := call(agents.ToolAcceptGoal, firstAcceptance())
	w := model.NewScripted("w", turn(same), turn(same), turn(same), turn(complete(g, "done")))
	judged := orchestrator.Supervision{ModelJudge: true}
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
	}}, nil)
	out, _ := rt.Run(t.Context(), g) // the lead gives up
	wo := out.Children[0]
	if wo.Status != orchestrator.StatusFailed || wo.Cause != orchestrator.CauseMisaligned || !strings.Contains(wo.Reason, "feedback was ignored") {
		t.Fatalf("w: %s (%s) %s\n%s", wo.Status, wo.Cause, wo.Reason, types(mem.Events()))
	}
	ig := ignoredEvents(mem.Events())
	if len(ig) != 1 || ig[0].Agent != "w" {
		t.Fatalf("ignored_feedback violations: %s", mustJSON(ig))
	}
	judges := 0
	for _, e := range ofType(mem.Events(), orchestrator.EventModelCalled) {
		if e.Purpose == model.PurposeJudge {
			judges++
		}
	}
	if judges != 2 {
		t.Fatalf("%d judge calls, want 2 (none for the second resubmission)", judges)
	}
	if n := len(ofType(mem.Events(), orchestrator.EventSupervisionIntervened)); n != 0 {
		t.Fatalf("%d stalls recorded: the resubmission is ignored feedback, not a repeated step", n)
	}
	last := ofType(mem.Events(), orchestrator.EventAlignmentJudged)
	if al := last[len(last)-1].Alignment; al.Aligned || al.By != agents.ByRuntime {
		t.Fatalf("last judgement %s", mustJSON(al))
	}
	checkJournal(t, mem.Events())
}

// A delegator that could not judge is no feedback: the same acceptance sent
// again is not ignoring anything.
func TestUnjudgedIsNotFeedback(t *testing.T) {
	g := runbook
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)),
		model.Text("I am not sure."), model.Text("Still not sure."), turn(judge(true)), turn(complete(g, "done", "d2")))
	same := call(agents.ToolAcceptGoal, firstAcceptance())
	w := model.NewScripted("w", turn(same), turn(same), turn(complete(g, "done")))
	judged := orchestrator.Supervision{ModelJudge: true}
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &judged},
	}}, &orchestrator.Options{Limits: orchestrator.Limits{MaxNudges: -1}})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := lastToolMessage(w.Requests()[1]); strings.Contains(got, "without addressing the feedback") {
		t.Fatalf("warned after an unjudged round: %q", got)
	}
	if n := len(ignoredEvents(mem.Events())); n != 0 {
		t.Fatalf("%d ignored_feedback violations", n)
	}
}

// A report sent back and sent again unchanged, with nothing done in between,
// ignores the feedback; the second time it is rejected without asking the
// verifier. Work done in between (an action tool) answers the feedback.
func TestReportSentAgainUnchanged(t *testing.T) {
	g := noteGoal
	// Only work counts as work in between: a call that succeeded and did
	// not only read. A read, or a call that failed, leaves the report as
	// ignoring its feedback.
	for _, tc := range []struct {
		name    string
		between *model.ToolCall // a call before each resubmission
		work    bool
	}{
		{"nothing done in between", nil, false},
		{"work done in between", ptr(withID("n1", call("note", map[string]string{"text": "y"}))), true},
		{"a read in between", ptr(withID("r1", call("read_note", map[string]string{"text": "y"}))), false},
		{"a failed call in between", ptr(withID("n2", call("note", map[string]int{"text": 5}))), false},
		// A tool of unknown kind (no declaration, a name that says
		// nothing) did nothing the runtime can count.
		{"a call of unknown kind in between", ptr(withID("c1", call("calculator", map[string]string{"text": "2+2"}))), false},
		{"a tool declared to act in between", ptr(withID("s1", call("sql_job", map[string]string{"text": "vacuum"}))), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note, readNote := newRecorder(t, "note"), newRecorder(t, "read_note")
			calc, job := newRecorder(t, "calculator"), newRecorder(t, "sql_job")
			calc.tool = calc.plain // declares nothing
			job.tool = protocoltest.Declared(job.tool, agents.KindActs)
			rep := complete(g, "done", "n1")
			wTurns := []model.Turn{turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "x"}))), turn(rep)}
			for range 2 {
				if tc.between != nil {
					wTurns = append(wTurns, turn(*tc.between))
				}
				wTurns = append(wTurns, turn(rep))
			}
			w := model.NewScripted("w", wTurns...)
			revise := verdict(agents.VerdictRevise, "say which note, and why it meets the goal")
			leadTurns := []model.Turn{turn(accept(g)), turn(delegateTo("w", g)), turn(revise), turn(revise)}
			if tc.work {
				leadTurns = append(leadTurns, turn(revise))
			}
			lead := model.NewScripted("lead", append(leadTurns, giveUp(g)...)...)
			verified := orchestrator.Supervision{ModelVerify: true}
			rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
				{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w, Tools: []agents.Tool{note.tool, readNote.tool, calc.tool, job.tool}}, Supervision: &verified},
			}}, nil)
			out, _ := rt.Run(t.Context(), g) // the lead gives up
			verifies := 0
			for _, e := range ofType(mem.Events(), orchestrator.EventModelCalled) {
				if e.Purpose == model.PurposeVerify {
					verifies++
				}
			}
			wo, ig := out.Children[0], ignoredEvents(mem.Events())
			if wo.Status != orchestrator.StatusFailed || wo.Cause != orchestrator.CauseRejected {
				t.Fatalf("w: %s (%s) %s", wo.Status, wo.Cause, wo.Reason)
			}
			if tc.work {
				if len(ig) != 0 || verifies != 3 {
					t.Fatalf("work in between: %d ignored_feedback, %d verifications (want 0, 3)", len(ig), verifies)
				}
				return
			}
			if len(ig) != 1 || verifies != 2 || !strings.Contains(wo.Reason, "say which note") {
				t.Fatalf("nothing in between: %d ignored_feedback, %d verifications (want 1, 2); reason %q", len(ig), verifies, wo.Reason)
			}
			warned := false
			for _, req := range w.Requests() {
				warned = warned || strings.Contains(lastToolMessage(req), "without addressing the feedback")
			}
			if !warned {
				t.Fatal("the first resubmission was not warned")
			}
			checkJournal(t, mem.Events())
		})
	}
}

// A consulted peer that calls tools instead of advising is refused and
// recorded (FM-1.2); nothing it called runs.
func TestConsultedPeerMayNotAct(t *testing.T) {
	g := noteGoal
	note := newRecorder(t, "note")
	m := model.NewScripted("m", turn(accept(g)),
		turn(call(agents.ToolConsult, agents.ConsultArgs{Agent: "expert", Question: "how brief is brief?"})),
		turn(withID("n1", call("note", map[string]string{"text": "brief"}))), turn(complete(g, "done", "n1")))
	expert := model.NewScripted("expert", turn(call("note", map[string]string{"text": "I wrote it for you"})))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "m", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "m", Role: "writes", Model: m, Tools: []agents.Tool{note.tool}}, Consults: []string{"expert"}},
		{Agent: &agents.Agent{Name: "expert", Role: "knows style", Model: expert, Tools: []agents.Tool{note.tool}}},
	}}, nil)
	out, err := rt.Run(t.Context(), g)
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("Run: %v %+v", err, out)
	}
	if note.runs.Load() != 1 {
		t.Fatalf("note ran %d times, want once (by m)", note.runs.Load())
	}
	var role []*orchestrator.Event
	for _, e := range ofType(mem.Events(), orchestrator.EventProtocolViolation) {
		if e.Violation == orchestrator.ViolationOutOfRole {
			role = append(role, e)
		}
	}
	if len(role) != 1 || role[0].Agent != "expert" || role[0].Tool != "note" {
		t.Fatalf("out_of_role violations %s", mustJSON(role))
	}
	if got := lastToolMessage(m.Requests()[2]); !strings.Contains(got, "tried to act") {
		t.Fatalf("the asker got %q", got)
	}
	checkJournal(t, mem.Events())
}

// A goal handed back up its own chain (lead → editor → lead) is refused and
// recorded (FM-1.2), though the team lets each delegate to the other.
func TestNoDelegationBackUpTheChain(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", append([]model.Turn{turn(accept(g)), turn(delegateTo("editor", g))}, giveUp(g)...)...)
	editor := model.NewScripted("editor", append([]model.Turn{turn(accept(g)), turn(delegateTo("lead", g))}, giveUp(g)...)...)
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"editor"}},
		{Agent: &agents.Agent{Name: "editor", Role: "edits", Model: editor}, DelegatesTo: []string{"lead"}, Supervision: structural},
	}}, nil)
	rt.Run(t.Context(), g) // the lead gives up
	if n := len(ofType(mem.Events(), orchestrator.EventGoalOffered)); n != 2 {
		t.Fatalf("%d goals offered, want 2 (none back to the lead)\n%s", n, types(mem.Events()))
	}
	var role []*orchestrator.Event
	for _, e := range ofType(mem.Events(), orchestrator.EventProtocolViolation) {
		if e.Violation == orchestrator.ViolationOutOfRole {
			role = append(role, e)
		}
	}
	if len(role) != 1 || role[0].Agent != "editor" || !strings.Contains(role[0].Reason, "editor ← lead") {
		t.Fatalf("out_of_role violations %s", mustJSON(role))
	}
	if got := lastToolMessage(editor.Requests()[2]); !strings.Contains(got, "not handed back up its chain") {
		t.Fatalf("the editor got %q", got)
	}
	checkJournal(t, mem.Events())
}

// notesPrincipal verifies the lead's report, keeping what the runtime noted.
type notesPrincipal struct {
	orchestrator.AutoPrincipal
	notes []string
}

func (p *notesPrincipal) VerifyReport(ctx context.Context, _ *agents.Goal, _ string, _ *agents.Report) (agents.Verification, error) {
	p.notes = orchestrator.VerifyNotes(ctx)
	return agents.Verification{Verdict: agents.VerdictAccept}, nil
}

// An action tool the accepted plan never named, when the plan names tools,
// runs but is recorded (FM-2.6) and shown to the verifier: the delegator's
// model, and the Principal at the root. A plan that names no tool is not
// held to any.
func TestToolsOffThePlan(t *testing.T) {
	g := noteGoal
	for _, tc := range []struct {
		name    string
		plan    string
		flagged bool
	}{
		{"the plan names note, draft is used too", "write it with note", true},
		{"the plan names both", "draft it with draft, then note it", false},
		{"the plan names no tool", "write it", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			note, draft := newRecorder(t, "note"), newRecorder(t, "draft")
			w := model.NewScripted("w", turn(accept(g, tc.plan)), turn(withID("x1", call("draft", map[string]string{"text": "a"}))),
				turn(withID("n1", call("note", map[string]string{"text": "b"}))), turn(complete(g, "done", "n1")))
			lead := model.NewScripted("lead", turn(accept(g, "delegate it")), turn(delegateTo("w", g)),
				turn(verdict(agents.VerdictAccept, "fine")), turn(complete(g, "done", "d2")))
			verified := orchestrator.Supervision{ModelVerify: true}
			p := &notesPrincipal{}
			rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
				{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w, Tools: []agents.Tool{note.tool, draft.tool}}, Supervision: &verified},
			}}, &orchestrator.Options{Principal: p})
			out, err := rt.Run(t.Context(), g)
			if err != nil || out.Status != orchestrator.StatusCompleted {
				t.Fatalf("Run: %v %s %s\n%s", err, out.Status, out.Reason, types(mem.Events()))
			}
			if draft.runs.Load() != 1 {
				t.Fatalf("draft ran %d times: an unplanned tool is noted, not refused", draft.runs.Load())
			}
			var off []*orchestrator.Event
			for _, e := range ofType(mem.Events(), orchestrator.EventProtocolViolation) {
				if e.Violation == orchestrator.ViolationUnplannedTool {
					off = append(off, e)
				}
			}
			shown := strings.Contains(firstUserOf(lead, agents.ToolVerifyReport), "never named")
			if !tc.flagged {
				if len(off) != 0 || shown {
					t.Fatalf("flagged: %s; shown %v", mustJSON(off), shown)
				}
				return
			}
			if len(off) != 1 || off[0].Tool != "draft" || off[0].CallID != "x1" || off[0].Delegation != "d2" {
				t.Fatalf("unplanned_tool violations %s", mustJSON(off))
			}
			if !shown {
				t.Fatalf("the verifier was not shown it:\n%s", firstUserOf(lead, agents.ToolVerifyReport))
			}
			checkJournal(t, mem.Events())
		})
	}
	// At the root, the Principal that verifies is shown the note.
	note, draft := newRecorder(t, "note"), newRecorder(t, "draft")
	m := model.NewScripted("m", turn(accept(g, "write it with note")), turn(withID("x1", call("draft", map[string]string{"text": "a"}))),
		turn(withID("n1", call("note", map[string]string{"text": "b"}))), turn(complete(g, "done", "n1")))
	p := &notesPrincipal{}
	rt, _ := newRuntime(t, solo(m, note.tool, draft.tool), &orchestrator.Options{Principal: p})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if len(p.notes) != 1 || !strings.Contains(p.notes[0], "draft") {
		t.Fatalf("the Principal was shown %q", p.notes)
	}
}

func ptr[T any](v T) *T { return &v }
