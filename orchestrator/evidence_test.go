package orchestrator_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
)

// The lying lead: its only delegate never makes a protocol call and fails; the
// lead, which holds no tools of its own, claims the goal done anyway, with a
// criterion about a file no one wrote. The run must end failed, not
// completed and verified.
func TestLyingLeadFails(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "have the worker write notes.txt",
		Criteria: []string{"notes.txt exists in the workspace"}}
	claim := func(result string) model.Turn {
		return turn(call(agents.ToolCompleteGoal, agents.Report{Result: result, Criteria: []agents.CriterionResult{
			{Criterion: g.Criteria[0], Met: true, Evidence: "the worker wrote notes.txt; verified"}}}))
	}
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("worker", g)),
		claim("the worker wrote notes.txt; verified"), claim("notes.txt is written, verified"), claim("done: notes.txt"))
	worker := model.NewScripted("worker", model.Text("On it."), model.Text("Working."), model.Text("Almost there."))
	rec := newRecorder(t, "write_file")
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"worker"}},
		{Agent: &agents.Agent{Name: "worker", Role: "writes", Model: worker, Tools: []agents.Tool{rec.tool}}, Supervision: structural},
	}}, nil)
	out, err := rt.Run(t.Context(), g)
	if !errors.Is(err, orchestrator.ErrFailed) || out.Status != orchestrator.StatusFailed {
		t.Fatalf("the lying lead ended %s (%v), want failed\n%s", out.Status, err, types(mem.Events()))
	}
	if len(ofType(mem.Events(), orchestrator.EventGoalCompleted)) != 0 {
		t.Fatalf("a delegation completed:\n%s", types(mem.Events()))
	}
	ver := ofType(mem.Events(), orchestrator.EventReportVerified)
	if len(ver) == 0 || ver[0].Verification.By != "runtime" || ver[0].Verification.Verdict != agents.VerdictRevise {
		t.Fatalf("verifications: %s", mustJSON(ver))
	}
	for _, want := range []string{"none of your delegations completed", "notes.txt"} {
		if !strings.Contains(ver[0].Verification.Feedback, want) {
			t.Errorf("the runtime's findings %q do not say %q", ver[0].Verification.Feedback, want)
		}
	}
	checkJournal(t, mem.Events())
}

// wsTeam is one agent with the real workspace tools, its files checked by the
// runtime through the workspace's FS.
func wsTeam(t *testing.T, m model.Model) (orchestrator.Team, *orchestrator.Options, string) {
	t.Helper()
	dir := t.TempDir()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return solo(m, ws.Tools()...), &orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()}, dir
}

// citing is a report of a goal with one criterion, claimed met on cites.
func citing(cites ...string) model.ToolCall {
	return call(agents.ToolCompleteGoal, agents.Report{Result: "done", Criteria: []agents.CriterionResult{
		{Criterion: "written", Met: true, Evidence: "see the citations", Cites: cites}}})
}

func write(id, path string) model.ToolCall {
	return withID(id, call(workspace.ToolWriteFile, map[string]string{"path": path, "content": "the meeting, summed up"}))
}

