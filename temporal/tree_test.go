package temporal_test

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// threeLevels is a lead that delegates to an editor that delegates to a
// writer with a workspace in dir, all simulators.
func threeLevels(t *testing.T, dir string) orchestrator.Team {
	t.Helper()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Leads the team and delegates the guide.", Model: sim.New("lead", nil)},
			DelegatesTo: []string{"editor"}},
		{Agent: &agents.Agent{Name: "editor", Role: "Edits guides and delegates their writing.", Model: sim.New("editor", nil)},
			DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "Writes guides and notes for contributors.", Model: sim.New("writer", nil),
			Tools: ws.Tools()}},
	}}
}

// TestWorkflowTreeIsTheDelegationTree runs a lead → editor → writer run:
// every delegation below the lead's is a workflow of its own, a child of its
// delegator's (the run's workflow for the lead's), completed when it ended,
// and the effects of a delegation are scheduled by its own workflow.
func TestWorkflowTreeIsTheDelegationTree(t *testing.T) {
	ts, q := newServer(t)
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: threeLevels(t, t.TempDir())})
	c := ts.GetDefaultClient()
	r, err := entrusttemporal.Start(t.Context(), c, guideGoal(), entrusttemporal.StartOptions{TaskQueue: q})
	if err != nil {
		t.Fatal(err)
	}
	events := completed(t, r)

	// The delegation tree, from the journal.
	parent := map[string]string{}
	agent := map[string]string{}
	var lead string
	for _, e := range protocoltest.OfType(events, orchestrator.EventGoalOffered) {
		parent[e.Delegation], agent[e.Delegation] = e.Parent, e.Agent
		if e.Parent == "" {
			lead = e.Delegation
		}
	}
	if len(parent) != 3 {
		t.Fatalf("want 3 delegations (lead, editor, writer): %s", protocoltest.Trace(events))
	}
	workflowOf := func(d string) string {
		if d == lead {
			return r.ID()
		}
		return entrusttemporal.DelegationWorkflowID(r.ID(), d)
	}
	if _, err := c.DescribeWorkflowExecution(t.Context(), entrusttemporal.DelegationWorkflowID(r.ID(), lead), ""); !isNotFound(err) {
		t.Errorf("the lead's delegation has a workflow of its own (%v): the run's workflow holds it", err)
	}
	for d, p := range parent {
		if d == lead {
			continue
		}
		desc, err := c.DescribeWorkflowExecution(t.Context(), workflowOf(d), "")
		if err != nil {
			t.Errorf("%s (%s): %v", d, agent[d], err)
			continue
		}
		info := desc.GetWorkflowExecutionInfo()
		if got := info.GetParentExecution().GetWorkflowId(); got != workflowOf(p) {
			t.Errorf("%s (%s) is a child of %q, want %q", d, agent[d], got, workflowOf(p))
		}
		if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED || info.GetType().GetName() != entrusttemporal.DelegationWorkflowName {
			t.Errorf("%s (%s): %s %s", d, agent[d], info.GetType().GetName(), info.GetStatus())
		}
	}
	// EventsQuery answers for one workflow of the tree: its delegation's
	// events. Each event of the journal is in exactly one workflow, and
	// the workflows' answers merged by seq are the journal (Run.Events).
	var merged []*orchestrator.Event
	for d := range parent {
		v, err := c.QueryWorkflow(t.Context(), workflowOf(d), "", entrusttemporal.EventsQuery, 0)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		var got []*orchestrator.Event
		if err := v.Get(&got); err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.Delegation != d && (e.Delegation != "" || d != lead) && e.Type != orchestrator.EventGoalReassigned {
				t.Errorf("%s's workflow holds %s of %s", d, e.Type, e.Delegation)
			}
		}
		merged = append(merged, got...)
	}
	slices.SortFunc(merged, func(a, b *orchestrator.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	if w, g := protocoltest.Trace(events), protocoltest.Trace(merged); w != g {
		t.Errorf("the workflows' events merged are not the journal:\n%s\n---\n%s", g, w)
	}
	// Each delegation's calls are activities of its own workflow.
	for d := range parent {
		calls := activities(t, c, workflowOf(d))
		want := map[string]int{}
		for _, e := range events {
			switch {
			case e.Delegation == d && e.Type == orchestrator.EventModelCalled:
				want[entrusttemporal.GenerateActivity]++
			case e.Delegation == d && e.Type == orchestrator.EventToolResult && !agents.IsProtocolTool(e.Tool):
				want[entrusttemporal.CallToolActivity]++
			}
		}
		for _, a := range []string{entrusttemporal.GenerateActivity, entrusttemporal.CallToolActivity} {
			if calls[a] != want[a] {
				t.Errorf("%s (%s): %d %s activities in its workflow, %d in the journal", d, agent[d], calls[a], a, want[a])
			}
		}
	}
}

// activities counts the activities scheduled by workflow id, by type.
func activities(t *testing.T, c client.Client, id string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out := map[string]int{}
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			out[a.GetActivityType().GetName()]++
		}
	}
	return out
}

func isNotFound(err error) bool {
	_, ok := err.(*serviceerror.NotFound)
	return ok
}

// completed waits for r to complete and returns its journal, checked.
func completed(t *testing.T, r *entrusttemporal.Run) []*orchestrator.Event {
	t.Helper()
	out, err := r.Wait(t.Context())
	if err != nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	events, err := r.Events(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	protocoltest.CheckJournal(t, events)
	return events
}

// TestCancelReachesTheDelegations cancels a run while the writer's model
// call hangs: the cancellation reaches the writer's delegation's workflow
// (a child of the run's), the run ends cancelled with its last events in
// the journal, and the writer's workflow is ended with them.
func TestCancelReachesTheDelegations(t *testing.T) {
	ts, q := newServer(t)
	team := leadWriter(t, t.TempDir(), &counts{})
	started := make(chan struct{}, 1)
	writer := *team.Members[1].Agent
	writer.Model = model.ScriptFunc("writer", func(ctx context.Context, req *model.Request) (*model.Response, error) {
		started <- struct{}{}
		<-ctx.Done() // a model call that never answers
		return nil, ctx.Err()
	})
	team.Members[1].Agent = &writer
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: team})
	c := ts.GetDefaultClient()
	r, err := entrusttemporal.Start(t.Context(), c, guideGoal(), entrusttemporal.StartOptions{TaskQueue: q, Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	events := cancelOnceStarted(t, r, started)
	var writerD string
	for _, e := range protocoltest.OfType(events, orchestrator.EventGoalOffered) {
		if e.Agent == "writer" {
			writerD = e.Delegation
		}
	}
	id := entrusttemporal.DelegationWorkflowID(r.ID(), writerD)
	desc, err := c.DescribeWorkflowExecution(t.Context(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("the writer's workflow is %s, want ended by the run", s)
	}
	cancelled := false
	it := c.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		cancelled = cancelled || e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
	}
	if !cancelled {
		t.Error("the run's cancellation did not reach the writer's workflow")
	}
}
