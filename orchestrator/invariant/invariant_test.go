package invariant_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

var goal = agents.Goal{Intent: "keep the team informed", Objective: "write a note", Criteria: []string{"a note is written"}}

// journal runs a lead that delegates to a writer, which escalates once and
// writes a note, and returns the run's events.
func journal(t *testing.T) []*orchestrator.Event {
	t.Helper()
	note, err := agents.NewTool("note", "writes a note", func(context.Context, struct {
		Text string `json:"text"`
	}) (string, error) {
		return "ok", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	note = protocoltest.Declared(note, agents.KindActs)
	turn := func(calls ...model.ToolCall) model.Turn { return model.Calls(calls...) }
	lead := model.NewScripted("lead", turn(protocoltest.Accept(goal)), turn(protocoltest.DelegateTo("writer", goal, "note")),
		turn(model.Call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "short"})),
		turn(protocoltest.Complete(goal, "done", "d2")))
	writer := model.NewScripted("writer", turn(protocoltest.Accept(goal)),
		turn(model.Call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "how long?"})),
		turn(protocoltest.WithID("n1", model.Call("note", map[string]string{"text": "hi"}))),
		turn(protocoltest.Complete(goal, "written", "n1")))
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "writes", Model: writer, Tools: []agents.Tool{note}}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{mem}, SupervisionFor: orchestrator.StructuralOnly})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(t.Context(), goal); err != nil {
		t.Fatalf("Run: %v\n%s", err, protocoltest.Trace(mem.Events()))
	}
	return mem.Events()
}

// clone deep-copies events through JSON, as a journal would hold them.
func clone(t *testing.T, events []*orchestrator.Event) []*orchestrator.Event {
	t.Helper()
	out := make([]*orchestrator.Event, len(events))
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = new(orchestrator.Event)
		if err := json.Unmarshal(b, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// renumber gives events seq 1, 2, 3… after an edit.
func renumber(events []*orchestrator.Event) []*orchestrator.Event {
	for i, e := range events {
		e.Seq = int64(i + 1)
	}
	return events
}

func find(events []*orchestrator.Event, typ orchestrator.EventType, delegation string) int {
	return slices.IndexFunc(events, func(e *orchestrator.Event) bool { return e.Type == typ && e.Delegation == delegation })
}

func TestARunKeepsEveryInvariant(t *testing.T) {
	events := journal(t)
	if bad := invariant.CheckJournal(events); len(bad) > 0 {
		t.Fatalf("violations in a clean run: %v\n%s", bad, protocoltest.Trace(events))
	}
	// As read back from a journal, too.
	if bad := invariant.CheckJournal(clone(t, events)); len(bad) > 0 {
		t.Fatalf("violations in the journal of a clean run: %v", bad)
	}
}

// Each check finds the breach of its invariant in an edited journal.
func TestEachCheckFindsItsBreach(t *testing.T) {
	cases := []struct {
		check string
		edit  func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event
	}{
		{invariant.AlignedBeforeAction, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// The writer's note, called before its acceptance was judged.
			i := find(ev, orchestrator.EventGoalAccepted, "d2")
			early := &orchestrator.Event{Run: ev[0].Run, Type: orchestrator.EventToolCalled, Delegation: "d2", Parent: "d1", Agent: "writer", Tool: "note", CallID: "x"}
			return renumber(slices.Insert(ev, i, early))
		}},
		{invariant.AuthorityNarrows, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			e := ev[find(ev, orchestrator.EventGoalOffered, "d2")]
			e.Tools = append(e.Tools, "shell")
			return ev
		}},
		{invariant.EscalationsResolved, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			i := slices.IndexFunc(ev, func(e *orchestrator.Event) bool { return e.Type == orchestrator.EventEscalationResolved })
			return renumber(slices.Delete(ev, i, i+1))
		}},
		{invariant.OneTerminal, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			i := find(ev, orchestrator.EventGoalCompleted, "d2")
			again := *ev[i]
			return renumber(slices.Insert(ev, i+1, &again))
		}},
		{invariant.BudgetsEnforced, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			ev[find(ev, orchestrator.EventGoalOffered, "d2")].Budget.Steps = 2 // the writer took 4 turns
			return ev
		}},
		{invariant.JournalComplete, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			i := find(ev, orchestrator.EventProgressReported, "d2")
			if i < 0 {
				i = find(ev, orchestrator.EventModelCalled, "d2")
			}
			return slices.Delete(ev, i, i+1) // a gap in seq
		}},
		{invariant.NoForgedActs, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// A second judgement of the same acceptance.
			i := find(ev, orchestrator.EventAlignmentJudged, "d2")
			again := *ev[i]
			return renumber(slices.Insert(ev, i+1, &again))
		}},
		{invariant.ContextWithinBudget, func(t *testing.T, ev []*orchestrator.Event) []*orchestrator.Event {
			// A compaction that could not fit, and the call made anyway.
			i := find(ev, orchestrator.EventModelCalled, "d2")
			c := &orchestrator.Event{Run: ev[0].Run, Type: orchestrator.EventContextCompacted, Delegation: "d2", Parent: "d1", Agent: "writer",
				Purpose: model.PurposeTurn, Compaction: &agents.Compaction{Budget: 100, Before: 300, After: 200}}
			return renumber(slices.Insert(ev, i, c))
		}},
	}
	if len(cases) != len(invariant.Checks()) {
		t.Fatalf("%d cases for %d checks", len(cases), len(invariant.Checks()))
	}
	clean := journal(t)
	for i, tc := range cases {
		if c := invariant.Checks()[i]; c.Name != tc.check || c.Invariant != i+1 {
			t.Fatalf("check %d is %s (invariant %d), want %s (invariant %d)", i, c.Name, c.Invariant, tc.check, i+1)
		}
		t.Run(tc.check, func(t *testing.T) {
			ev := tc.edit(t, clone(t, clean))
			bad := invariant.Run(tc.check, ev)
			if len(bad) == 0 {
				t.Fatalf("no breach found\n%s", protocoltest.Trace(ev))
			}
			for _, v := range bad {
				if v.Check != tc.check || v.Invariant != i+1 || v.Detail == "" {
					t.Errorf("violation %+v, want one of %s", v, tc.check)
				}
			}
			if all := invariant.CheckJournal(ev); !slices.ContainsFunc(all, func(v invariant.Violation) bool { return v.Check == tc.check }) {
				t.Errorf("CheckJournal misses it: %v", all)
			}
		})
	}
}