// A criterion that names notes.md passes only if notes.md exists: a file of
// another name does not do, whatever the report says.
func TestNamedFileCriterion(t *testing.T) {
	g := agents.Goal{Intent: "remember the meeting", Objective: "Write notes.md", Criteria: []string{"notes.md sums up the meeting"}}
	for _, tc := range []struct {
		path string
		want orchestrator.Status
	}{{"write-notes-md.md", orchestrator.StatusFailed}, {"notes.md", orchestrator.StatusCompleted}} {
		t.Run(tc.path, func(t *testing.T) {
			m := model.NewScripted("m", turn(accept(g)), turn(write("w1", tc.path)),
				turn(complete(g, "wrote it", "w1")), turn(complete(g, "wrote it, really", "w1")), turn(complete(g, "wrote it, truly", "w1")))
			team, opts, _ := wsTeam(t, m)
			rt, mem := newRuntime(t, team, opts)
			out, _ := rt.Run(t.Context(), g)
			if out.Status != tc.want {
				t.Fatalf("%s: %s (%s), want %s\n%s", tc.path, out.Status, out.Reason, tc.want, types(mem.Events()))
			}
			if tc.want == orchestrator.StatusFailed && !strings.Contains(out.Reason, "names notes.md, but notes.md does not exist") {
				t.Fatalf("reason %q", out.Reason)
			}
		})
	}
	t.Run("turned off for the goal", func(t *testing.T) {
		g := g
		g.NoFileChecks = true
		m := model.NewScripted("m", turn(accept(g)), turn(write("w1", "elsewhere.md")), turn(complete(g, "wrote it", "w1")))
		team, opts, _ := wsTeam(t, m)
		rt, mem := newRuntime(t, team, opts)
		if out, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
		}
	})
	// "only" and "but" restrict; they do not negate the file they name.
	for _, gc := range [][2]string{{"Write only notes.md", ""}, {"the meeting is summed up", "be brief, but keep notes.md readable"}} {
		t.Run(gc[0]+gc[1], func(t *testing.T) {
			g := g
			g.Criteria = []string{gc[0]}
			if gc[1] != "" {
				g.Constraints = []string{gc[1]}
			}
			m := model.NewScripted("m", turn(accept(g)), turn(write("w1", "elsewhere.md")),
				turn(complete(g, "wrote it", "w1")), turn(complete(g, "wrote it, really", "w1")), turn(complete(g, "wrote it, truly", "w1")))
			team, opts, _ := wsTeam(t, m)
			rt, mem := newRuntime(t, team, opts)
			out, _ := rt.Run(t.Context(), g)
			if out.Status != orchestrator.StatusFailed || !strings.Contains(out.Reason, "names notes.md, but notes.md does not exist") {
				t.Fatalf("%s (%s), want failed: notes.md is missing\n%s", out.Status, out.Reason, types(mem.Events()))
			}
		})
	}
	t.Run("a negated criterion is not an existence claim", func(t *testing.T) {
		g := g
		g.Criteria = []string{"notes.md exists", "no secrets.env is written"}
		m := model.NewScripted("m", turn(accept(g)), turn(write("w1", "notes.md")), turn(complete(g, "wrote it", "w1")))
		team, opts, _ := wsTeam(t, m)
		rt, mem := newRuntime(t, team, opts)
		if out, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
		}
	})
}

