package teamfile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

const good = `lead: lead
defaults:
  model: gpt-4o-mini
  budget: {steps: 20, wall_time: 2m}
agents:
  - name: lead
    role: Leads the work and delegates it.
    delegates_to: [worker]
    consults: [critic]
    budget: {tokens: 50000}
  - name: worker
    role: Writes short notes in the workspace.
    model: sim/eager
    tools: [write_file, read_file]
    supervision: {level: high, progress_every: 5}
  - name: critic
    role: Criticises.
`

func TestParseGood(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if f.Lead != "lead" || len(f.Agents) != 3 || f.Agents[1].Tools[0] != "write_file" {
		t.Fatalf("parsed %+v", f)
	}
	lead := f.Resolve(0)
	if lead.Model != "gpt-4o-mini" || lead.Budget.Steps != 20 || lead.Budget.Tokens != 50000 || lead.Budget.WallTime != "2m" {
		t.Errorf("lead resolved to %+v", lead)
	}
	w := f.Resolve(1)
	if w.Model != "sim/eager" || w.Supervision == nil || w.Supervision.Resolve().ProgressEvery != 5 {
		t.Errorf("worker resolved to %+v", w)
	}
}

// TestParseErrors pins every kind of error: each names the file, the line
// of the offending node and the field.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string
	}{
		{"unknown field", "lead: a\nagents:\n  - name: a\n    colour: red\n", 4, "agents[0].colour", `unknown field "colour"`},
		{"unknown top-level field", "lead: a\nteam: x\nagents:\n  - name: a\n", 2, "team", `unknown field "team"`},
		{"unknown budget field", "lead: a\nagents:\n  - name: a\n    budget:\n      stepz: 3\n", 5, "agents[0].budget.stepz", "known: steps, tokens, wall_time"},
		{"duplicate name", "lead: a\nagents:\n  - name: a\n  - name: b\n  - name: a\n", 5, "agents[2].name", `duplicate name "a" (also agents[0])`},
		{"unknown delegate", "lead: lead\nagents:\n  - name: lead\n    delegates_to: [worker]\n  - name: worker\n  - name: w2\n    delegates_to: [wrker]\n", 7, "agents[2].delegates_to", `unknown agent "wrker" (did you mean "worker"?)`},
		{"unknown delegate in block list", "lead: a\nagents:\n  - name: a\n    delegates_to:\n      - b\n      - nobody\n  - name: b\n", 6, "agents[0].delegates_to", `unknown agent "nobody"`},
		{"delegate to itself", "lead: a\nagents:\n  - name: a\n    delegates_to: [a]\n", 4, "agents[0].delegates_to", "cannot delegate to itself"},
		{"unknown consult", "lead: a\nagents:\n  - name: a\n    consults: [zed]\n", 4, "agents[0].consults", `unknown agent "zed"`},
		{"unknown tool", "lead: a\nagents:\n  - name: a\n    tools:\n      - read_file\n      - write_fle\n", 6, "agents[0].tools", `unknown tool "write_fle" (did you mean "write_file"?)`},
		{"protocol tool", "lead: a\nagents:\n  - name: a\n    tools: [delegate]\n", 4, "agents[0].tools", "protocol tool"},
		{"negative steps", "lead: a\nagents:\n  - name: a\n    budget:\n      steps: -1\n", 5, "agents[0].budget.steps", "negative"},
		{"negative tokens", "lead: a\ndefaults:\n  budget: {tokens: -5}\nagents:\n  - name: a\n", 3, "defaults.budget.tokens", "negative"},
		{"bad wall time", "lead: a\nagents:\n  - name: a\n    budget:\n      wall_time: 5 minutes\n", 5, "agents[0].budget.wall_time", `"5 minutes" is not a duration`},
		{"negative wall time", "lead: a\nagents:\n  - name: a\n    budget: {wall_time: -3s}\n", 4, "agents[0].budget.wall_time", "negative"},
		{"steps not a number", "lead: a\nagents:\n  - name: a\n    budget: {steps: many}\n", 4, "agents[0].budget.steps", `want a whole number, got "many"`},
		{"missing lead", "agents:\n  - name: a\n", 1, "lead", "missing"},
		{"unknown lead", "lead: boss\nagents:\n  - name: a\n", 1, "lead", `unknown agent "boss"`},
		{"no agents", "lead: a\n", 1, "agents", "no agents"},
		{"missing name", "lead: a\nagents:\n  - name: a\n  - role: nameless\n", 4, "agents[1].name", "missing"},
		{"bad name", "lead: a\nagents:\n  - name: a\n  - name: 2nd agent\n", 4, "agents[1].name", "not a valid name"},
		{"unknown grant", "lead: a\nagents:\n  - name: a\n    tools: [read_file]\ngrants: [read_file, rm]\n", 5, "grants", `unknown tool "rm"`},
		{"grant no one holds", "lead: a\nagents:\n  - name: a\n    tools: [read_file]\ngrants: [write_file]\n", 5, "grants", "no agent has the tool"},
		{"negative progress", "lead: a\nagents:\n  - name: a\n    supervision:\n      progress_every: -2\n", 5, "agents[0].supervision.progress_every", "negative"},
		{"syntax error", "lead: a\nagents: [\n  - name: a\n", 2, "", ""},
		{"duplicate key", "lead: a\nlead: b\nagents:\n  - name: a\n", 2, "", `"lead" already defined`},
		{"not a mapping", "- a\n- b\n", 1, "", "is a mapping"},
		{"empty file", "# nothing\n", 1, "", "empty"},
		{"agents not a list", "lead: a\nagents: a\n", 2, "agents", "want a list, got a string"},
		{"empty persona", "lead: a\nagents:\n  - name: a\n    model: sim/\n", 4, "agents[0].model", "persona"},
		{"context budget too small", "lead: a\nagents:\n  - name: a\n    context_tokens: 500\n", 4, "agents[0].context_tokens", "500 is too small"},
		{"negative default context budget", "lead: a\ndefaults:\n  context_tokens: -1\nagents:\n  - name: a\n", 3, "defaults.context_tokens", "too small"},
		{"unknown defaults field", "lead: a\ndefaults:\n  context: 9000\nagents:\n  - name: a\n", 3, "defaults.context", "context_tokens"},
		{"malformed check", "lead: a\nagents:\n  - name: a\n    checks:\n      - matches:notes.md\n", 5, "agents[0].checks", "matches needs a path and a pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := teamfile.Parse("team.yaml", []byte(tt.src))
			var e *teamfile.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want a *teamfile.Error", err, err)
			}
			if e.File != "team.yaml" || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got file %q line %d field %q msg %q\nwant line %d field %q msg containing %q", e.File, e.Line, e.Field, e.Msg, tt.line, tt.field, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "team.yaml:") {
				t.Errorf("rendered %q", err)
			}
		})
	}
}

