package orchestrator_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// defOf returns the definition of tool in the first request of m that
// offered it, as shown.
func defOf(t *testing.T, m *model.Scripted, tool string) string {
	t.Helper()
	for _, r := range m.Requests() {
		for _, d := range r.Tools {
			if d.Name == tool {
				return d.Description + " " + string(d.Parameters)
			}
		}
	}
	t.Fatalf("%s was never offered", tool)
	return ""
}

// A field is shown only where it applies: complete_goal's constraints when
// the goal has constraints, verify_report's accepted_breaches when the
// report breaks one. Either is validated all the same.
func TestDefinitionsShowWhatApplies(t *testing.T) {
	t.Run("complete_goal", func(t *testing.T) {
		free := noteGoal
		free.Constraints = nil
		for _, g := range []agents.Goal{noteGoal, free} {
			m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "done")))
			rt, _ := newRuntime(t, solo(m), nil)
			if out, err := rt.Run(t.Context(), g); err != nil || out.Status != orchestrator.StatusCompleted {
				t.Fatalf("%v %s %s", err, out.Status, out.Reason)
			}
			if got, want := strings.Contains(defOf(t, m, agents.ToolCompleteGoal), `"constraints"`), len(g.Constraints) > 0; got != want {
				t.Errorf("constraints %d: complete_goal shows its constraints: %v", len(g.Constraints), got)
			}
		}
	})
	t.Run("verify_report", func(t *testing.T) {
		for _, breach := range []bool{false, true} {
			note := withID("n1", call("note", map[string]string{"text": "a long note"}))
			report := complete(brief, "wrote the note", "n1")
			if breach {
				report = admits(false)
			}
			w := model.NewScripted("w", turn(accept(brief)), turn(note), turn(report), turn(report))
			yes := verdict(agents.VerdictAccept, "")
			lead := model.NewScripted("lead", turn(accept(brief)), turn(delegateTo("w", brief)), turn(yes), turn(yes),
				turn(complete(brief, "done", "d2")))
			rt, _ := newRuntime(t, breachTeam(t, lead, w, &orchestrator.Supervision{ModelVerify: true}), nil)
			rt.Run(t.Context(), brief) // how it ends is not the question here
			if got := strings.Contains(defOf(t, lead, agents.ToolVerifyReport), "accepted_breaches"); got != breach {
				t.Errorf("breach %v: verify_report shows accepted_breaches: %v", breach, got)
			}
		}
	})
}

// A report's entries are matched to the goal's criteria and constraints by
// position, so complete_goal does not show their restatement: a report that
// leaves the texts out has the goal's filled in, for the journal and for
// the delegator that verifies it; one with an entry too many is still sent
// back.
func TestReportEntriesByPosition(t *testing.T) {
	bare := agents.Report{Result: "wrote the note", Criteria: []agents.CriterionResult{{Met: true, Evidence: "n1 wrote it", Cites: []string{"n1"}}},
		Constraints: []agents.ConstraintResult{{Respected: true, Evidence: "short"}, {Respected: true, Evidence: "none named"}}}
	extra := bare
	extra.Criteria = append(slices.Clone(bare.Criteria), agents.CriterionResult{Met: true, Evidence: "and more"})
	note := withID("n1", call("note", map[string]string{"text": "a note"}))
	w := model.NewScripted("w", turn(accept(brief)), turn(note), turn(call(agents.ToolCompleteGoal, extra)), turn(call(agents.ToolCompleteGoal, bare)))
	yes := verdict(agents.VerdictAccept, "")
	lead := model.NewScripted("lead", turn(accept(brief)), turn(delegateTo("w", brief)), turn(yes), turn(complete(brief, "done", "d2")))
	rt, mem := newRuntime(t, breachTeam(t, lead, w, &orchestrator.Supervision{ModelVerify: true}), nil)
	out, err := rt.Run(t.Context(), brief)
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("%v %s %s", err, out.Status, out.Reason)
	}
	if def := defOf(t, w, agents.ToolCompleteGoal); strings.Contains(def, `"criterion"`) || strings.Contains(def, `"constraint"`) {
		t.Errorf("complete_goal shows the restatements: %s", def)
	}
	var reports []*agents.Report
	for _, e := range ofType(mem.Events(), orchestrator.EventGoalReported) {
		if e.Agent == "w" {
			reports = append(reports, e.Report)
		}
	}
	if len(reports) != 2 || out.Children[0].Revisions != 1 {
		t.Fatalf("%d reports, %d revisions: the report with an entry too many was not sent back", len(reports), out.Children[0].Revisions)
	}
	r := reports[1]
	if r.Criteria[0].Criterion != brief.Criteria[0] || r.Constraints[0].Constraint != brief.Constraints[0] || r.Constraints[1].Constraint != brief.Constraints[1] {
		t.Errorf("the goal's texts were not filled in: %s", mustJSON(r))
	}
	if reports[0].Criteria[1].Criterion != "" {
		t.Errorf("an entry past the goal's criteria was given a text: %s", mustJSON(reports[0]))
	}
	var asked string
	for _, req := range lead.Requests() {
		if offers := defOfReq(req, agents.ToolVerifyReport); offers {
			asked = req.Messages[len(req.Messages)-1].Content
		}
	}
	for _, want := range []string{"- a note is written: met", "- at most 200 words: respected", "- no names of customers: respected"} {
		if !strings.Contains(asked, want) {
			t.Errorf("the verify prompt lacks %q:\n%s", want, asked)
		}
	}
}

