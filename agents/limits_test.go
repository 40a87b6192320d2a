package agents_test

import (
	"encoding/json"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

// unbounded returns the paths of the strings and arrays in a schema that set
// no maxLength or maxItems.
func unbounded(path string, s map[string]any) []string {
	var out []string
	switch s["type"] {
	case "string":
		if _, ok := s["maxLength"]; !ok && s["enum"] == nil {
			out = append(out, path)
		}
	case "array":
		if _, ok := s["maxItems"]; !ok {
			out = append(out, path)
		}
		if items, ok := s["items"].(map[string]any); ok {
			out = append(out, unbounded(path+"[]", items)...)
		}
	case "object":
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			out = append(out, unbounded(path+"."+name, p.(map[string]any))...)
		}
	}
	return out
}

func TestProtocolSchemasAreBounded(t *testing.T) {
	schemas := map[string]func() (json.RawMessage, error){
		agents.ToolAcceptGoal:       func() (json.RawMessage, error) { return agents.SchemaFor[agents.Acceptance](nil) },
		agents.ToolDeclineGoal:      func() (json.RawMessage, error) { return agents.SchemaFor[agents.Decline](nil) },
		agents.ToolAskClarification: func() (json.RawMessage, error) { return agents.SchemaFor[agents.Clarification](nil) },
		agents.ToolEscalate:         func() (json.RawMessage, error) { return agents.SchemaFor[agents.EscalateArgs](nil) },
		agents.ToolConsult:          func() (json.RawMessage, error) { return agents.SchemaFor[agents.ConsultArgs](nil) },
		agents.ToolReportProgress:   func() (json.RawMessage, error) { return agents.SchemaFor[agents.ProgressReport](nil) },
		agents.ToolCompleteGoal:     func() (json.RawMessage, error) { return agents.SchemaFor[agents.Report](nil) },
		agents.ToolDelegate:         func() (json.RawMessage, error) { return agents.SchemaFor[agents.DelegateArgs](nil) },
		agents.ToolJudgeAlignment:   func() (json.RawMessage, error) { return agents.SchemaFor[agents.Alignment](nil) },
		agents.ToolAnswerEscalation: func() (json.RawMessage, error) { return agents.SchemaFor[agents.AnswerArgs](nil) },
		agents.ToolVerifyReport:     func() (json.RawMessage, error) { return agents.SchemaFor[agents.Verification](nil) },
	}
	for name, f := range schemas {
		raw, err := f()
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if u := unbounded(name, s); len(u) > 0 {
			t.Errorf("unbounded in the schema the model sees: %v", u)
		}
	}
}
