package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/evals"
)

// evalScenario is a scenario of one agent that passes on the simulator.
const evalScenario = `name: ok
team:
  lead: solo
  agents:
    - name: solo
      role: Writes notes.
      model: sim
      tools: [write_file]
goal:
  objective: Write a note
expect:
  - status: completed
`

// evalCommand runs "run eval ARGS..." in process.
func evalCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return mainIn(t, "", append([]string{"eval"}, args...)...)
}

func TestCommandBuiltinSuite(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := evalCommand(t, "--out", dir, "--trials", "2", "--parallel", "4", "--seed", "3")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"SCENARIO", "baseline", "FM-1.1", "Ask-F1 sim", "reports: " + filepath.Join(dir, "report.html")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Not a terminal: one plain line per trial, two trials a scenario.
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	want := 2 * len(suite)
	if n := strings.Count(errOut, "/sim #"); n != want {
		t.Errorf("%d progress lines, want %d:\n%s", n, want, errOut)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "journals", "*.jsonl"))
	if len(journals) != want {
		t.Errorf("%d journals, want %d", len(journals), want)
	}
}

func TestCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	failing := filepath.Join(dir, "failing.yaml")
	os.WriteFile(failing, []byte(evalScenario+"  - violations: {min: 1}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(evalScenario+"  - evnt: {}\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"help", []string{"-h"}, exitOK, "run eval [flags] [SUITE_DIR_OR_FILE...]"},
		{"unknown flag", []string{"--trails", "3"}, exitUsage, "unknown flag: --trails (did you mean --trials?)"},
		{"bad trials", []string{"--trials", "0"}, exitUsage, "--trials"},
		{"bad min-pass", []string{"--min-pass", "2"}, exitUsage, "--min-pass"},
		{"missing suite", []string{filepath.Join(dir, "nope")}, exitUsage, "no such file"},
		{"bad scenario", []string{bad, "--out", filepath.Join(dir, "r0")}, exitUsage, "bad.yaml:13: expect[1].evnt: unknown field"},
		{"under min-pass", []string{failing, "--out", filepath.Join(dir, "r1"), "--quiet"}, exitFailed, "under --min-pass"},
		{"lowered min-pass", []string{"--min-pass", "0.5", failing, "--out", filepath.Join(dir, "r2"), "--quiet"}, exitOK, "1/2 expectations"},
		{"list", []string{"--list"}, exitOK, "unverifying-delegator"},
		{"compare without runs", []string{"compare", dir}, exitUsage, "want two runs"},
		{"compare a missing run", []string{"compare", filepath.Join(dir, "x"), filepath.Join(dir, "y")}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := evalCommand(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tt.code, tt.want, out, errOut)
			}
		})
	}
}

func TestCommandJSON(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	os.WriteFile(sc, []byte(evalScenario), 0o644)
	code, out, errOut := evalCommand(t, sc, "--json", "--quiet", "--out", filepath.Join(dir, "run"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep evals.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.SchemaVersion != evals.SchemaVersion || rep.Summary.Trials != 1 {
		t.Fatalf("stdout is not report.json: %v\n%s", err, out)
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(evalScenario), 0o644)
	if code, _, e := evalCommand(t, good, "--out", filepath.Join(dir, "a"), "--quiet", "--trials", "2"); code != 0 {
		t.Fatal(e)
	}
	// B: the same scenario with an expectation that now fails.
	os.WriteFile(good, []byte(evalScenario+"  - violations: {min: 1}\n"), 0o644)
	if code, _, e := evalCommand(t, good, "--out", filepath.Join(dir, "b"), "--quiet", "--trials", "2"); code != exitFailed {
		t.Fatal(e)
	}
	code, out, errOut := evalCommand(t, "compare", filepath.Join(dir, "a"), filepath.Join(dir, "b", "report.json"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"expectation pass rate", "100%", "50%", "-50.0 pts", "ok", "WORSE"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
	code, _, _ = evalCommand(t, "compare", "--fail-on-regression", filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	if code != exitFailed {
		t.Errorf("a regression exits %d", code)
	}
	code, out, _ = evalCommand(t, "compare", "--json", filepath.Join(dir, "b"), filepath.Join(dir, "a"))
	var c evals.Comparison
	if err := json.Unmarshal([]byte(out), &c); code != 0 || err != nil || len(c.Scenarios) != 1 || *c.Scenarios[0].PassAt1B != 1 {
		t.Fatalf("json comparison: %v %s", err, out)
	}
}

func TestCompareAcrossModels(t *testing.T) {
	a := &evals.Report{Models: []evals.ModelSummary{{Model: "sim"}}, Scenarios: []evals.ScenarioSummary{{Scenario: "x", Model: "sim", PassAt1: 1}}}
	b := &evals.Report{Models: []evals.ModelSummary{{Model: "gpt"}}, Scenarios: []evals.ScenarioSummary{{Scenario: "x", Model: "gpt", PassAt1: 0.5}}}
	c := evals.Compare(a, b)
	if len(c.Scenarios) != 1 || c.Scenarios[0].Model != "sim → gpt" || !c.Regressed() {
		t.Fatalf("%+v", c.Scenarios)
	}
}