func defOfReq(req *model.Request, tool string) bool {
	return slices.ContainsFunc(req.Tools, func(d model.ToolDef) bool { return d.Name == tool })
}

// A delegate that labels a report's entry with other words than the goal's
// at its position cannot make its verifier judge another criterion: the
// delegator's verify prompt, and the Principal verifying at the root, read
// the goal's criteria and constraints, with a note naming each label that
// is not the goal's (a near copy — case, punctuation, a word — is not
// noted); the journal keeps the delegate's own words in its tool.called
// arguments.
func TestRelabelledEntriesJudgedAsTheGoals(t *testing.T) {
	relabelled := func(result, cite string) agents.Report {
		return agents.Report{Result: result,
			Criteria: []agents.CriterionResult{{Criterion: "the code compiles", Met: true, Evidence: cite + " wrote it", Cites: []string{cite}}},
			Constraints: []agents.ConstraintResult{{Constraint: "At most 200 words.", Respected: true, Evidence: "short"},
				{Constraint: "names of customers are fine", Respected: true, Evidence: "none named"}}}
	}
	note := withID("n1", call("note", map[string]string{"text": "a note"}))
	w := model.NewScripted("w", turn(accept(brief)), turn(note), turn(call(agents.ToolCompleteGoal, relabelled("wrote the note", "n1"))))
	lead := model.NewScripted("lead", turn(accept(brief)), turn(delegateTo("w", brief)), turn(verdict(agents.VerdictAccept, "")),
		turn(call(agents.ToolCompleteGoal, relabelled("done", "d2"))))
	p := &reportPrincipal{}
	rt, mem := newRuntime(t, breachTeam(t, lead, w, &orchestrator.Supervision{ModelVerify: true}), &orchestrator.Options{Principal: p})
	out, err := rt.Run(t.Context(), brief)
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("%v %s %s", err, out.Status, out.Reason)
	}
	criterion := `the delegate labelled criterion 1 "the code compiles"; the goal's criterion 1 is "a note is written"`
	constraint := `the delegate labelled constraint 2 "names of customers are fine"; the goal's constraint 2 is "no names of customers"`
	asked := firstUserOf(lead, agents.ToolVerifyReport)
	for _, want := range []string{"- a note is written: met", "- at most 200 words: respected", "- no names of customers: respected", criterion, constraint} {
		if !strings.Contains(asked, want) {
			t.Errorf("the verify prompt lacks %q:\n%s", want, asked)
		}
	}
	for _, not := range []string{"- the code compiles", "- names of customers are fine", "At most 200 words."} {
		if strings.Contains(asked, not) {
			t.Errorf("the verify prompt shows the delegate's label %q:\n%s", not, asked)
		}
	}
	if len(p.notes) != 2 || !strings.HasPrefix(p.notes[0], criterion) || !strings.HasPrefix(p.notes[1], constraint) {
		t.Errorf("the Principal was noted %q", p.notes)
	}
	if p.report == nil || p.report.Criteria[0].Criterion != brief.Criteria[0] || p.report.Constraints[1].Constraint != brief.Constraints[1] {
		t.Errorf("the Principal verified the delegate's labels: %s", mustJSON(p.report))
	}
	for _, e := range ofType(mem.Events(), orchestrator.EventGoalReported) {
		if e.Report.Criteria[0].Criterion != brief.Criteria[0] || e.Report.Constraints[0].Constraint != brief.Constraints[0] ||
			e.Report.Constraints[1].Constraint != brief.Constraints[1] {
			t.Errorf("goal.reported carries a label that is not the goal's: %s", mustJSON(e.Report))
		}
	}
	var kept int
	for _, e := range ofType(mem.Events(), orchestrator.EventToolCalled) {
		if e.Tool == agents.ToolCompleteGoal && strings.Contains(string(e.Arguments), `"the code compiles"`) {
			kept++
		}
	}
	if kept != 2 {
		t.Errorf("%d tool.called arguments keep the delegate's own label, want 2", kept)
	}
}

// reportPrincipal verifies the lead's report, keeping it and what the
// runtime noted.
type reportPrincipal struct {
	orchestrator.AutoPrincipal
	report *agents.Report
	notes  []string
}

func (p *reportPrincipal) VerifyReport(ctx context.Context, _ *agents.Goal, _ string, r *agents.Report) (agents.Verification, error) {
	p.report, p.notes = r, orchestrator.VerifyNotes(ctx)
	return agents.Verification{Verdict: agents.VerdictAccept}, nil
}
