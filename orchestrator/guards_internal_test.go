package orchestrator

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// These tests call the runtime's second locks directly, the way no scripted
// model can reach them while the first lock (the toolset offered) holds: a
// layer that only a defence in depth covers must still fail a test of its own.

// Invariants 1 and 2, second lock: gated refuses outside a delegation, before
// an aligned acceptance, after the end, and beyond the delegation's authority.
func TestInvariant1_GatedRefusesOutsideAnAlignedDelegation(t *testing.T) {
	var runs atomic.Int64
	mk := func(name string) agents.Tool {
		tool, err := agents.DefineTool(agents.ToolSpec{Name: name, Description: "records that it ran", Kind: agents.KindActs}, func(ctx context.Context, in struct {
			Text string `json:"text"`
		}) (agents.Result, error) {
			runs.Add(1)
			return agents.Result{Content: "ok"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tool
	}
	mem := &Memory{}
	rt, err := New(Team{Lead: "solo", Members: []Member{
		{Agent: &agents.Agent{Name: "solo", Role: "does", Model: model.NewScripted("m"), Tools: []agents.Tool{mk("note"), mk("write")}}},
	}}, &Options{Sinks: []Sink{mem}})
	if err != nil {
		t.Fatal(err)
	}
	m := rt.members["solo"]
	gatedTool := func(name string) agents.Tool {
		for _, g := range m.gated {
			if g.Def().Name == name {
				return g
			}
		}
		t.Fatalf("no gated %s", name)
		return nil
	}
	args := json.RawMessage(`{"text":"x"}`)
	cases := []struct {
		name      string
		noDeleg   bool
		state     int32
		effective []string
		tool      string
		refused   string // "" : the call must run
	}{
		{name: "outside any delegation", noDeleg: true, tool: "note", refused: "only inside a delegation"},
		{name: "before an aligned acceptance", state: stateOffered, effective: []string{"note", "write"}, tool: "note", refused: "before your acceptance"},
		{name: "after the delegation ended", state: stateDone, effective: []string{"note", "write"}, tool: "note", refused: "before your acceptance"},
		{name: "beyond the delegation's authority", state: stateWorking, effective: []string{"note"}, tool: "write", refused: "not granted"},
		{name: "aligned and granted", state: stateWorking, effective: []string{"note"}, tool: "note"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := runs.Load()
			ctx := t.Context()
			var d *delegation
			if !tc.noDeleg {
				r := rt.newRun("test")
				d = &delegation{run: r, rt: rt, id: "d1", m: m, goal: &agents.Goal{Objective: "x"}, effective: tc.effective, out: &Outcome{}}
				d.state.Store(tc.state)
				ctx = context.WithValue(ctx, ctxKey{}, d)
			}
			res := gatedTool(tc.tool).Call(ctx, args)
			ran := runs.Load() - before
			if tc.refused == "" {
				if res.IsError || ran != 1 {
					t.Fatalf("refused a granted call after alignment: %+v, ran %d", res, ran)
				}
				return
			}
			if !res.IsError || ran != 0 || !strings.Contains(res.Content, tc.refused) {
				t.Fatalf("result %+v, ran %d; want refused (%q) and not run", res, ran, tc.refused)
			}
			if d != nil && d.out.Violations != 1 {
				t.Fatalf("%d violations recorded, want 1", d.out.Violations)
			}
		})
	}
}

// Invariant 2, second lock: onDelegate itself refuses past the depth limit,
// even if the delegate tool were offered there.
func TestInvariant2_OnDelegateRefusesPastTheDepthLimit(t *testing.T) {
	worker := model.NewScripted("worker")
	mem := &Memory{}
	rt, err := New(Team{Lead: "lead", Members: []Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: model.NewScripted("lead")}, DelegatesTo: []string{"worker"}},
		{Agent: &agents.Agent{Name: "worker", Role: "works", Model: worker}},
	}}, &Options{Sinks: []Sink{mem}, Limits: Limits{MaxDepth: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r := rt.newRun("test")
	goal := &agents.Goal{Intent: "i", Objective: "o"}
	d := &delegation{run: r, rt: rt, id: "d1", m: rt.members["lead"], goal: goal, depth: 1, out: &Outcome{}}
	d.meter = r.carve(nil, agents.Budget{Steps: 10}, agents.Budget{})
	d.state.Store(stateWorking)
	res := d.onDelegate(context.WithValue(t.Context(), ctxKey{}, d), &agents.DelegateArgs{Agent: "worker", Intent: "i", Objective: "o"})
	if !res.IsError || !strings.Contains(res.Content, "depth limit") {
		t.Fatalf("result %+v, want refused at the depth limit", res)
	}
	if worker.Calls() != 0 {
		t.Fatalf("the worker was called %d times past the depth limit", worker.Calls())
	}
	var offered, exceeded int
	for _, e := range mem.Events() {
		switch {
		case e.Type == EventGoalOffered:
			offered++
		case e.Type == EventBudgetExceeded && e.Reason == "depth":
			exceeded++
		}
	}
	if offered != 0 || exceeded != 1 {
		t.Fatalf("%d goals offered, %d depth budget.exceeded events; want 0 and 1", offered, exceeded)
	}
}
