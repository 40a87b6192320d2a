package orchestrator_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// bareGoal has nothing a report must cite evidence for.
var bareGoal = agents.Goal{Intent: "keep the team informed", Objective: "say hello", Constraints: []string{"be brief"}}

// An action tool's Result.Stop does not end a delegation: only the runtime's
// protocol acts do.
func TestActionToolCannotEndDelegation(t *testing.T) {
	g := bareGoal
	stopper, err := agents.DefineTool(agents.ToolSpec{Name: "stopper", Description: "tries to end the loop"},
		func(context.Context, struct{}) (agents.Result, error) {
			return agents.Result{Content: "stopping", Stop: true}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	m := model.NewScripted("m", turn(accept(g)), turn(call("stopper", nil)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, solo(m, stopper), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if out.Status != orchestrator.StatusCompleted || m.Calls() != 3 {
		t.Fatalf("status %s after %d turns, want completed after 3: the action tool ended the loop\n%s", out.Status, m.Calls(), types(mem.Events()))
	}
}

// The runtime describes each request in its Metadata, and tool messages say
// whether the call failed.
func TestRequestMetadataAndToolErrors(t *testing.T) {
	g := noteGoal
	rec := newRecorder(t, "note")
	m := model.NewScripted("m", turn(call("nope", nil)), turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "x"}))), turn(complete(g, "done", "n1")))
	rt, mem := newRuntime(t, solo(m, rec.tool), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	reqs := m.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	wantPhase := []model.Phase{model.PhaseOffered, model.PhaseOffered, model.PhaseWorking, model.PhaseWorking}
	for i, r := range reqs {
		md := r.Metadata
		if md == nil {
			t.Fatalf("request %d has no metadata", i)
		}
		if md.Purpose != model.PurposeTurn || md.Phase != wantPhase[i] || md.Agent != "solo" || md.Delegation != "d1" {
			t.Errorf("request %d: metadata %+v, want a turn of solo in d1, phase %s", i, md, wantPhase[i])
		}
		if !slices.Equal(md.Criteria, g.Criteria) || !slices.Equal(md.Constraints, g.Constraints) || md.Objective != g.Objective {
			t.Errorf("request %d: metadata %+v does not describe the goal", i, md)
		}
	}
	// The unknown tool's refusal, then the acceptance's aligned answer.
	last := func(r *model.Request) model.Message { return r.Messages[len(r.Messages)-1] }
	if msg := last(reqs[1]); msg.Role != model.RoleTool || !msg.IsError {
		t.Errorf("the refusal reached the model as %+v, want a tool message with IsError", msg)
	}
	if msg := last(reqs[2]); msg.Role != model.RoleTool || msg.IsError {
		t.Errorf("the aligned acceptance reached the model as %+v, want a tool message without IsError", msg)
	}
	vs := ofType(mem.Events(), orchestrator.EventProtocolViolation)
	if len(vs) != 1 || vs[0].Violation != orchestrator.ViolationUnknownTool {
		t.Fatalf("violations %s, want one of kind %s", types(vs), orchestrator.ViolationUnknownTool)
	}
}

// Each kind of protocol violation is named on its event.
func TestViolationKinds(t *testing.T) {
	g := bareGoal
	note := call("note", map[string]string{"text": "x"})
	cases := []struct {
		name  string
		turns []model.Turn
		want  orchestrator.ViolationKind
	}{
		{"unknown tool", []model.Turn{turn(call("nope", nil)), turn(accept(g)), turn(complete(g, "done"))}, orchestrator.ViolationUnknownTool},
		{"action before acceptance", []model.Turn{turn(note), turn(accept(g)), turn(complete(g, "done"))}, orchestrator.ViolationNotAllowed},
		{"protocol tool out of phase", []model.Turn{turn(complete(g, "done")), turn(accept(g)), turn(complete(g, "done"))}, orchestrator.ViolationNotAllowed},
		{"prose", []model.Turn{model.Text("I accept."), turn(accept(g)), turn(complete(g, "done"))}, orchestrator.ViolationProse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, "note")
			rt, mem := newRuntime(t, solo(model.NewScripted("m", tc.turns...), rec.tool), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
			if _, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
			}
			vs := ofType(mem.Events(), orchestrator.EventProtocolViolation)
			if len(vs) != 1 || vs[0].Violation != tc.want {
				t.Fatalf("violations %+v, want one of kind %s", vs, tc.want)
			}
		})
	}

	t.Run("delegator failed", func(t *testing.T) {
		lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("worker", g)),
			model.Turn{Err: errors.New("provider down")}, // the answer to the escalation fails
			turn(complete(g, "done")))
		worker := model.NewScripted("worker", turn(accept(g)),
			turn(call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "which?", Recommendation: "the first"})),
			turn(complete(g, "done")))
		rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"worker"}},
			{Agent: &agents.Agent{Name: "worker", Role: "writes", Model: worker}},
		}}, &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
		}
		vs := ofType(mem.Events(), orchestrator.EventProtocolViolation)
		if len(vs) != 1 || vs[0].Violation != orchestrator.ViolationDelegatorFailed || vs[0].Purpose != model.PurposeAnswer {
			t.Fatalf("violations %s, want one delegator_failed of purpose answer", types(vs))
		}
	})
}

// Sinks get the context of the act; run.started records the caller's trace.
func TestSinkContextAndTraceparent(t *testing.T) {
	type key struct{}
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var missing []orchestrator.EventType
	sink := orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
		if ctx.Value(key{}) != "caller" {
			missing = append(missing, e.Type)
		}
		return nil
	})
	g := bareGoal
	m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Sinks: []orchestrator.Sink{sink},
		Traceparent: func(ctx context.Context) string {
			if ctx.Value(key{}) == "caller" {
				return tp
			}
			return ""
		}})
	if _, err := rt.Run(context.WithValue(t.Context(), key{}, "caller"), g); err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("events emitted without the caller's context: %v", missing)
	}
	if got := mem.Events()[0].Traceparent; got != tp {
		t.Errorf("run.started's traceparent %q, want %q", got, tp)
	}
}
