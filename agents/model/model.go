// Package model defines the small interface entrust speaks to language models
// through, the types of a chat request and response with tool calls, and the
// decorators every provider shares: retries with backoff and a trace of each
// call. Providers live in sub-packages (openai, langchain); the scripted model
// in this package serves tests, demos and evals.
package model

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
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
	// IsError marks a tool message that reports a failed or refused call,
	// as MCP's CallToolResult.isError: the model layer reads the flag
	// instead of guessing from the content. Providers whose wire format has
	// no such flag leave it out.
	IsError bool `json:"is_error,omitempty"`
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
	// Metadata is what the caller knows of the request's place in its
	// work, for scripted models and simulators, which read it instead of
	// parsing prompts. Providers ignore it and never send it.
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Purpose names why a model is called.
type Purpose string

// The purposes of a model call in a delegation.
const (
	// PurposeTurn is a turn of a delegate's own conversation.
	PurposeTurn Purpose = "turn"
	// PurposeJudge asks a delegator to judge a delegate's acceptance.
	PurposeJudge Purpose = "judge"
	// PurposeAnswer asks a delegator to answer a delegate's escalation.
	PurposeAnswer Purpose = "answer"
	// PurposeVerify asks a delegator to verify a delegate's report.
	PurposeVerify Purpose = "verify"
	// PurposeConsult asks a peer for advice.
	PurposeConsult Purpose = "consult"
	// PurposeCompact asks an agent's model to fold the older turns of its
	// conversation into a summary, to fit its context budget.
	PurposeCompact Purpose = "compact"
)

// Phase is where a delegate's own conversation stands.
type Phase string

// The phases of a delegate's conversation.
const (
	// PhaseOffered: the goal is offered and not yet accepted, or the
	// acceptance is not yet judged aligned.
	PhaseOffered Phase = "offered"
	// PhaseWorking: the acceptance was judged aligned; the delegate acts.
	PhaseWorking Phase = "working"
)

// Metadata is structured context a runtime attaches to a Request. It
// describes, it never instructs: what a model must do is in the messages.
type Metadata struct {
	// Purpose is why the model is called.
	Purpose Purpose `json:"purpose,omitempty"`
	// Phase is set on PurposeTurn requests.
	Phase Phase `json:"phase,omitempty"`
	// Agent is who is asked; Delegation the delegation it is asked in.
	Agent      string `json:"agent,omitempty"`
	Delegation string `json:"delegation,omitempty"`
	// Delegate is, for a judgement, an answer or a verification, the
	// delegate whose act is in question.
	Delegate string `json:"delegate,omitempty"`
	// The goal in question: the delegate's own for a turn, the delegate's
	// for a judgement, an answer or a verification.
	Intent      string   `json:"intent,omitempty"`
	Objective   string   `json:"objective,omitempty"`
	Criteria    []string `json:"criteria,omitempty"`
	Constraints []string `json:"constraints,omitempty"`
	// Tools are the action tools granted in the delegation.
	Tools []string `json:"tools,omitempty"`
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

// StableCallID makes the id of a tool call a provider returned without one,
// from what identifies it (the response, the conversation's length, the
// call's index, name and arguments): the same fields give the same id, so a
// replayed run gets the ids it recorded.
func StableCallID(fields ...string) string {
	h := fnv.New64a()
	for i, f := range fields {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(f))
	}
	return fmt.Sprintf("call_%016x", h.Sum64())
}