// Each kind of citation is resolved against what the run did; a false one,
// or none where the delegate had something to cite, sends the report back
// with the finding.
func TestCitationsAreResolved(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := func(evidence string, cites ...string) model.ToolCall {
		return call(agents.ToolCompleteGoal, agents.Report{Result: "done", Criteria: []agents.CriterionResult{
			{Criterion: "written", Met: true, Evidence: evidence, Cites: cites}}})
	}
	cases := []struct {
		name    string
		turns   []model.Turn
		finding string // "" when the first report is accepted
	}{
		{"a call that succeeded", []model.Turn{turn(write("w1", "minutes.md")), turn(report("see the write", "w1"))}, ""},
		{"a path written, named in the evidence", []model.Turn{turn(write("w1", "minutes.md")), turn(report("I wrote minutes.md"))}, ""},
		{"nothing cited", []model.Turn{turn(write("w1", "minutes.md")), turn(report("trust me"))}, "cites nothing the runtime can check"},
		{"a call that failed", []model.Turn{turn(write("w0", "../outside.md")), turn(write("w1", "minutes.md")), turn(report("written", "w0"))},
			"tool call w0 (write_file) failed"},
		{"a call never made", []model.Turn{turn(write("w1", "minutes.md")), turn(report("written", "w9"))}, "w9 does not exist in the workspace"},
		{"a refused call", []model.Turn{turn(withID("x1", call("run_shell", nil))), turn(write("w1", "minutes.md")), turn(report("checked", "w1", "x1"))},
			"tool call x1 (run_shell) failed"},
		{"a path that does not exist", []model.Turn{turn(write("w1", "minutes.md")), turn(report("see draft.md", "w1"))}, "draft.md does not exist"},
		{"a delegation that does not exist", []model.Turn{turn(write("w1", "minutes.md")), turn(report("d7 did it"))}, "there is no delegation d7"},
		{"itself", []model.Turn{turn(write("w1", "minutes.md")), turn(report("done", "w1", "d1"))}, "delegation d1 is not one you or your delegates made"},
		{"a file there but not written by it", []model.Turn{turn(write("w1", "minutes.md")), turn(report("I wrote old.md", "w1"))}, "old.md was not written by you or your delegates"},
		// A file counts only if the work wrote it: one there before, a
		// directory, or a file it only read does not.
		{"a file there before, cited", []model.Turn{turn(write("w1", "minutes.md")), turn(report("see old.md", "old.md"))}, "old.md was not written by you or your delegates"},
		{"a file there before, named", []model.Turn{turn(write("w1", "minutes.md")), turn(report("the minutes are in old.md"))}, "old.md was not written by you or your delegates"},
		{"a directory there before", []model.Turn{turn(write("w1", "minutes.md")), turn(report("see the folder", "archive"))}, "archive is a directory"},
		{"a directory the work made", []model.Turn{turn(write("w1", "minutes/2026.md")), turn(report("see the folder", "minutes"))}, "minutes is a directory"},
		{"a file only read", []model.Turn{turn(read("r1", "old.md")), turn(write("w1", "minutes.md")), turn(report("from old.md", "old.md"))}, "what it cites was only read"},
		// A call id passes the same test as a path: a read supports
		// nothing written.
		{"a read call", []model.Turn{turn(read("r1", "old.md")), turn(write("w1", "minutes.md")), turn(report("from the read", "r1"))}, "what it cites was only read"},
		{"a file written, beside one read", []model.Turn{turn(read("r1", "old.md")), turn(write("w1", "minutes.md")), turn(report("minutes.md, from old.md"))}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			turns := append([]model.Turn{turn(accept(g))}, tc.turns...)
			turns = append(turns, turn(report("see the write", "w1")))
			team, opts, dir := wsTeam(t, model.NewScripted("m", turns...))
			if err := os.WriteFile(filepath.Join(dir, "old.md"), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "archive"), 0o755); err != nil {
				t.Fatal(err)
			}
			rt, mem := newRuntime(t, team, opts)
			out, err := rt.Run(t.Context(), g)
			if err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			firstReport(t, mem, tc.finding)
		})
	}
}

// A protocol act's call id (the acceptance, an escalation, a progress
// report) is no evidence of work: citing it supports nothing, and the report
// goes back asking for the call that did the work.
func TestProtocolActsAreNoEvidence(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := citing
	turns := []model.Turn{turn(withID("acc1", accept(g))), turn(write("w1", "minutes.md")), turn(report("acc1")), turn(report("w1"))}
	team, opts, _ := wsTeam(t, model.NewScripted("m", turns...))
	rt, mem := newRuntime(t, team, opts)
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
	}
	firstReport(t, mem, "tool call acc1 is the protocol act accept_goal, not work")
}

func read(id, path string) model.ToolCall {
	return withID(id, call(workspace.ToolReadFile, map[string]string{"path": path}))
}

