package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// TestJournalIsAlwaysReadable: arguments nested 10,000 deep, or not valid
// UTF-8, are stored as JSON strings, so the journal the writer wrote is one the
// reader reads.
func TestJournalIsAlwaysReadable(t *testing.T) {
	deep := strings.Repeat("[", 9_998) + strings.Repeat("]", 9_998)
	for name, args := range map[string]string{
		"deep":        `{"x":` + deep + `}`,
		"65 levels":   `{"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
		"invalid utf": "{\"x\":\"\xff\xfe\"}",
	} {
		t.Run(name, func(t *testing.T) {
			turn := 0
			m := model.ScriptFunc("m", func(_ context.Context, req *model.Request) (*model.Response, error) {
				turn++
				c := model.ToolCall{Name: "act", Arguments: json.RawMessage(args)}
				switch turn {
				case 1:
					c = accept(noteGoal)
				case 3:
					c = complete(noteGoal, "done")
				}
				return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
			})
			act := newRecorder(t, "act")
			var buf bytes.Buffer
			j := orchestrator.NewJournal(&buf)
			rt, _ := newRuntime(t, solo(m, act.tool), &orchestrator.Options{Sinks: []orchestrator.Sink{j}})
			rt.Run(t.Context(), noteGoal)
			events, truncated, err := orchestrator.ReadJournal(&buf)
			if err != nil || truncated {
				t.Fatalf("the journal does not read back: %v (truncated %v)", err, truncated)
			}
			var stored int
			for _, e := range events {
				if e.Tool == "act" && len(e.Arguments) > 0 && e.Arguments[0] == '"' {
					stored++
				}
			}
			if stored == 0 {
				t.Errorf("the arguments were not stored as a string")
			}
		})
	}
}
