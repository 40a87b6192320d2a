package temporal_test

import (
	"slices"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
)

// personaTeam is a lead delegating to a writer that plays persona, with a
// workspace in dir.
func personaTeam(t *testing.T, dir string, persona sim.Persona) orchestrator.Team {
	t.Helper()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var lead *sim.Options
	if persona == sim.YesMan {
		lead = &sim.Options{Persona: sim.YesMan}
	}
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Leads the team and delegates the writing.", Model: sim.New("lead", lead)},
			DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "Writes guides and notes for contributors.",
			Model: sim.New("writer", &sim.Options{Persona: persona}), Tools: ws.Tools()}},
	}}
}

// TestPersonasAsInProcess runs the table of the simulator's personas — the
// ways of getting the protocol wrong — in process and on Temporal: each ends
// the same way, with the same events, and the Temporal journal keeps every
// invariant.
func TestPersonasAsInProcess(t *testing.T) {
	ts, queue := newServer(t)
	personas := []sim.Persona{sim.Default, sim.Eager, sim.YesMan, sim.Drifter, sim.Silent, sim.OverAsker, sim.Looper,
		sim.Malformed, sim.Hallucinator, sim.Quitter, sim.Withholder, sim.Prose}
	for _, p := range personas {
		name := string(p)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mem := &orchestrator.Memory{}
			rt, err := orchestrator.New(personaTeam(t, t.TempDir(), p), &orchestrator.Options{Sinks: []orchestrator.Sink{mem}})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := rt.Run(t.Context(), guideGoal())

			queue := queue + "-" + name
			startWorker(t, ts, queue, &entrusttemporal.Worker{Team: personaTeam(t, t.TempDir(), p)})
			r, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: queue})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := r.Wait(t.Context())
			if got == nil || got.Status != want.Status || got.Cause != want.Cause {
				t.Fatalf("on Temporal %+v; in process %s %s", got, want.Status, want.Cause)
			}
			events, err := r.Events(t.Context(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if w, g := types(mem.Events()), types(events); !slices.Equal(w, g) {
				t.Errorf("event types differ:\nin process %v\non Temporal %v", w, g)
			}
			protocoltest.CheckJournal(t, events)
		})
	}
}