// A criterion about reading or reviewing is supported by a file the work
// demonstrably read; one it never opened is not, even if it exists. A
// criterion that asks for an output (a summary written to a file, a review
// in review.md) is not about reading: what was read supports none of it.
func TestReadingCriterionCitesWhatWasRead(t *testing.T) {
	for _, tc := range []struct {
		name, criterion string
		turns           []model.Turn
		finding         string
	}{
		{"read", "old.md is reviewed", []model.Turn{turn(read("r1", "old.md")), turn(report1("old.md is reviewed", "old.md"))}, ""},
		{"read, the call cited", "Review old.md", []model.Turn{turn(read("r1", "old.md")), turn(report1("Review old.md", "r1"))}, ""},
		{"never opened", "old.md is reviewed", []model.Turn{turn(read("r1", "other.md")), turn(report1("old.md is reviewed", "old.md"))},
			"old.md was not written or read by you or your delegates"},
		{"a summary to write", "Write a summary of old.md in notes.md",
			[]model.Turn{turn(read("r1", "old.md")), turn(report1("Write a summary of old.md in notes.md", "old.md"))}, "what it cites was only read"},
		{"a review in a file", "the review of old.md is in review.md",
			[]model.Turn{turn(read("r1", "old.md")), turn(report1("the review of old.md is in review.md", "r1"))}, "what it cites was only read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := agents.Goal{Intent: "know what the old minutes say", Objective: "look at old.md", Criteria: []string{tc.criterion},
				NoFileChecks: true}
			turns := append([]model.Turn{turn(accept(g))}, tc.turns...)
			turns = append(turns, turn(read("r2", "old.md")), turn(write("w2", "notes.md")), turn(write("w3", "review.md")),
				turn(report1(tc.criterion, "r2", "w2", "w3")))
			team, opts, dir := wsTeam(t, model.NewScripted("m", turns...))
			for _, f := range []string{"old.md", "other.md"} {
				if err := os.WriteFile(filepath.Join(dir, f), []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rt, mem := newRuntime(t, team, opts)
			if out, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			firstReport(t, mem, tc.finding)
		})
	}
}

// report1 is a report of one criterion met, citing cites.
func report1(criterion string, cites ...string) model.ToolCall {
	return call(agents.ToolCompleteGoal, agents.Report{Result: "done", Criteria: []agents.CriterionResult{
		{Criterion: criterion, Met: true, Evidence: "done", Cites: cites}}})
}

// Citations reach into the delegation's subtree only: a sibling's call, or a
// delegation that failed, supports nothing.
func TestCitationsStayInTheSubtree(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	rec := newRecorder(t, "note")
	// a writes with n1 and completes; b cites a's call; the lead cites the
	// failed b and the completed a.
	a := model.NewScripted("a", turn(accept(g)), turn(withID("n1", call("note", map[string]string{"text": "x"}))), turn(complete(g, "done", "n1")))
	b := model.NewScripted("b", turn(accept(g)), turn(withID("n2", call("note", map[string]string{"text": "y"}))),
		turn(complete(g, "done", "n1")), turn(complete(g, "done again", "n1")), turn(complete(g, "done at last", "n1")))
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("a", g)), turn(delegateTo("b", g)),
		turn(complete(g, "done", "d3")), turn(complete(g, "all done", "d2", "n1")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"a", "b"}},
		{Agent: &agents.Agent{Name: "a", Role: "writes", Model: a, Tools: []agents.Tool{rec.tool}}, Supervision: structural},
		{Agent: &agents.Agent{Name: "b", Role: "writes", Model: b, Tools: []agents.Tool{rec.tool}}, Supervision: structural},
	}}, &orchestrator.Options{Limits: orchestrator.Limits{RepeatLimit: -1}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
	}
	if b := out.Children[1]; b.Status != orchestrator.StatusFailed || !strings.Contains(b.Reason, "tool call n1 was not made by you or your delegates") {
		t.Fatalf("b: %s (%s)", b.Status, b.Reason)
	}
	var leadVer []*orchestrator.Event
	for _, e := range ofType(mem.Events(), orchestrator.EventReportVerified) {
		if e.Delegation == "d1" {
			leadVer = append(leadVer, e)
		}
	}
	// The lead's first report cites the failed b; its second, a and a's call.
	if len(leadVer) != 2 || !strings.Contains(leadVer[0].Verification.Feedback, "delegation d3 did not complete (failed)") ||
		leadVer[1].Verification.Verdict != agents.VerdictAccept {
		t.Fatalf("the lead's reports: %s", mustJSON(leadVer))
	}
}

