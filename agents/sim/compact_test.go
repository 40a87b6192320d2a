package sim_test

import (
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
)

// Asked to fold older turns into a summary, the simulator sums up the calls
// it is shown after the summary so far, in prose.
func TestSimulatorSummarizesFoldedTurns(t *testing.T) {
	folded := []model.Message{
		{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{model.Call("read_file", map[string]string{"path": "a.md"})}},
		{Role: model.RoleTool, Name: "read_file", Content: "alpha"},
		{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{model.Call("read_file", map[string]string{"path": "b.md"}),
			model.Call("write_file", map[string]string{"path": "c.md"})}},
	}
	req := &model.Request{Messages: []model.Message{{Role: model.RoleSystem, Content: "You are w."},
		{Role: model.RoleUser, Content: agents.FoldRequest("I listed the files.", folded)}}}
	resp, err := sim.New("w", nil).Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Message.Content
	if len(resp.Message.ToolCalls) > 0 || !strings.HasPrefix(got, "I listed the files.") ||
		!strings.Contains(got, "read_file ×2, write_file ×1") || !strings.Contains(got, `write_file {"path":"c.md"}`) {
		t.Fatalf("summary:\n%s", got)
	}
}
