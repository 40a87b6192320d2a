package evals_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/evals"
)

const validScenario = `name: ok
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

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		// want are substrings of the error, in order: file:line: field: message.
		want []string
	}{
		{"unknown top-level field", strings.Replace(validScenario, "name: ok", "name: ok\ndescriptoin: typo", 1),
			[]string{"s.yaml:2: descriptoin: unknown field \"descriptoin\""}},
		{"unknown field in an expectation", validScenario + "  - evnt: {type: goal.completed}\n",
			[]string{"s.yaml:13: expect[1].evnt: unknown field"}},
		{"unknown field in an event match", validScenario + "  - event: {type: goal.completed, agnt: solo}\n",
			[]string{"s.yaml:13:", "agnt", "unknown field"}},
		{"two kinds in one item", validScenario + "  - status: failed\n    violations: {max: 0}\n",
			[]string{"s.yaml:13: expect[1]: one expectation per item: found status, violations"}},
		{"an empty item", validScenario + "  - name: nothing\n",
			[]string{"s.yaml:13: expect[1]: an expectation needs one of"}},
		{"unknown event type", validScenario + "  - event: {type: tool.call}\n",
			[]string{"s.yaml:13: expect[1].event.type: unknown event type \"tool.call\""}},
		{"a bad status", strings.Replace(validScenario, "status: completed", "status: done", 1),
			[]string{"s.yaml:12: expect[0].status[0]: \"done\": want completed, declined or failed"}},
		{"a team error keeps its line", strings.Replace(validScenario, "tools: [write_file]", "tools: [write_fil]", 1),
			[]string{"s.yaml:8: team.agents[0].tools: unknown tool \"write_fil\" (did you mean \"write_file\"?)"}},
		{"an unknown field in the team", strings.Replace(validScenario, "      role: Writes notes.", "      rol: Writes notes.", 1),
			[]string{"s.yaml:6:", "team.agents[0].rol", "unknown field"}},
		{"an unknown persona", strings.Replace(validScenario, "model: sim", "model: sim\n      persona: sulky", 1),
			[]string{"team.agents[0].persona: unknown persona \"sulky\""}},
		{"a script without turns", strings.Replace(validScenario, "model: sim", "model: script", 1),
			[]string{"team.agents[0].model: model script needs scripts.solo"}},
		{"a fill without a group", strings.Replace(validScenario, "model: sim", "model: script", 1) +
			"scripts:\n  solo:\n    - call: {name: write_file, args: {path: a.md, content: '{{x}}'}, fill: {x: 'no group'}}\n",
			[]string{"scripts.solo[0].fill.x: the expression has no group"}},
		{"a fill with no placeholder", strings.Replace(validScenario, "model: sim", "model: script", 1) +
			"scripts:\n  solo:\n    - call: {name: write_file, args: {path: a.md}, fill: {x: '(y)'}}\n",
			[]string{"scripts.solo[0].fill.x: no argument holds {{x}}"}},
		{"a bad regex", validScenario + "  - file: {path: a.md, regex: '('}\n",
			[]string{"s.yaml:13: expect[1].file.regex:"}},
		{"an unknown mode", strings.Replace(validScenario, "name: ok", "name: ok\nmodes: [FM-9.9]", 1),
			[]string{"s.yaml:2: modes[0]: unknown failure mode \"FM-9.9\""}},
		{"no objective", strings.Replace(validScenario, "  objective: Write a note", "  intent: why", 1),
			[]string{"goal.objective: missing"}},
		{"no team", "name: x\ngoal: {objective: y}\nexpect: [{status: completed}]\n",
			[]string{"missing team"}},
		{"a wrong type", strings.Replace(validScenario, "name: ok", "name: ok\nshould_escalate: maybe", 1),
			[]string{"s.yaml:2:", "should_escalate"}},
		{"a workspace path outside", validScenario + "workspace:\n  ../x: y\n",
			[]string{"workspace: \"../x\" is not a local path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evals.ParseScenario("s.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q lacks %q", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}

func TestParseScenarioErrorIsTyped(t *testing.T) {
	_, err := evals.ParseScenario("s.yaml", []byte(strings.Replace(validScenario, "tools: [write_file]", "tools: [nope]", 1)))
	var e *evals.Error
	if !errors.As(err, &e) || e.Line != 8 || e.Field != "team.agents[0].tools" {
		t.Fatalf("got %#v", err)
	}
}

func TestParseScenarioValid(t *testing.T) {
	sc, err := evals.ParseScenario("s.yaml", []byte(validScenario+`scripts: {}
workspace:
  docs/a.md: "# A"
timeout: 5s
limits: {repeat_limit: 4, max_revisions: 1}
principal: deny
`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "ok" || sc.Team.Lead != "solo" || sc.Limits.RepeatLimit != 4 || sc.Limits.MaxRevisions != 1 ||
		sc.Timeout.Seconds() != 5 || sc.Principal != "deny" || sc.Workspace["docs/a.md"] != "# A" || sc.Expect[0].Line != 12 {
		t.Fatalf("parsed %+v", sc)
	}
	if k := sc.Expect[0].Kind(); k != "status" {
		t.Errorf("kind %q", k)
	}
}

func TestBuiltinSuiteCoversEveryPersonaAndMode(t *testing.T) {
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	personas := map[string]bool{}
	modes := map[string]bool{}
	for _, sc := range suite {
		for _, tag := range sc.Tags {
			if p, ok := strings.CutPrefix(tag, "persona:"); ok {
				personas[p] = true
			}
		}
		for _, m := range sc.Modes {
			modes[m] = true
		}
	}
	for _, p := range []string{"eager", "yes-man", "drifter", "silent", "over-asker", "looper", "malformed", "hallucinator", "quitter", "withholder", "prose"} {
		if !personas[p] {
			t.Errorf("no scenario for persona %s", p)
		}
	}
	for _, m := range evals.ModeIDs() {
		if !modes[m] {
			t.Errorf("no scenario targets %s", m)
		}
	}
	found := false
	for _, sc := range suite {
		found = found || slicesContains(sc.Tags, "baseline")
	}
	if !found {
		t.Error("no baseline scenario")
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestLoadSuite(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", validScenario)
	write("b.yml", strings.Replace(validScenario, "name: ok", "name: ok2", 1))
	write("notes.txt", "ignored")
	suite, err := evals.LoadSuite(dir)
	if err != nil || len(suite) != 2 || suite[0].Name != "ok" || suite[1].Name != "ok2" {
		t.Fatalf("suite %v, err %v", suite, err)
	}
	write("c.yaml", validScenario)
	if _, err := evals.LoadSuite(dir); err == nil || !strings.Contains(err.Error(), "duplicate scenario name \"ok\"") {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := evals.LoadSuite(t.TempDir()); err == nil {
		t.Fatal("an empty directory loads")
	}
	if _, err := evals.LoadSuite(filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatalf("a single file: %v", err)
	}
}
