// Package model defines the small interface entrust speaks to language models
// through, the types of a chat request and response with tool calls, and the
// decorators every provider shares: retries with backoff and a trace of each
// call. Providers live in sub-packages (openai, langchain); the scripted model
// in this package serves tests, demos and evals.
package model

import (
	"context"
	"encoding/json"
)

// Role is the author of a message in a conversation.
type Role string

// The roles of a chat conversation.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// Message is one turn of a conversation.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message asks for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID names the call a tool message answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// Name is the tool's name on a tool message.
	Name string `json:"name,omitempty"`
}

// ToolCall is a model's request to run a tool. Arguments are the raw JSON the
// model wrote; they are validated by the tool, never trusted.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ToolDef describes a tool to the model: its name, what it is for and the
// JSON schema of its arguments.
type ToolDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// ToolChoiceMode says whether the model may, must or must not call a tool.
type ToolChoiceMode string

// Tool choice modes. The zero value is ChoiceAuto.
const (
	ChoiceAuto     ToolChoiceMode = ""
	ChoiceRequired ToolChoiceMode = "required"
	ChoiceNone     ToolChoiceMode = "none"
)

// ToolChoice constrains the model's next turn. With Name set, the model must
// call that tool.
type ToolChoice struct {
	Mode ToolChoiceMode `json:"mode,omitempty"`
	Name string         `json:"name,omitempty"`
}

// Request is one call to a model. Providers must not modify it (the same
// request value may be shared by goroutines) nor keep it once Generate has
// returned: a caller may reuse it for its next call.
type Request struct {
	// Model overrides the provider's default model name when set.
	Model       string     `json:"model,omitempty"`
	Messages    []Message  `json:"messages"`
	Tools       []ToolDef  `json:"tools,omitempty"`
	ToolChoice  ToolChoice `json:"tool_choice,omitzero"`
	Temperature *float64   `json:"temperature,omitempty"`
	MaxTokens   int        `json:"max_tokens,omitempty"`
	// ParallelToolCalls, when set, tells the model whether it may ask for
	// several tool calls in one turn.
	ParallelToolCalls *bool `json:"parallel_tool_calls,omitempty"`
	// Seed asks providers that support it for reproducible sampling.
	Seed *int `json:"seed,omitempty"`
}

// Usage counts the tokens of one call.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	CachedTokens     int `json:"cached_tokens,omitempty"`
}

// Total is prompt plus completion tokens.
func (u Usage) Total() int { return u.PromptTokens + u.CompletionTokens }

// Add returns the sum of two usages.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		CachedTokens:     u.CachedTokens + v.CachedTokens,
	}
}

// Response is a model's answer: one assistant message, possibly with tool calls.
type Response struct {
	Message Message `json:"message"`
	Usage   Usage   `json:"usage"`
	// FinishReason is the provider's reason, normalised: "tool_calls" whenever
	// the message carries tool calls, whatever the server said.
	FinishReason string `json:"finish_reason,omitempty"`
	// Model is the model name the provider reports having used.
	Model string `json:"model,omitempty"`
}

// Model is a chat model that can call tools. Implementations must be safe for
// concurrent use.
type Model interface {
	// Name is the model's name as reported in events, e.g. "gpt-4o-mini".
	Name() string
	// Generate answers one request.
	Generate(ctx context.Context, req *Request) (*Response, error)
}

// ProviderOf returns the provider's name of m when it reports one (a Model
// with a Provider() string method), else "".
func ProviderOf(m Model) string {
	if p, ok := m.(interface{ Provider() string }); ok {
		return p.Provider()
	}
	if u, ok := m.(interface{ Unwrap() Model }); ok {
		return ProviderOf(u.Unwrap())
	}
	return ""
}

// Func adapts a function to the Model interface, like http.HandlerFunc.
type Func func(ctx context.Context, req *Request) (*Response, error)

// Generate calls f.
func (f Func) Generate(ctx context.Context, req *Request) (*Response, error) { return f(ctx, req) }

// Name returns "func".
func (f Func) Name() string { return "func" }
