package model_test

import (
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
)

func TestKnownContextWindow(t *testing.T) {
	for name, want := range map[string]int{
		"gpt-4o-mini":              128_000,
		"GPT-4.1-mini":             1_047_576,
		"gpt-4":                    8_192,
		"o1-mini":                  128_000,
		"Qwen/Qwen2.5-7B-Instruct": 32_768,
		"llama3.1:8b":              131_072,
		"llama3:8b":                8_192,
		"claude-3-5-sonnet-latest": 200_000,
		"sim":                      0,
		"my-finetune":              0,
		"":                         0,
	} {
		if got := model.KnownContextWindow(name); got != want {
			t.Errorf("KnownContextWindow(%q) = %d, want %d", name, got, want)
		}
	}
}

type windowed struct {
	model.Func
	n int
}

func (w windowed) ContextWindow() int { return w.n }

// What the provider says wins over the table; a wrapper passes it through.
func TestContextWindowAsksTheProviderFirst(t *testing.T) {
	m := windowed{n: 4096}
	if got := model.ContextWindow(m); got != 4096 {
		t.Fatalf("ContextWindow = %d, want the provider's 4096", got)
	}
	if got := model.ContextWindow(model.WithRetry(m, nil)); got != 4096 {
		t.Fatalf("through WithRetry: %d, want 4096", got)
	}
	if got := model.ContextWindow(model.NewScripted("gpt-4o")); got != 128_000 {
		t.Fatalf("by name: %d, want 128000", got)
	}
}

func TestEstimatePromptIsWhatEstimateUsageReports(t *testing.T) {
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hello there"},
		{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{model.Call("t", map[string]int{"a": 1})}}},
		Tools: []model.ToolDef{{Name: "t", Description: "d", Parameters: []byte(`{}`)}}}
	if u := model.EstimateUsage(req, &model.Message{}); u.PromptTokens != model.EstimatePrompt(req) {
		t.Fatalf("EstimateUsage %d, EstimatePrompt %d", u.PromptTokens, model.EstimatePrompt(req))
	}
	if model.EstimatePrompt(req) <= model.EstimateMessages(req.Messages) {
		t.Fatal("the tools' definitions count too")
	}
}
