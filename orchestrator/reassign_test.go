package orchestrator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// twoWriters is a lead that may delegate to a and b, both supervised
// structurally.
func twoWriters(lead, a, b model.Model, tools ...agents.Tool) orchestrator.Team {
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"a", "b"}},
		{Agent: &agents.Agent{Name: "a", Role: "writes", Model: a, Tools: tools}, Supervision: structural},
		{Agent: &agents.Agent{Name: "b", Role: "writes", Model: b, Tools: tools}, Supervision: structural},
	}}
}

// A sub-goal the Supervisor halts is final: it is not handed to the next
// agent with a fresh budget, and the delegator's own attempt to delegate it
// again unchanged is refused. Only a changed goal may go out again, and only
// because the delegator's model chose it.
func TestHaltedSubGoalIsNotReassigned(t *testing.T) {
	g := agents.Goal{Intent: "keep the service up", Objective: "restart the service", Criteria: []string{"the service runs"},
		Constraints: []string{"NEVER touch prod"}}
	changed := g
	changed.Objective = "restart the service on staging only"
	rec := newRecorder(t, "deploy")
	a := model.NewScripted("a", turn(accept(g)), turn(call(agents.ToolReportProgress, agents.ProgressReport{Summary: "about to deploy to prod"})))
	b := model.NewScripted("b", turn(accept(changed)), turn(withID("x1", call("deploy", map[string]string{"text": "staging"}))),
		turn(complete(changed, "restarted on staging", "x1")))
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("a", g)),
		turn(delegateTo("b", g)), // the same sub-goal to another agent: refused
		turn(delegateTo("b", changed)),
		turn(complete(g, "restarted on staging", "d3")))
	halts := 0
	rt, mem := newRuntime(t, twoWriters(lead, a, b, rec.tool), &orchestrator.Options{Limits: orchestrator.Limits{MaxReassign: 3},
		Supervisor: func(_ context.Context, p orchestrator.ProgressInfo) orchestrator.Intervention {
			if strings.Contains(p.Progress.Summary, "prod") {
				halts++
				return orchestrator.Intervention{Action: orchestrator.ActionHalt, Reason: "NEVER touch prod"}
			}
			return orchestrator.Intervention{Action: orchestrator.ActionContinue}
		}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if n := len(ofType(mem.Events(), orchestrator.EventGoalReassigned)); n != 0 || halts != 1 {
		t.Fatalf("%d reassignments, %d halts\n%s", n, halts, types(mem.Events()))
	}
	offered := ofType(mem.Events(), orchestrator.EventGoalOffered)
	if len(offered) != 3 || offered[2].Agent != "b" || offered[2].Goal.Objective != changed.Objective {
		t.Fatalf("offers: %s", mustJSON(offered))
	}
	reqs := lead.Requests()
	if got := lastToolMessage(reqs[2]); !strings.Contains(got, "halted") || !strings.Contains(got, "final") {
		t.Errorf("the lead was told %q after the halt", got)
	}
	if got := lastToolMessage(reqs[3]); !strings.Contains(got, "refused: a supervisor halted this sub-goal") {
		t.Errorf("the unchanged sub-goal was not refused: %q", got)
	}
	if len(out.Children) != 2 || out.Children[0].Cause != orchestrator.CauseHalted || out.Children[1].Status != orchestrator.StatusCompleted {
		t.Fatalf("children: %s", mustJSON(out.Children))
	}
	checkJournal(t, mem.Events())
}

// After a failure that is not a decline, nothing is reassigned, whatever
// MaxReassign allows: the delegator's model hears what happened and decides.
func TestFailureIsNotReassigned(t *testing.T) {
	g := noteGoal
	a := model.NewScripted("a", model.Text("hmm"), model.Text("hmm"), model.Text("hmm"))
	b := model.NewScripted("b")
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("a", g)),
		turn(call(agents.ToolCompleteGoal, agents.Report{Result: "not done", Criteria: []agents.CriterionResult{{Criterion: "x", Met: false}}})),
		turn(call(agents.ToolCompleteGoal, agents.Report{Result: "still not", Criteria: []agents.CriterionResult{{Criterion: "x", Met: false}}})),
		turn(call(agents.ToolCompleteGoal, agents.Report{Result: "no", Criteria: []agents.CriterionResult{{Criterion: "x", Met: false}}})))
	rt, mem := newRuntime(t, twoWriters(lead, a, b), &orchestrator.Options{Limits: orchestrator.Limits{MaxReassign: 3}})
	out, _ := rt.Run(t.Context(), g)
	if b.Calls() != 0 || len(ofType(mem.Events(), orchestrator.EventGoalReassigned)) != 0 {
		t.Fatalf("a failed goal was reassigned\n%s", types(mem.Events()))
	}
	if got := lastToolMessage(lead.Requests()[2]); !strings.Contains(got, "not reassigned") || !strings.Contains(got, "Decide") {
		t.Errorf("the lead was told %q", got)
	}
	if out.Status != orchestrator.StatusFailed {
		t.Fatalf("status %s", out.Status)
	}
}

// A reassigned attempt draws on what is left of the original grant; with no
// MaxReassign there is no reassignment, and a negative one is refused.
func TestReassignmentBudget(t *testing.T) {
	g := noteGoal
	decline := turn(call(agents.ToolDeclineGoal, agents.Decline{Reason: "not mine", SuggestedAgent: "b"}))
	t.Run("draws on the original grant", func(t *testing.T) {
		a := model.NewScripted("a", decline)
		b := model.NewScripted("b", turn(accept(g)), turn(complete(g, "done")))
		lead := model.NewScripted("lead", turn(accept(g)),
			turn(call(agents.ToolDelegate, agents.DelegateArgs{Agent: "a", Intent: g.Intent, Objective: g.Objective, Criteria: g.Criteria,
				Constraints: g.Constraints, Budget: &agents.Budget{Steps: 5}})),
			turn(complete(g, "done", "d3")))
		rt, mem := newRuntime(t, twoWriters(lead, a, b), &orchestrator.Options{Limits: orchestrator.Limits{MaxReassign: 1}})
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
		}
		offered := ofType(mem.Events(), orchestrator.EventGoalOffered)
		if len(offered) != 3 || offered[1].Budget.Steps != 5 || offered[2].Budget.Steps != 4 || offered[2].ReassignedFrom != "d2" {
			t.Fatalf("budgets: %s", mustJSON(offered))
		}
	})
	t.Run("zero means none", func(t *testing.T) {
		a := model.NewScripted("a", decline)
		b := model.NewScripted("b")
		lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("a", g)), model.Text("..."), model.Text("..."), model.Text("..."))
		rt, mem := newRuntime(t, twoWriters(lead, a, b), nil)
		rt.Run(t.Context(), g)
		if b.Calls() != 0 || len(ofType(mem.Events(), orchestrator.EventGoalReassigned)) != 0 {
			t.Fatalf("reassigned with MaxReassign 0\n%s", types(mem.Events()))
		}
	})
	t.Run("negative is an error", func(t *testing.T) {
		_, err := orchestrator.New(solo(model.NewScripted("m")), &orchestrator.Options{Limits: orchestrator.Limits{MaxReassign: -1}})
		if err == nil || !strings.Contains(err.Error(), "MaxReassign") {
			t.Fatalf("err = %v", err)
		}
	})
}