// An action tool the runtime refused inside the tool, before an aligned
// acceptance, did not run: it breaches nothing.
func TestRefusedCallIsNoBreach(t *testing.T) {
	ev := clone(t, journal(t))
	i := find(ev, orchestrator.EventGoalAccepted, "d2")
	run := ev[0].Run
	refused := []*orchestrator.Event{
		{Run: run, Type: orchestrator.EventToolCalled, Delegation: "d2", Parent: "d1", Agent: "writer", Tool: "note", CallID: "x"},
		{Run: run, Type: orchestrator.EventProtocolViolation, Delegation: "d2", Parent: "d1", Agent: "writer", Tool: "note", CallID: "x",
			Violation: orchestrator.ViolationBeforeAcceptance, Reason: "note called before an aligned acceptance"},
		{Run: run, Type: orchestrator.EventToolResult, Delegation: "d2", Parent: "d1", Agent: "writer", Tool: "note", CallID: "x", IsError: true},
	}
	ev = renumber(slices.Insert(ev, i, refused...))
	if bad := invariant.Run(invariant.AlignedBeforeAction, ev); len(bad) > 0 {
		t.Fatalf("a refused call counted as run: %v", bad)
	}
}

func TestEmptyJournal(t *testing.T) {
	if bad := invariant.CheckJournal(nil); len(bad) == 0 {
		t.Fatal("an empty journal keeps every invariant")
	}
}

// Every prefix of a clean run, as a crash leaves it, keeps every invariant
// it can already be held to; CheckJournal still owes it its ends, and a
// breach its events show is still found.
func TestCheckUnfinished(t *testing.T) {
	clean := journal(t)
	for n := 1; n < len(clean); n++ {
		if bad := invariant.CheckUnfinished(clean[:n]); len(bad) > 0 {
			t.Fatalf("the first %d events: %v", n, bad)
		}
		if bad := invariant.CheckJournal(clean[:n]); len(bad) == 0 {
			t.Fatalf("CheckJournal holds the first %d events to nothing", n)
		}
	}
	ev := clone(t, clean)
	i := find(ev, orchestrator.EventGoalCompleted, "d2")
	again := *ev[i]
	ev = renumber(slices.Insert(ev, i+1, &again))
	cut := ev[:i+2]
	if bad := invariant.CheckUnfinished(cut); !slices.ContainsFunc(bad, func(v invariant.Violation) bool { return v.Check == invariant.OneTerminal }) {
		t.Errorf("a second end in an unfinished run is not found: %v", bad)
	}
	if bad := invariant.CheckUnfinished(nil); len(bad) == 0 {
		t.Error("an empty journal keeps every invariant")
	}
}