func TestErrorRendering(t *testing.T) {
	e := &teamfile.Error{File: "team.yaml", Line: 7, Field: "agents[1].delegates_to", Msg: `unknown agent "wrker"`}
	if got, want := e.Error(), `team.yaml:7: agents[1].delegates_to: unknown agent "wrker"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e = &teamfile.Error{File: "team.yaml", Msg: "broken"}
	if got := e.Error(); got != "team.yaml: broken" {
		t.Errorf("got %s", got)
	}
}

func TestSeveralErrorsInLineOrder(t *testing.T) {
	src := "lead: a\nagents:\n  - name: a\n    tools: [nope]\n    delegates_to: [ghost]\n"
	_, err := teamfile.Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "t.yaml:4: agents[0].tools") || !strings.HasPrefix(lines[1], "t.yaml:5: agents[0].delegates_to") {
		t.Errorf("got\n%s", err)
	}
}

func TestParseWithCustomTools(t *testing.T) {
	src := "lead: a\nagents:\n  - name: a\n    tools: [search]\n"
	if _, err := teamfile.Parse("t.yaml", []byte(src)); err == nil {
		t.Fatal("search accepted as a built-in tool")
	}
	if _, err := teamfile.ParseWith("t.yaml", []byte(src), &teamfile.ParseOptions{Tools: []string{"search"}}); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "team.yaml")
	if err := os.WriteFile(path, []byte("lead: x\nagents:\n  - name: y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := teamfile.Load(path)
	var e *teamfile.Error
	if !errors.As(err, &e) || e.File != path || e.Line != 1 || e.Field != "lead" {
		t.Fatalf("got %v", err)
	}
	if _, err := teamfile.Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestDefault(t *testing.T) {
	f := teamfile.Default()
	if f.Lead != "lead" || len(f.Agents) != 3 {
		t.Fatalf("default team %+v", f)
	}
	var writer teamfile.AgentSpec
	for _, a := range f.Agents {
		if a.Name == "writer" {
			writer = a
		}
	}
	if strings.Join(writer.Tools, ",") != "write_file,read_file,list_files" {
		t.Errorf("writer tools %v", writer.Tools)
	}
	if f.Agents[0].DelegatesTo[0] != "writer" || f.Agents[0].Consults[0] != "reviewer" {
		t.Errorf("lead %+v", f.Agents[0])
	}
}

func workspaceTools(t *testing.T) map[string]agents.Tool {
	t.Helper()
	ws, err := workspace.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	tools := map[string]agents.Tool{}
	for _, tl := range ws.Tools() {
		tools[tl.Def().Name] = tl
	}
	return tools
}

func TestBuild(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	team, err := f.Build(&teamfile.BuildOptions{
		Tools: workspaceTools(t),
		Model: func(s teamfile.AgentSpec) (model.Model, error) {
			asked = append(asked, s.Name+"="+s.Model)
			return model.NewScripted(s.Model), nil
		},
		DefaultModel: "flag-model",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(asked, " "); got != "lead=flag-model worker=sim/eager critic=flag-model" {
		t.Errorf("models asked %s", got)
	}
	if team.Lead != "lead" || len(team.Members) != 3 {
		t.Fatalf("team %+v", team)
	}
	lead, worker := team.Members[0], team.Members[1]
	if lead.Budget != (agents.Budget{Steps: 20, Tokens: 50000, WallTime: 2 * time.Minute}) {
		t.Errorf("lead budget %+v", lead.Budget)
	}
	if len(worker.Agent.Tools) != 2 || worker.Agent.Tools[0].Def().Name != "write_file" || worker.Supervision.Level != "high" {
		t.Errorf("worker %+v", worker)
	}
	if _, err := orchestrator.New(team, nil); err != nil {
		t.Errorf("the runtime refuses the built team: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	// A tool the file names that the build does not provide.
	called := false
	_, err = f.Build(&teamfile.BuildOptions{Tools: map[string]agents.Tool{}, Model: func(teamfile.AgentSpec) (model.Model, error) {
		called = true
		return nil, nil
	}})
	var e *teamfile.Error
	if !errors.As(err, &e) || e.Line != 14 || e.Field != "agents[1].tools" || called {
		t.Errorf("got %v (model called: %v)", err, called)
	}
	// A model the caller cannot provide is reported at the agent's model.
	_, err = f.Build(&teamfile.BuildOptions{Tools: workspaceTools(t), Model: func(s teamfile.AgentSpec) (model.Model, error) {
		if s.Name == "worker" {
			return nil, errors.New(`no persona "eager"`)
		}
		return model.NewScripted(s.Name), nil
	}})
	if !errors.As(err, &e) || e.Line != 13 || e.Field != "agents[1].model" || !strings.Contains(e.Msg, "eager") {
		t.Errorf("got %v", err)
	}
	if _, err := f.Build(nil); err == nil {
		t.Error("Build(nil) succeeded")
	}
}

// TestBuiltTeamRuns runs a built team end to end on scripted models.
func TestBuiltTeamRuns(t *testing.T) {
	f := teamfile.Default()
	g := agents.Goal{Objective: "say hi"}
	team, err := f.Build(&teamfile.BuildOptions{Tools: workspaceTools(t), Model: func(s teamfile.AgentSpec) (model.Model, error) {
		acc := model.Call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: "say hi", Plan: []string{"answer"},
			AcknowledgedCriteria: []string{}, AcknowledgedConstraints: []string{}})
		done := model.Call(agents.ToolCompleteGoal, agents.Report{Result: "hi", Criteria: []agents.CriterionResult{}})
		switch s.Name {
		case "lead": // delegates, judges and verifies the writer, and reports
			return model.NewScripted("lead", model.Calls(acc),
				model.Calls(model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: "writer", Intent: "say hi", Objective: "say hi", Criteria: []string{}})),
				model.Calls(model.Call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: true})),
				model.Calls(model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept})),
				model.Calls(done)), nil
		case "writer":
			return model.NewScripted("writer", model.Calls(acc), model.Calls(done)), nil
		}
		return model.NewScripted(s.Name), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(team, &orchestrator.Options{Sinks: []orchestrator.Sink{mem}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := rt.Run(context.Background(), g)
	if err != nil || out.Report.Result != "hi" {
		t.Fatalf("outcome %+v, %v\n%s", out, err, protocoltest.Trace(mem.Events()))
	}
}

// TestREADMETeamFile keeps the README's team file valid.
func TestREADMETeamFile(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("no README:", err)
	}
	s := string(b)
	i := strings.Index(s, "## A team file\n\n```yaml\n")
	if i < 0 {
		t.Fatal("the README has no team file")
	}
	s = s[i+len("## A team file\n\n```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	if _, err := teamfile.Parse("README.md", []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestCountsAreWholeNumbers(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"budget: {tokens: 0.9}", "agents[0].budget.tokens"},
		{"budget: {steps: \"3\"}", "agents[0].budget.steps"},
		{"supervision: {progress_every: 1.5}", "agents[0].supervision.progress_every"},
		{"context_tokens: 8000.5", "agents[0].context_tokens"},
	} {
		doc := "lead: a\nagents:\n  - name: a\n    role: r\n    " + tc.yaml + "\n"
		_, err := teamfile.Parse("t.yaml", []byte(doc))
		var e *teamfile.Error
		if !errors.As(err, &e) || e.Field != tc.field || e.Line != 5 {
			t.Errorf("%s: got %v, want an error at t.yaml:5 %s", tc.yaml, err, tc.field)
		}
	}
	if _, err := teamfile.Parse("t.yaml", []byte("lead: a\nagents:\n  - name: a\n    role: r\n    budget: {steps: 3, tokens: 100}\n")); err != nil {
		t.Fatalf("whole numbers refused: %v", err)
	}
}

func TestSupervisionLevels(t *testing.T) {
	doc := "lead: a\nagents:\n  - name: a\n    role: r\n    supervision: {level: low, progress_every: 7}\n  - name: b\n    role: r\n    supervision: {model_verify: true}\n"
	f, err := teamfile.Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	low := f.Resolve(0).Supervision.Resolve()
	if low.Level != "low" || !low.ModelJudge || !low.ModelVerify || low.ProgressEvery != 7 || low.MaxRevisions != 1 {
		t.Errorf("level low with progress_every 7 resolved to %+v", low)
	}
	b := f.Resolve(1).Supervision.Resolve()
	if b.ModelJudge || !b.ModelVerify {
		t.Errorf("explicit fields resolved to %+v", b)
	}
	_, err = teamfile.Parse("t.yaml", []byte("lead: a\nagents:\n  - name: a\n    role: r\n    supervision: {level: bogus}\n"))
	var e *teamfile.Error
	if !errors.As(err, &e) || e.Field != "agents[0].supervision.level" {
		t.Fatalf("an unknown level: %v", err)
	}
}

// context_tokens is per agent, with defaults for the others, and reaches the
// agent the runtime runs.
func TestContextTokens(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte("lead: a\ndefaults:\n  context_tokens: 16000\nagents:\n  - name: a\n    delegates_to: [b]\n  - name: b\n    context_tokens: 8000\n"))
	if err != nil {
		t.Fatal(err)
	}
	team, err := f.Build(&teamfile.BuildOptions{Tools: workspaceTools(t),
		Model: func(s teamfile.AgentSpec) (model.Model, error) { return model.NewScripted("local"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := team.Members[0].Agent, team.Members[1].Agent; a.ContextTokens != 16000 || b.ContextTokens != 8000 || b.ContextBudget() != 8000 {
		t.Fatalf("context tokens: a %d, b %d", a.ContextTokens, b.ContextTokens)
	}
}

// An agent's checks are read as --verify's and reach the member.
func TestBuildChecks(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte("lead: a\nagents:\n  - name: a\n    checks: [\"exists:notes.md\", \"absent:secrets.env\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	team, err := f.Build(&teamfile.BuildOptions{Tools: workspaceTools(t), Model: func(s teamfile.AgentSpec) (model.Model, error) {
		return model.NewScripted(s.Name), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []agents.CheckSpec{{Kind: "file_exists", Path: "notes.md"}, {Kind: "file_absent", Path: "secrets.env"}}
	if got := team.Members[0].Checks; !slices.Equal(got, want) {
		t.Fatalf("checks %+v", got)
	}
	if _, err := orchestrator.New(team, nil); err != nil {
		t.Fatal(err)
	}
}

func TestModelList(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(`lead: a
agents:
  - name: a
    model: [gpt-4o-mini, {name: local-qwen, base_url: "http://127.0.0.1:11434/v1", api_key_env: LOCAL_KEY}]
  - name: b
    model: solo-model
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Resolve(0), f.Resolve(1)
	want := []teamfile.ModelRef{{Name: "gpt-4o-mini"}, {Name: "local-qwen", BaseURL: "http://127.0.0.1:11434/v1", APIKeyEnv: "LOCAL_KEY"}}
	if a.Model != "gpt-4o-mini" || !reflect.DeepEqual(a.Models, want) {
		t.Errorf("a: model %q, models %+v", a.Model, a.Models)
	}
	if b.Model != "solo-model" || b.Models != nil {
		t.Errorf("b: model %q, models %+v", b.Model, b.Models)
	}
	for _, bad := range []struct{ model, msg string }{
		{"[]", "empty list"},
		{"[{base_url: \"http://x\"}]", "no name"},
		{"[{name: m, base_url: \"ftp://x\"}]", "not an http(s) URL"},
		{"[{name: m, bogus: 1}]", "bogus"},
		{"[[m]]", "want a model name"},
	} {
		_, err := teamfile.Parse("team.yaml", []byte("lead: a\nagents:\n  - name: a\n    model: "+bad.model+"\n"))
		if err == nil || !strings.Contains(err.Error(), bad.msg) || !strings.Contains(err.Error(), "team.yaml:4") {
			t.Errorf("model: %s: %v, want an error at line 4 saying %q", bad.model, err, bad.msg)
		}
	}
}
