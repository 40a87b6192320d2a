package sim

import (
	"encoding/json"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

// step is one tool call the model made earlier in the conversation, with the
// result it got.
type step struct {
	ID       string
	Name     string
	Args     json.RawMessage
	Result   string
	Answered bool
	// IsError is the tool message's flag: the call failed or was refused.
	IsError bool
}

// failed reports whether the step's call failed: its tool message says so
// (IsError), or, for delegate, the delegation it made did not complete.
func (s *step) failed() bool {
	if !s.Answered {
		return false
	}
	if s.Name == agents.ToolDelegate {
		var out struct {
			Status string `json:"status"`
		}
		if json.Unmarshal([]byte(strings.TrimSpace(s.Result)), &out) == nil && out.Status != "" {
			return out.Status != "completed"
		}
	}
	return s.IsError
}

// looksLikeError reports whether a tool result reads as an error: the
// simulator's reading of a conversation that reached it over a wire
// (OpenAI's chat format has no error flag on tool messages), where the
// runtime's IsError and Metadata are lost.
func looksLikeError(r string) bool {
	l := strings.ToLower(r)
	if len(l) > 300 {
		l = l[:300]
	}
	for _, p := range []string{"refused", "error", "invalid arguments", "not run", "rejected", "revise", "unknown tool", "your acceptance is not aligned"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	for _, s := range []string{" failed: ", " failed:", "escapes the workspace", "does not exist", "permission denied",
		"is a directory", "not a directory", "not valid json", "is not allowed", "limit of", "not utf-8", "not aligned"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// outcome is a delegation's result as the runtime returns it from delegate.
type outcome struct {
	Delegation string                   `json:"delegation"`
	Agent      string                   `json:"agent"`
	Status     string                   `json:"status"`
	Result     string                   `json:"result"`
	Criteria   []agents.CriterionResult `json:"criteria"`
	Reason     string                   `json:"reason"`
}

// outcomeOf decodes a delegate step's result; ok is false when the result is
// not the runtime's outcome (a refusal, a custom tool).
func (s *step) outcomeOf() (outcome, bool) {
	var o outcome
	if json.Unmarshal([]byte(strings.TrimSpace(s.Result)), &o) != nil || o.Status == "" {
		return o, false
	}
	return o, true
}

// arg returns the string argument key of the step, "" if absent.
func (s *step) arg(key string) string {
	var m map[string]any
	if json.Unmarshal(s.Args, &m) != nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}

// readSteps lists the tool calls of msgs in order, each with its result.
// flagged says the tool messages carry the runtime's IsError; otherwise the
// results are read for errors (see looksLikeError).
func readSteps(msgs []model.Message, flagged bool) []step {
	var steps []step
	byID := map[string]int{}
	for _, m := range msgs {
		switch m.Role {
		case model.RoleAssistant:
			for _, c := range m.ToolCalls {
				if c.ID != "" {
					byID[c.ID] = len(steps)
				}
				steps = append(steps, step{ID: c.ID, Name: c.Name, Args: c.Arguments})
			}
		case model.RoleTool:
			if i, ok := byID[m.ToolCallID]; ok {
				steps[i].Result, steps[i].Answered, steps[i].IsError = m.Content, true, m.IsError
				if !flagged {
					steps[i].IsError = looksLikeError(m.Content)
				}
			}
		}
	}
	return steps
}

// workingSteps returns the steps after the acceptance that was judged
// aligned: the working phase. Without one, every step counts.
func workingSteps(steps []step) []step {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Name == agents.ToolAcceptGoal && steps[i].Answered && !steps[i].failed() {
			return steps[i+1:]
		}
	}
	return steps
}

// lastUser returns the content of the last user message.
func lastUser(msgs []model.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == model.RoleUser {
			return msgs[i].Content
		}
	}
	return ""
}

// systemPrompt returns the content of the first system message.
func systemPrompt(msgs []model.Message) string {
	for _, m := range msgs {
		if m.Role == model.RoleSystem {
			return m.Content
		}
	}
	return ""
}

// lastAssistantCalled reports whether the last assistant message called
// name.
func lastAssistantCalled(msgs []model.Message, name string) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role != model.RoleAssistant {
			continue
		}
		for _, c := range msgs[i].ToolCalls {
			if c.Name == name {
				return true
			}
		}
		return false
	}
	return false
}

// count returns how many steps called name.
func count(steps []step, name string) int {
	n := 0
	for i := range steps {
		if steps[i].Name == name {
			n++
		}
	}
	return n
}

// last returns the last step that called name, or nil.
func last(steps []step, name string) *step {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Name == name {
			return &steps[i]
		}
	}
	return nil
}

// enum returns the values a tool's string property is restricted to.
func enum(def model.ToolDef, prop string) []string {
	var s struct {
		Properties map[string]struct {
			Enum  []string `json:"enum"`
			Items *struct {
				Enum []string `json:"enum"`
			} `json:"items"`
		} `json:"properties"`
	}
	if json.Unmarshal(def.Parameters, &s) != nil {
		return nil
	}
	p := s.Properties[prop]
	if len(p.Enum) == 0 && p.Items != nil {
		return p.Items.Enum
	}
	return p.Enum
}

// required returns the required properties of a tool's schema.
func required(def model.ToolDef) []string {
	var s struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(def.Parameters, &s)
	return s.Required
}
