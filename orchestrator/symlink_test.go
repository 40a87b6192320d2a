package orchestrator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
)

// linkedDirs makes a workspace directory, real, and a symbolic link to its
// parent, so that alias names the same directory through a link (as macOS's
// /tmp is /private/tmp); and a directory outside both. It skips where no
// symbolic link can be made.
func linkedDirs(t *testing.T) (real, alias, outside string) {
	t.Helper()
	parent, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real = filepath.Join(parent, "ws")
	outside = filepath.Join(parent, "outside")
	for _, d := range []string{real, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(parent, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	return real, filepath.Join(link, "ws"), outside
}

// absWrite is a tool that writes a file by its absolute name and follows
// every link on the way, as a naive MCP filesystem server would.
func absWrite(t *testing.T) agents.Tool {
	t.Helper()
	tool, err := agents.NewTool("fs__write_file", "writes a file by its absolute name", func(_ context.Context, in struct {
		Path string `json:"path"`
	}) (string, error) {
		return "ok", os.WriteFile(in.Path, []byte("minutes"), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A name never makes a writer of files: it declares it writes one.
	return writer(tool)
}

// A workspace given through a symbolic link is the same workspace under
// either name: an absolute path through the link, or through the directory
// the link resolves to, counts as the workspace file it is, in calls and
// citations alike. A path that a link leads out of the workspace is no
// workspace file, whichever name it is given by; nor is a path through a
// link the runtime was not given, which it never resolves.
func TestWorkspaceThroughSymlinks(t *testing.T) {
	g := agents.Goal{Intent: "keep the minutes", Objective: "write the minutes", Criteria: []string{"the minutes are written"}}
	report := func(cites ...string) model.Turn {
		return turn(call(agents.ToolCompleteGoal, agents.Report{Result: "done", Criteria: []agents.CriterionResult{
			{Criterion: "written", Met: true, Evidence: "see the citations", Cites: cites}}}))
	}
	writeAbs := func(p string) model.Turn {
		return turn(withID("a1", call("fs__write_file", map[string]string{"path": p})))
	}
	for _, tc := range []struct {
		name    string
		byAlias bool // the workspace is given by its linked name
		turns   func(real, alias string) []model.Turn
		finding string // "" when the first report is accepted
	}{
		{"given through the link, files named by the real path", true, func(real, _ string) []model.Turn {
			p := filepath.Join(real, "minutes.md")
			return []model.Turn{writeAbs(p), report(p)}
		}, ""},
		{"given through the link, named real, cited relative", true, func(real, _ string) []model.Turn {
			return []model.Turn{writeAbs(filepath.Join(real, "minutes.md")), report("minutes.md")}
		}, ""},
		// A link elsewhere that the runtime was not given is never
		// resolved, even one that leads into the workspace: resolving a
		// name the model chose would touch the file system outside the
		// workspace at its choice (an automount, a dead network mount).
		// The path is outside, and what it names proves nothing.
		{"given by the real path, files named through a link it was not given", false, func(_, alias string) []model.Turn {
			p := filepath.Join(alias, "minutes.md")
			return []model.Turn{writeAbs(p), report(p)}
		}, "minutes.md\" is no workspace path"},
		{"given by the real path, nested, named through a link it was not given", false, func(_, alias string) []model.Turn {
			if err := os.MkdirAll(filepath.Join(alias, "notes", "2026"), 0o755); err != nil {
				panic(err)
			}
			p := filepath.Join(alias, "notes", "2026", "minutes.md")
			return []model.Turn{writeAbs(p), report("notes/2026/minutes.md")}
		}, "notes/2026/minutes.md was not written by you or your delegates"},
		{"a link in the workspace leads out, named through it", false, func(real, _ string) []model.Turn {
			p := filepath.Join(real, "out", "minutes.md")
			return []model.Turn{writeAbs(p), report(p)}
		}, "out/minutes.md"},
		{"a link in the workspace leads out, named through both links", true, func(_, alias string) []model.Turn {
			p := filepath.Join(alias, "out", "minutes.md")
			return []model.Turn{writeAbs(p), report(p)}
		}, "out/minutes.md"},
		{"a file of the workspace is a link out", false, func(real, _ string) []model.Turn {
			p := filepath.Join(real, "secret.md")
			return []model.Turn{writeAbs(p), report("secret.md")}
		}, "secret.md cannot be reached in the workspace (path escapes from parent)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			real, alias, outside := linkedDirs(t)
			// Planted links that lead out of the workspace.
			if err := os.Symlink(outside, filepath.Join(real, "out")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, "secret.md"), filepath.Join(real, "secret.md")); err != nil {
				t.Fatal(err)
			}
			dir := real
			if tc.byAlias {
				dir = alias
			}
			ws, err := workspace.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ws.Close() })
			turns := append([]model.Turn{turn(accept(g))}, tc.turns(real, alias)...)
			turns = append(turns, turn(write("w9", "final.md")), report("w9"))
			rt, mem := newRuntime(t, solo(model.NewScripted("m", turns...), append(ws.Tools(), absWrite(t))...),
				&orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
			if out, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v (%s)\n%s", err, out.Reason, types(mem.Events()))
			}
			firstReport(t, mem, tc.finding)
		})
	}
}

// A file a criterion names that is a link out of the workspace is not
// there: the criterion is unmet, and the finding says why.
func TestNamedFileIsALinkOut(t *testing.T) {
	real, _, outside := linkedDirs(t)
	if err := os.WriteFile(filepath.Join(outside, "notes.md"), []byte("the meeting"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "notes.md"), filepath.Join(real, "notes.md")); err != nil {
		t.Fatal(err)
	}
	g := agents.Goal{Intent: "remember the meeting", Objective: "Write notes.md", Criteria: []string{"notes.md sums up the meeting"}}
	m := model.NewScripted("m", turn(accept(g)), turn(write("w1", "other.md")),
		turn(complete(g, "wrote it", "w1")), turn(complete(g, "wrote it, really", "w1")), turn(complete(g, "wrote it, truly", "w1")))
	ws, err := workspace.New(real)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	rt, mem := newRuntime(t, solo(m, ws.Tools()...), &orchestrator.Options{Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
	out, _ := rt.Run(t.Context(), g)
	if out.Status != orchestrator.StatusFailed || !strings.Contains(out.Reason, "notes.md cannot be reached in the workspace (path escapes from parent)") {
		t.Fatalf("%s (%s)\n%s", out.Status, out.Reason, types(mem.Events()))
	}
}
