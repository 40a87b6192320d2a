package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

type greetArgs struct {
	Name  string `json:"name" jsonschema:"minLength=1"`
	Times int    `json:"times,omitempty" jsonschema:"minimum=1,maximum=3"`
}

func greetTool(t *testing.T) agents.Tool {
	t.Helper()
	tool, err := agents.NewTool("greet", "greets", func(_ context.Context, in greetArgs) (map[string]string, error) {
		if in.Name == "boom" {
			panic("kaboom")
		}
		if in.Name == "err" {
			return nil, errors.New("no such person")
		}
		return map[string]string{"greeting": strings.Repeat("hi "+in.Name+" ", max(in.Times, 1))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

func TestToolSchemaIsFlatAndStrict(t *testing.T) {
	def := greetTool(t).Def()
	var s map[string]any
	if err := json.Unmarshal(def.Parameters, &s); err != nil {
		t.Fatal(err)
	}
	if _, ok := s["$schema"]; ok {
		t.Error("schema has $schema")
	}
	if _, ok := s["$ref"]; ok {
		t.Error("schema uses references")
	}
	if s["additionalProperties"] != false || s["type"] != "object" {
		t.Errorf("schema %s", def.Parameters)
	}
	if req, _ := s["required"].([]any); len(req) != 1 || req[0] != "name" {
		t.Errorf("required %v, want [name]", s["required"])
	}
}

func TestToolArgumentsAreValidatedBeforeRunning(t *testing.T) {
	tool := greetTool(t)
	cases := []struct {
		args    string
		isError bool
		want    string
	}{
		{`{"name":"Ada"}`, false, `hi Ada`},
		{`{"name":"Ada","times":2}`, false, `hi Ada hi Ada`},
		{`{}`, true, "missing property"},
		{``, true, "missing property"},
		{`{"name":""}`, true, "minLength"},
		{`{"name":"Ada","times":9}`, true, "maximum"},
		{`{"name":"Ada","extra":1}`, true, "additional"},
		{`{"name":42}`, true, "string"},
		{`{"name":"Ada"`, true, "not valid JSON"},
		{`not json`, true, "not valid JSON"},
		{`{"name":"boom"}`, true, "internal error: kaboom"},
		{`{"name":"err"}`, true, "no such person"},
	}
	for _, tc := range cases {
		res := tool.Call(t.Context(), json.RawMessage(tc.args))
		if res.IsError != tc.isError || !strings.Contains(strings.ToLower(res.Content), strings.ToLower(tc.want)) {
			t.Errorf("args %s: got %+v, want error=%v containing %q", tc.args, res, tc.isError, tc.want)
		}
	}
}

func TestEnumsRestrictProperties(t *testing.T) {
	tool, err := agents.DefineTool(agents.ToolSpec{Name: agents.ToolDelegate, Enums: map[string][]string{"agent": {"a", "b"}, "tools": {"x"}}},
		func(context.Context, agents.DelegateArgs) (agents.Result, error) {
			return agents.Result{Content: "ok"}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	ok := `{"agent":"a","intent":"i","objective":"o","criteria":[],"tools":["x"]}`
	if res := tool.Call(t.Context(), json.RawMessage(ok)); res.IsError {
		t.Fatalf("valid call refused: %s", res.Content)
	}
	for _, bad := range []string{
		`{"agent":"c","intent":"i","objective":"o","criteria":[]}`,
		`{"agent":"a","intent":"i","objective":"o","criteria":[],"tools":["y"]}`,
	} {
		if res := tool.Call(t.Context(), json.RawMessage(bad)); !res.IsError {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := agents.DefineTool(agents.ToolSpec{Name: "x", Enums: map[string][]string{"nope": {"a"}}},
		func(context.Context, agents.DelegateArgs) (agents.Result, error) { return agents.Result{}, nil }); err == nil {
		t.Fatal("an enum for an unknown property was accepted")
	}
}

func TestAgentValidate(t *testing.T) {
	tool := greetTool(t)
	shadow, _ := agents.NewTool(agents.ToolAcceptGoal, "", func(context.Context, struct{}) (string, error) { return "", nil })
	cases := map[string]*agents.Agent{
		"bad name":        {Name: "1x", Model: nil},
		"protocol shadow": {Name: "a", Tools: []agents.Tool{shadow}},
		"duplicate tool":  {Name: "a", Tools: []agents.Tool{tool, tool}},
	}
	for name, a := range cases {
		if err := a.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The protocol's Go types marshal to what their schemas accept: a list the
// schema requires is [] when nil, never null.
func TestProtocolTypesMarshalToTheirSchemas(t *testing.T) {
	check := func(t *testing.T, name string, v any, tool agents.Tool) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if res := tool.Call(t.Context(), b); res.IsError {
			t.Errorf("%s %s: %s", name, b, res.Content)
		}
	}
	ok := func(context.Context, any) (agents.Result, error) { return agents.Result{}, nil }
	accept, _ := agents.DefineTool(agents.ToolSpec{Name: "a"}, func(ctx context.Context, a agents.Acceptance) (agents.Result, error) { return ok(ctx, a) })
	report, _ := agents.DefineTool(agents.ToolSpec{Name: "r"}, func(ctx context.Context, r agents.Report) (agents.Result, error) { return ok(ctx, r) })
	deleg, _ := agents.DefineTool(agents.ToolSpec{Name: "d"}, func(ctx context.Context, d agents.DelegateArgs) (agents.Result, error) { return ok(ctx, d) })
	check(t, "acceptance", agents.Acceptance{RestatedIntent: "why", Plan: []string{"do it"}}, accept)
	check(t, "report", agents.Report{Result: "done"}, report)
	check(t, "delegate", agents.DelegateArgs{Agent: "w", Intent: "why", Objective: "what"}, deleg)
	check(t, "report by pointer", &agents.Report{Result: "done"}, report)
}

// A definition that shows some properties leaves the others out of what the
// model sees, while calls are validated against the whole schema.
func TestShownProperties(t *testing.T) {
	spec := agents.ToolSpec{Name: "greet", Description: "greets; optional: times (1-3)", Shown: []string{"name"}}
	var got greetArgs
	tool, err := agents.DefineTool(spec, func(_ context.Context, in greetArgs) (agents.Result, error) {
		got = in
		return agents.Result{Content: "ok"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	if err := json.Unmarshal(tool.Def().Parameters, &s); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Properties["times"]; ok || s.Properties["name"] == nil || len(s.Required) != 1 {
		t.Fatalf("shown %s, want name alone", tool.Def().Parameters)
	}
	if res := tool.Call(t.Context(), []byte(`{"name":"Ada","times":2}`)); res.IsError || got.Times != 2 {
		t.Fatalf("a property left out of the definition was not taken: %+v %+v", res, got)
	}
	if res := tool.Call(t.Context(), []byte(`{"name":"Ada","times":9}`)); !res.IsError || !strings.Contains(res.Content, "/times") {
		t.Fatalf("a property left out of the definition was not validated: %+v", res)
	}
	for _, shown := range [][]string{{"times"}, {"name", "nmae"}} {
		spec.Shown = shown
		if _, err := agents.DefineTool(spec, func(context.Context, greetArgs) (agents.Result, error) { return agents.Result{}, nil }); err == nil {
			t.Errorf("shown %v: no error (a required property hidden, or an unknown one shown)", shown)
		}
	}
}

// A nested name shows only the named properties of an array's objects;
// the hidden ones are still validated and taken when sent.
func TestShownNestedProperties(t *testing.T) {
	var got agents.Report
	fn := func(_ context.Context, in agents.Report) (agents.Result, error) {
		got = in
		return agents.Result{Content: "ok"}, nil
	}
	spec := agents.ToolSpec{Name: agents.ToolCompleteGoal, Shown: []string{"result", "criteria", "criteria.met", "criteria.evidence"}}
	tool, err := agents.DefineTool(spec, fn)
	if err != nil {
		t.Fatal(err)
	}
	shown := string(tool.Def().Parameters)
	if strings.Contains(shown, `"criterion"`) || strings.Contains(shown, `"cites"`) || !strings.Contains(shown, `"met"`) || !strings.Contains(shown, `"evidence"`) {
		t.Fatalf("shown %s, want criteria with met and evidence alone", shown)
	}
	if res := tool.Call(t.Context(), []byte(`{"result":"r","criteria":[{"criterion":"c","met":true,"cites":["a.md"]}]}`)); res.IsError ||
		got.Criteria[0].Criterion != "c" || got.Criteria[0].Cites[0] != "a.md" {
		t.Fatalf("nested properties left out of the definition were not taken: %+v %+v", res, got)
	}
	if res := tool.Call(t.Context(), []byte(`{"result":"r","criteria":[{"criterion":"","met":true}]}`)); !res.IsError {
		t.Fatalf("a nested property left out of the definition was not validated: %+v", res)
	}
	for _, shown := range [][]string{
		{"result", "criteria", "criteria.evidence"},     // criteria.met is required
		{"result", "criteria", "criteria.nope"},         // no such property
		{"result", "criteria", "constraints.respected"}, // constraints is not shown
	} {
		spec.Shown = shown
		if _, err := agents.DefineTool(spec, fn); err == nil {
			t.Errorf("shown %v: no error", shown)
		}
	}
}

// A protocol tool is shown lean — no bounds, no additionalProperties — and
// validated against its whole schema all the same.
func TestProtocolDefinitionsAreLean(t *testing.T) {
	tool, err := agents.DefineTool(agents.ToolSpec{Name: agents.ToolEscalate}, func(context.Context, agents.EscalateArgs) (agents.Result, error) {
		return agents.Result{Content: "answered"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := string(tool.Def().Parameters)
	for _, kw := range []string{"additionalProperties", "minLength", "maxLength", "maxItems"} {
		if strings.Contains(shown, kw) {
			t.Errorf("escalate is shown with %s: %s", kw, shown)
		}
	}
	if !strings.Contains(shown, `"enum"`) || !strings.Contains(shown, `"required":["kind","question"]`) {
		t.Errorf("escalate is shown without its enum or required fields: %s", shown)
	}
	if strings.Index(shown, `"kind"`) > strings.Index(shown, `"question"`) {
		t.Errorf("escalate's properties are not in the order of its fields: %s", shown)
	}
	for _, args := range []string{`{"kind":"risk","question":""}`, `{"kind":"risk","question":"q","extra":1}`, `{"kind":"risk","question":"` + strings.Repeat("x", agents.MaxText+1) + `"}`} {
		if res := tool.Call(t.Context(), []byte(args)); !res.IsError {
			t.Errorf("%.60s… passed: the whole schema is not enforced", args)
		}
	}
}
