package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/server/temporaltest"
)

// TestBreachAskedAtTheTerminal: a constraint the lead's report admits
// broken is asked about at the client's terminal, as run asks it; accepted
// with a reason the goal completes with the breach recorded, refused it
// fails.
func TestBreachAskedAtTheTerminal(t *testing.T) {
	goal := agents.Goal{Objective: "write a note", Constraints: []string{"at most 200 words"}}
	report := agents.Report{Result: "wrote a long note", Criteria: []agents.CriterionResult{},
		Constraints: []agents.ConstraintResult{{Constraint: "at most 200 words", Respected: false, Evidence: "it runs to 450 words"}}}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	for _, tc := range []struct {
		name, input string
		code        int
		accepted    bool
	}{
		{"accepted", "y\ny\nthe detail is worth it\n", exitOK, true},
		{"refused", "y\nn\n", exitFailed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lead := model.NewScripted("lead", model.Calls(protocoltest.Accept(goal)), model.Calls(model.Call(agents.ToolCompleteGoal, report)))
			w := &entrusttemporal.Worker{Team: orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "writes notes", Model: lead}}}}}
			ts.NewWorker(tc.name, w.Register)
			journal := filepath.Join(t.TempDir(), "run.jsonl")
			var out, errOut bytes.Buffer
			code := run([]string{"run", "--address", ts.GetFrontendHostPort(), "--namespace", ts.GetDefaultNamespace(), "--task-queue", tc.name,
				"--team", writeTeam(t), "--trust", "", "--escalations", "terminal", "--journal", journal,
				"--constraint", goal.Constraints[0], goal.Objective}, strings.NewReader(tc.input), &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out.String(), errOut.String())
			}
			if s := errOut.String(); !strings.Contains(s, "lead reports a broken constraint") || !strings.Contains(s, "it runs to 450 words") {
				t.Errorf("the terminal was not asked:\n%s", s)
			}
			var accepted []agents.AcceptedBreach
			for _, e := range readJournal(t, journal) {
				if e.Type == orchestrator.EventReportVerified && e.Delegation == "d1" && e.Verification != nil {
					accepted = append(accepted, e.Verification.AcceptedBreaches...)
				}
			}
			if got := len(accepted) == 1 && accepted[0].Constraint == 1 && accepted[0].Reason == "the detail is worth it"; got != tc.accepted {
				t.Errorf("breaches accepted in the journal: %+v", accepted)
			}
		})
	}
}

// writeTeam writes the team file of the scripted lead, so the client shows
// and records it.
func writeTeam(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "team.yaml")
	if err := os.WriteFile(p, []byte("lead: lead\nagents:\n  - name: lead\n    role: writes notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
