package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
)

// These tests run the simulator under the real runtime: the command line's
// offline default must complete goals end to end, and each persona must be
// caught (or tolerated) the way evals expect.

// team is a lead without tools that delegates to a writer with a workspace,
// both simulators; the writer plays persona.
func team(t *testing.T, persona sim.Persona) (orchestrator.Team, string) {
	t.Helper()
	dir := t.TempDir()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var leadOpts *sim.Options
	if persona == sim.YesMan {
		leadOpts = &sim.Options{Persona: sim.YesMan} // the default lead would decline what is impossible
	}
	lead := &agents.Agent{Name: "lead", Role: "Leads the team and delegates the writing.", Model: sim.New("lead", leadOpts)}
	writer := &agents.Agent{Name: "writer", Role: "Writes guides and notes for contributors.",
		Model: sim.New("writer", &sim.Options{Persona: persona}), Tools: ws.Tools()}
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: lead, DelegatesTo: []string{"writer"}},
		{Agent: writer},
	}}, dir
}

func guideGoal() agents.Goal {
	g := sampleGoal()
	g.Tools = nil // the team's grants: all of it
	return g
}

func TestRuntimeSingleAgent(t *testing.T) {
	dir := t.TempDir()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	a := &agents.Agent{Name: "writer", Role: "Writes notes.", Model: sim.New("writer", nil), Tools: ws.Tools()}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "writer", Members: []orchestrator.Member{{Agent: a}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rt.Run(t.Context(), guideGoal())
	if err != nil {
		t.Fatalf("run: %v (%s)", err, out.Reason)
	}
	b, err := os.ReadFile(filepath.Join(dir, "write-an-onboarding-guide-for-the-repository.md"))
	if err != nil || !strings.Contains(string(b), "The guide lists who to ask for help") {
		t.Errorf("note: %q, %v", b, err)
	}
}

func TestRuntimePersonas(t *testing.T) {
	cases := []struct {
		persona sim.Persona
		goal    func() agents.Goal
		// writer is the writer's delegation status and reason; lead the
		// lead's, when it differs.
		writer, lead orchestrator.Status
		reason       string
	}{
		{persona: sim.Default, writer: orchestrator.StatusCompleted},
		{persona: sim.Eager, writer: orchestrator.StatusCompleted},
		{persona: sim.YesMan, writer: orchestrator.StatusCompleted, goal: func() agents.Goal {
			g := guideGoal()
			g.Constraints = append(g.Constraints, "Finish it yesterday, which is impossible")
			return g
		}},
		{persona: sim.Drifter, writer: orchestrator.StatusCompleted},
		{persona: sim.Silent, writer: orchestrator.StatusCompleted},
		{persona: sim.OverAsker, writer: orchestrator.StatusCompleted},
		{persona: sim.Looper, writer: orchestrator.StatusFailed, reason: "stalled"},
		{persona: sim.Malformed, writer: orchestrator.StatusCompleted},
		{persona: sim.Hallucinator, writer: orchestrator.StatusCompleted},
		// The quitter's report cites nothing the runtime can check: it is
		// sent back until the writer fails, and the lead, with nothing
		// completed under it, cannot claim success either.
		{persona: sim.Quitter, writer: orchestrator.StatusFailed, lead: orchestrator.StatusFailed},
		{persona: sim.Withholder, writer: orchestrator.StatusFailed, reason: "1 criteria reported, the goal has 2"},
		{persona: sim.Prose, writer: orchestrator.StatusFailed, reason: "prose"},
	}
	for _, tc := range cases {
		t.Run(string(tc.persona)+"_", func(t *testing.T) {
			tm, dir := team(t, tc.persona)
			rt, err := orchestrator.New(tm, nil)
			if err != nil {
				t.Fatal(err)
			}
			g := guideGoal()
			if tc.goal != nil {
				g = tc.goal()
			}
			// The quitter is caught by a programmatic verifier: the file
			// must exist.
			note := filepath.Join(dir, "write-an-onboarding-guide-for-the-repository.md")
			verifier := func(*agents.Goal, *agents.Report) ([]string, error) {
				if _, err := os.Stat(note); err != nil {
					return []string{"no note was written"}, nil
				}
				return nil, nil
			}
			g.Verifiers = []agents.Verifier{verifier}
			out, _ := rt.Run(t.Context(), g)
			if len(out.Children) == 0 {
				t.Fatalf("the lead did not delegate: %s %s", out.Status, out.Reason)
			}
			w := out.Children[0]
			if w.Status != tc.writer || !strings.Contains(w.Reason, tc.reason) {
				t.Errorf("writer %s (%s), want %s (%s)", w.Status, w.Reason, tc.writer, tc.reason)
			}
			if tc.persona == sim.Eager && w.Violations == 0 {
				t.Error("the eager writer's early call was not a violation")
			}
			if tc.persona == sim.Drifter && w.AlignmentRounds != 2 {
				t.Errorf("drifter aligned in %d rounds", w.AlignmentRounds)
			}
			if tc.persona == sim.Quitter && (w.Verification == nil || !strings.Contains(w.Verification.Feedback, "unsupported")) {
				t.Errorf("the quitter's report was not found unsupported: %+v", w.Verification)
			}
			if tc.persona == sim.Hallucinator && w.Revisions != 1 {
				t.Errorf("the hallucinator's false citation was not sent back once: %d revisions", w.Revisions)
			}
			if tc.persona == sim.OverAsker && len(w.Escalations) < 2 {
				t.Errorf("over-asker escalated %d times", len(w.Escalations))
			}
			// A lead whose writer failed cannot claim the criteria met: its
			// honest reports are sent back, then rejected.
			lead := tc.lead
			if lead == "" {
				lead = tc.writer
			}
			if out.Status != lead {
				t.Errorf("lead %s (%s), want %s", out.Status, out.Reason, lead)
			}
		})
	}
}