// A delegate with no tools and no one to delegate to works by reasoning: it
// has nothing to cite, and its report is judged without citations.
func TestReasoningNeedsNoCitation(t *testing.T) {
	g := agents.Goal{Intent: "answer", Objective: "say what 2+2 is", Criteria: []string{"the answer is right"}}
	m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "4")))
	rt, mem := newRuntime(t, solo(m), nil)
	if out, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
	}
}

// Honest work is not called a lie: a file written under its absolute name
// (as the MCP filesystem server names files), a file made by a tool whose
// writes the runtime cannot see (bash), and a directory are true
// citations. The first counts as written; the others cannot be checked, so
// they support nothing on their own and the report is asked for a call id
// — but beside a citation that supports the criterion, they do not sink it
// as a false one would.
func TestHonestWorkIsNoLie(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := citing
	for _, tc := range []struct {
		name    string
		turns   func(dir string) []model.Turn
		finding string // "" when the first report is accepted
		notLie  bool   // the finding must not call the citation false
	}{
		{"an absolute path written, cited relative", func(dir string) []model.Turn {
			return []model.Turn{turn(withID("a1", call("fs__write_file", map[string]string{"path": filepath.Join(dir, "minutes.md")}))), turn(report("minutes.md"))}
		}, "", false},
		{"an absolute path written, cited absolute", func(dir string) []model.Turn {
			return []model.Turn{turn(withID("a1", call("fs__write_file", map[string]string{"path": filepath.Join(dir, "minutes.md")}))), turn(report(filepath.Join(dir, "minutes.md")))}
		}, "", false},
		{"an absolute path outside the workspace", func(dir string) []model.Turn {
			return []model.Turn{turn(withID("a1", call("fs__write_file", map[string]string{"path": filepath.Join(dir, "minutes.md")}))), turn(report("/etc/passwd"))}
		}, `"/etc/passwd" is no workspace path`, false},
		{"made by bash, cited by path", func(string) []model.Turn {
			return []model.Turn{turn(withID("b1", call("bash", map[string]string{"command": "make minutes.md"}))), turn(report("minutes.md"))}
		}, "bash, whose writes it cannot see, may have made it: cite the id of the call that did", true},
		{"made by bash, cited by call id", func(string) []model.Turn {
			return []model.Turn{turn(withID("b1", call("bash", map[string]string{"command": "make minutes.md"}))), turn(report("b1"))}
		}, "", false},
		{"made by bash, cited by path beside a write", func(string) []model.Turn {
			return []model.Turn{turn(withID("b1", call("bash", map[string]string{"command": "make minutes.md"}))), turn(write("w1", "other.md")), turn(report("minutes.md", "w1"))}
		}, "", false},
		{"a directory, cited beside a write", func(string) []model.Turn {
			return []model.Turn{turn(write("w1", "archive/minutes.md")), turn(report("archive", "w1"))}
		}, "", false},
		{"a directory alone", func(string) []model.Turn {
			return []model.Turn{turn(write("w1", "archive/minutes.md")), turn(report("archive"))}
		}, "archive is a directory, not a file", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ws, err := workspace.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.Close() })
			fsWrite, err := agents.NewTool("fs__write_file", "writes a file by its absolute name", func(_ context.Context, in struct {
				Path string `json:"path"`
			}) (string, error) {
				return "ok", os.WriteFile(in.Path, []byte("minutes"), 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			fsWrite = writer(fsWrite) // a name never makes a writer of files
			bash, err := agents.NewTool("bash", "runs a command", func(_ context.Context, in struct {
				Command string `json:"command"`
			}) (string, error) {
				return "ok", os.WriteFile(filepath.Join(dir, "minutes.md"), []byte("minutes"), 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			turns := append([]model.Turn{turn(accept(g))}, tc.turns(dir)...)
			turns = append(turns, turn(write("w9", "final.md")), turn(report("w9")))
			m := model.NewScripted("m", turns...)
			rt, mem := newRuntime(t, solo(m, append(ws.Tools(), fsWrite, bash)...),
				&orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
			if out, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			if ver := firstReport(t, mem, tc.finding); tc.notLie &&
				(!strings.Contains(ver.Feedback, "cannot check") || strings.Contains(ver.Feedback, ", but ")) {
				t.Fatalf("an honest citation was called false: %s", ver.Feedback)
			}
		})
	}
}

// firstReport checks the runtime's verdict on a run's first report: accepted
// when finding is "", else sent back for revision saying finding and
// accepted the second time. It returns the first verification.
func firstReport(t *testing.T, mem *orchestrator.Memory, finding string) *agents.Verification {
	t.Helper()
	ver := ofType(mem.Events(), orchestrator.EventReportVerified)
	switch {
	case finding == "" && (len(ver) != 1 || ver[0].Verification.Verdict != agents.VerdictAccept):
		t.Fatalf("want the first report accepted: %s", mustJSON(ver))
	case finding != "" && (len(ver) != 2 || ver[0].Verification.Verdict != agents.VerdictRevise ||
		!strings.Contains(ver[0].Verification.Feedback, finding)):
		t.Fatalf("want the first report sent back saying %q: %s", finding, mustJSON(ver))
	}
	return ver[0].Verification
}

// A tool's kind decides what its calls prove, and a tool of unknown kind —
// none declared, a name that says nothing (fetch_url, calculator) — proves
// nothing: its call id supports no criterion, and it is not taken to have
// made a file the work cites that was there before. A tool that declares
// its kind is weighed by it; an MCP name like directory_tree reads.
func TestToolKindsWeighEvidence(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := citing
	fetch := withID("f1", call("fetch_url", map[string]string{"url": "https://example.org/minutes"}))
	for _, tc := range []struct {
		name    string
		kind    agents.ToolKind // what fetch_url declares
		turns   []model.Turn
		finding string // "" when the first report is accepted
	}{
		{"an undeclared tool's call id", agents.KindUnknown, []model.Turn{turn(fetch), turn(report("f1"))},
			"tool call f1 is of fetch_url, which declares no kind"},
		{"a call id of a tool declared to act", agents.KindActs, []model.Turn{turn(fetch), turn(report("f1"))}, ""},
		{"a call id of a tool declared to read", agents.KindReads, []model.Turn{turn(fetch), turn(report("f1"))},
			"what it cites was only read"},
		{"a read-only MCP tool by its name", agents.KindUnknown,
			[]model.Turn{turn(withID("t1", call("fs__directory_tree", map[string]string{"path": "."}))), turn(report("t1"))},
			"what it cites was only read"},
		// old.md was there before the run and no call wrote it: false, even
		// beside a citation that holds, once nothing that acts unseen ran.
		{"a file there before, an undeclared tool ran", agents.KindUnknown,
			[]model.Turn{turn(fetch), turn(write("w1", "minutes.md")), turn(report("old.md", "w1"))},
			", but old.md was not written by you or your delegates"},
		{"a file there before, a tool declared to act ran", agents.KindActs,
			[]model.Turn{turn(fetch), turn(write("w1", "minutes.md")), turn(report("old.md", "w1"))}, ""},
		// A file a tool of unknown kind named may be its work: not called
		// a lie, nor support (third review, finding 4).
		{"a file an undeclared tool named", agents.KindUnknown,
			[]model.Turn{turn(withID("f2", call("fetch_url", map[string]string{"url": "https://example.org/minutes", "path": "minutes.md"}))),
				turn(report("minutes.md"))},
			"minutes.md, which the runtime cannot check: minutes.md was named by a call of fetch_url, which declares no kind"},
		{"a file an undeclared tool named, beside what the work wrote", agents.KindUnknown,
			[]model.Turn{turn(withID("f2", call("fetch_url", map[string]string{"url": "https://example.org/minutes", "path": "minutes.md"}))),
				turn(write("w1", "notes.md")), turn(report("minutes.md", "w1"))}, ""},
		// A name never makes a writer of the file a tool names: upload_file
		// reads the file it sends, so an old file only uploaded is no work
		// of the run (third review, finding 7).
		{"a file there before, only uploaded", agents.KindUnknown,
			[]model.Turn{turn(withID("u1", call("upload_file", map[string]string{"path": "old.md"}))), turn(report("old.md"))},
			"old.md, and upload_file, whose writes it cannot see, may have made it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "old.md"), []byte("last year's minutes"), 0o644); err != nil {
				t.Fatal(err)
			}
			ws, err := workspace.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.Close() })
			fetchURL, err := agents.DefineTool(agents.ToolSpec{Name: "fetch_url", Description: "fetches a page, into path if given", Kind: tc.kind},
				func(_ context.Context, in struct {
					URL  string `json:"url"`
					Path string `json:"path,omitempty"`
				}) (agents.Result, error) {
					if in.Path != "" {
						return agents.Result{Content: "saved"}, os.WriteFile(filepath.Join(dir, in.Path), []byte("the minutes"), 0o644)
					}
					return agents.Result{Content: "the minutes"}, nil
				})
			if err != nil {
				t.Fatal(err)
			}
			tree, err := agents.NewTool("fs__directory_tree", "lists a tree", func(context.Context, struct {
				Path string `json:"path"`
			}) (string, error) {
				return "old.md", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			upload, err := agents.NewTool("upload_file", "uploads a file", func(context.Context, struct {
				Path string `json:"path"`
			}) (string, error) {
				return "uploaded", nil
			})
			if err != nil {
				t.Fatal(err)
			}
			turns := append([]model.Turn{turn(accept(g))}, tc.turns...)
			turns = append(turns, turn(write("w9", "final.md")), turn(report("w9")))
			m := model.NewScripted("m", turns...)
			rt, mem := newRuntime(t, solo(m, append(ws.Tools(), fetchURL, tree, upload)...),
				&orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
			if out, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			firstReport(t, mem, tc.finding)
		})
	}
}

// Without a workspace (library use), the calls alone decide: a cited file no
// call wrote is false, not "cannot check" — from a delegate that works by
// reasoning alone too, which nothing else holds to its word — and one a call
// wrote supports the criterion.
func TestNoWorkspaceCallsDecide(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := citing
	save, err := agents.DefineTool(agents.ToolSpec{Name: "save_minutes", Description: "saves the minutes", Kind: agents.KindWritesFiles},
		func(context.Context, struct {
			Path string `json:"path"`
		}) (agents.Result, error) {
			return agents.Result{Content: "saved"}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	saveCall := func(id, path string) model.Turn {
		return turn(withID(id, call("save_minutes", map[string]string{"path": path})))
	}
	for _, tc := range []struct {
		name    string
		tools   []agents.Tool
		turns   []model.Turn
		finding string // "" when the first report is accepted
	}{
		{"written by a call", []agents.Tool{save}, []model.Turn{saveCall("s1", "minutes.md"), turn(report("minutes.md"))}, ""},
		{"no call wrote it", []agents.Tool{save}, []model.Turn{saveCall("s1", "other.md"), turn(report("minutes.md"))},
			", but minutes.md was not written by you or your delegates"},
		{"no call wrote it, beside one that holds", []agents.Tool{save}, []model.Turn{saveCall("s1", "other.md"), turn(report("minutes.md", "s1"))},
			", but minutes.md was not written by you or your delegates"},
		{"a delegate without tools", nil, []model.Turn{turn(report("minutes.md"))},
			", but minutes.md was not written by you or your delegates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			turns := append([]model.Turn{turn(accept(g))}, tc.turns...)
			if tc.tools != nil {
				turns = append(turns, saveCall("s9", "final.md"), turn(report("s9")))
			} else {
				turns = append(turns, turn(report()))
			}
			m := model.NewScripted("m", turns...)
			rt, mem := newRuntime(t, solo(m, tc.tools...), nil)
			if out, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			firstReport(t, mem, tc.finding)
		})
	}
}
