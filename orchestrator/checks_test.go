package orchestrator_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// The delegate tool attaches checks from the runtime's registry: built-in
// file checks over the workspace and Go checks registered by name. A check
// that fails sends the report back; a check the registry does not have is
// refused before anything is delegated.
func TestDelegateChecks(t *testing.T) {
	g := agents.Goal{Intent: "remember the meeting", Objective: "write the notes", Criteria: []string{"the notes are written"}}
	withChecks := func(checks ...agents.CheckSpec) model.ToolCall {
		return call(agents.ToolDelegate, agents.DelegateArgs{Agent: "a", Intent: g.Intent, Objective: g.Objective,
			Criteria: g.Criteria, Checks: checks})
	}
	cases := []struct {
		name   string
		checks []agents.CheckSpec
		unmet  string // "" when the first report passes
	}{
		{"exists", []agents.CheckSpec{{Kind: orchestrator.CheckFileExists, Path: "notes.md", Criterion: 1}}, ""},
		{"exists, wrong file", []agents.CheckSpec{{Kind: orchestrator.CheckFileExists, Path: "minutes.md", Criterion: 1}}, "the notes are written (minutes.md does not exist)"},
		{"matches", []agents.CheckSpec{{Kind: orchestrator.CheckFileMatches, Path: "notes.md", Pattern: `summed up$`}}, ""},
		{"does not match", []agents.CheckSpec{{Kind: orchestrator.CheckFileMatches, Path: "notes.md", Pattern: `Friday`}}, "does not match /Friday/"},
		{"absent", []agents.CheckSpec{{Kind: orchestrator.CheckFileAbsent, Path: "secrets.env"}}, ""},
		{"not absent", []agents.CheckSpec{{Kind: orchestrator.CheckFileAbsent, Path: "notes.md"}}, "notes.md exists"},
		{"registered", []agents.CheckSpec{{Kind: "short", Path: "notes.md"}}, ""},
		{"registered, failing", []agents.CheckSpec{{Kind: "short", Path: "notes.md", Pattern: "x"}}, "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := model.NewScripted("w", turn(accept(g)), turn(write("w1", "notes.md")), turn(complete(g, "done", "w1")), turn(complete(g, "done again", "w1")),
				turn(complete(g, "done at last", "w1")))
			lead := model.NewScripted("lead", turn(accept(g)), turn(withChecks(tc.checks...)), turn(complete(g, "done", "d2")),
				turn(complete(g, "done", "d2")), turn(complete(g, "done", "d2")))
			team, opts, _ := wsTeam(t, w)
			team = orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"a"}},
				{Agent: team.Members[0].Agent, Supervision: structural},
			}}
			team.Members[1].Agent.Name = "a"
			opts.Checks = map[string]orchestrator.CheckFunc{"short": func(_ context.Context, ws fs.FS, spec agents.CheckSpec, _ *agents.Goal, _ *agents.Report) (bool, string, error) {
				b, err := fs.ReadFile(ws, spec.Path)
				if err != nil {
					return false, "", err
				}
				if spec.Pattern != "" || len(b) > 100 {
					return false, "too long", nil
				}
				return true, "", nil
			}}
			rt, mem := newRuntime(t, team, opts)
			rt.Run(t.Context(), g)
			var first *orchestrator.Event
			for _, e := range ofType(mem.Events(), orchestrator.EventReportVerified) {
				if e.Delegation == "d2" && first == nil {
					first = e
				}
			}
			switch {
			case first == nil:
				t.Fatalf("no verification\n%s", types(mem.Events()))
			case tc.unmet == "" && first.Verification.Verdict != agents.VerdictAccept:
				t.Fatalf("want accepted: %s", mustJSON(first))
			case tc.unmet != "" && (first.Verification.Verdict != agents.VerdictRevise || !strings.Contains(strings.Join(first.Verification.Unmet, ";"), tc.unmet)):
				t.Fatalf("want sent back with %q: %s", tc.unmet, mustJSON(first))
			}
		})
	}
	t.Run("unknown check refused", func(t *testing.T) {
		lead := model.NewScripted("lead", turn(accept(g)), turn(withChecks(agents.CheckSpec{Kind: "file_exist", Path: "notes.md"})))
		rt, _ := newRuntime(t, twoWriters(lead, model.NewScripted("a"), model.NewScripted("b")), nil)
		rt.Run(t.Context(), g)
		if got := lastToolMessage(lead.Requests()[2]); !strings.Contains(got, `refused: unknown check "file_exist"`) {
			t.Fatalf("lead told %q", got)
		}
	})
}

// A file check on a runtime without a workspace cannot run: the report is
// not accepted. A check name may not shadow a built-in; a member's checks
// are validated by New.
func TestChecksFailClosed(t *testing.T) {
	g := agents.Goal{Intent: "i", Objective: "o", Criteria: []string{"c"}, Checks: []agents.CheckSpec{{Kind: orchestrator.CheckFileExists, Path: "a.md"}}}
	m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "done")), turn(complete(g, "done 2")), turn(complete(g, "done 3")))
	rt, _ := newRuntime(t, solo(m), nil)
	out, err := rt.Run(t.Context(), g)
	if err == nil || !strings.Contains(out.Reason, "no workspace is configured") {
		t.Fatalf("%v: %s", err, out.Reason)
	}
	if !errors.Is(err, orchestrator.ErrFailed) {
		t.Fatal(err)
	}
	_, err = orchestrator.New(solo(model.NewScripted("m")), &orchestrator.Options{Checks: map[string]orchestrator.CheckFunc{
		orchestrator.CheckFileExists: func(context.Context, fs.FS, agents.CheckSpec, *agents.Goal, *agents.Report) (bool, string, error) {
			return true, "", nil
		}}})
	if err == nil {
		t.Fatal("a check shadowing a built-in was accepted")
	}
	team := solo(model.NewScripted("m"))
	team.Members[0].Checks = []agents.CheckSpec{{Kind: "nope"}}
	if _, err := orchestrator.New(team, nil); err == nil || !strings.Contains(err.Error(), `unknown check "nope"`) {
		t.Fatalf("err = %v", err)
	}
	bad := g
	bad.Checks = []agents.CheckSpec{{Kind: orchestrator.CheckFileMatches, Path: "a.md", Pattern: "("}}
	rt, _ = newRuntime(t, solo(model.NewScripted("m")), nil)
	if out, _ := rt.Run(t.Context(), bad); out.Cause != orchestrator.CauseInvalid {
		t.Fatalf("a goal with a bad pattern: %s %s", out.Cause, out.Reason)
	}
	// An empty pattern would match any file: refused, not quietly weakened.
	bad.Checks = []agents.CheckSpec{{Kind: orchestrator.CheckFileMatches, Path: "a.md"}}
	rt, _ = newRuntime(t, solo(model.NewScripted("m")), nil)
	if out, _ := rt.Run(t.Context(), bad); out.Cause != orchestrator.CauseInvalid || !strings.Contains(out.Reason, "no pattern") {
		t.Fatalf("a goal with no pattern: %s %s", out.Cause, out.Reason)
	}
}
