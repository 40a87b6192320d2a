package agents_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/entrust-dev/entrust/agents"
)

// FuzzToolArguments: any arguments a model writes are validated against the
// tool's schema before the handler runs; what reaches the handler is what the
// schema allows (here accept_goal's, bounds included), and nothing panics.
func FuzzToolArguments(f *testing.F) {
	ran := 0
	tool, err := agents.DefineTool(agents.ToolSpec{Name: agents.ToolAcceptGoal}, func(_ context.Context, a agents.Acceptance) (agents.Result, error) {
		ran++
		if a.RestatedIntent == "" || len(a.Plan) == 0 || len(a.Plan) > agents.MaxItems || len([]rune(a.RestatedIntent)) > agents.MaxText {
			return agents.Result{}, errHandler
		}
		if a.Confidence < 0 || a.Confidence > 1 {
			return agents.Result{}, errHandler
		}
		return agents.Result{Content: "ok"}, nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"restated_intent":"why","plan":["do"],"acknowledged_criteria":[],"acknowledged_constraints":[]}`))
	f.Add([]byte(`{"restated_intent":"","plan":[]}`))
	f.Add([]byte(`{"restated_intent":"x","plan":["a"],"acknowledged_criteria":[],"acknowledged_constraints":[],"confidence":1e308}`))
	f.Add([]byte(`{"restated_intent":"x","plan":["a"],"acknowledged_criteria":[],"acknowledged_constraints":[],"extra":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`))
	f.Add([]byte("{\"restated_intent\":\"\xff\",\"plan\":[\"a\"],\"acknowledged_criteria\":[],\"acknowledged_constraints\":[]}"))
	f.Fuzz(func(t *testing.T, args []byte) {
		before := ran
		res := tool.Call(t.Context(), json.RawMessage(args))
		if ran > before && res.IsError {
			t.Fatalf("arguments the schema should refuse reached the handler: %s → %+v", args, res)
		}
	})
}

var errHandler = handlerError("the handler got arguments outside the schema")

type handlerError string

func (e handlerError) Error() string { return string(e) }
