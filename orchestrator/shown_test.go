package orchestrator_test

import (
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
