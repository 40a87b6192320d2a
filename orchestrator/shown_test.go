package orchestrator_test

import (
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
