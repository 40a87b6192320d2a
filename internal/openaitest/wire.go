package openaitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// ChatRequest is a chat completion request as the server received it. Fields
// the clients may leave out are pointers, so tests can tell "absent" from
// "zero".
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Tools               []Tool          `json:"tools,omitempty"`
	ToolChoice          json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Seed                *int            `json:"seed,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`

	// Header is the HTTP header of the request.
	Header http.Header `json:"-"`
	// Body is the request body exactly as received.
	Body []byte `json:"-"`

	ctx context.Context
}

// Context returns the context of the HTTP request, cancelled when the client
// goes away; handlers pass it on to whatever they call.
func (r *ChatRequest) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// StreamOptions are the options of a streamed request.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// Message is one message of a request. Content is flattened to text: the
// server accepts a string, null, or an array of parts whose text parts are
// joined.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	Name       string     `json:"name,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	// ContentNull reports that the client sent "content": null or no content.
	ContentNull bool `json:"-"`
}

// wireMessageIn is a message as a request carries it: decoding a request
// into it (see parseChat) reads each message once. Its content is decoded
// into an interface, so a string, escapes and all, is read by the decoder
// in the same pass (a custom decoder would see the raw string and have to
// decode it again); an array of parts is joined by message.
type wireMessageIn struct {
	Role       string     `json:"role"`
	Content    any        `json:"content"`
	Name       string     `json:"name"`
	ToolCalls  []ToolCall `json:"tool_calls"`
	ToolCallID string     `json:"tool_call_id"`
}

func (w *wireMessageIn) message() (Message, error) {
	text, err := contentText(w.Content)
	return Message{Role: w.Role, Content: text, ContentNull: w.Content == nil, Name: w.Name,
		ToolCalls: w.ToolCalls, ToolCallID: w.ToolCallID}, err
}

// parseChat decodes a chat request body, each message once.
func parseChat(body []byte) (*ChatRequest, error) {
	var w struct {
		ChatRequest
		Messages []wireMessageIn `json:"messages"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	req := &w.ChatRequest
	req.Messages = make([]Message, len(w.Messages))
	for i := range w.Messages {
		m, err := w.Messages[i].message()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		req.Messages[i] = m
	}
	return req, nil
}

// UnmarshalJSON accepts the content of a message as a string, null or an
// array of parts.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w wireMessageIn
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	msg, err := w.message()
	if err != nil {
		return err
	}
	*m = msg
	return nil
}

// contentText reads a message's content as decoded: a string, null (or
// absent), or an array of parts whose text parts (type "text" or none) are
// joined.
func contentText(c any) (string, error) {
	switch c := c.(type) {
	case nil:
		return "", nil
	case string:
		return c, nil
	case []any:
		var sb strings.Builder
		for i, p := range c {
			part, ok := p.(map[string]any)
			if !ok {
				return "", fmt.Errorf("message content: part %d is not an object", i)
			}
			typ, ok := part["type"].(string)
			if !ok && part["type"] != nil {
				return "", fmt.Errorf("message content: part %d: type is not a string", i)
			}
			text, ok := part["text"].(string)
			if !ok && part["text"] != nil {
				return "", fmt.Errorf("message content: part %d: text is not a string", i)
			}
			if typ == "text" || typ == "" {
				sb.WriteString(text)
			}
		}
		return sb.String(), nil
	}
	kind := "an object"
	switch c.(type) {
	case float64:
		kind = "a number"
	case bool:
		kind = "a boolean"
	}
	return "", fmt.Errorf("message content: want a string, null or an array, got %s", kind)
}

// ToolCall is a tool call, in a request's assistant message or in a reply.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function of a tool call and carries its arguments,
// a JSON document encoded as a string as the OpenAI API does.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is a tool definition of a request.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a function tool.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      bool            `json:"strict,omitempty"`
}

// Usage is the token count a reply reports.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	// CachedTokens is sent as usage.prompt_tokens_details.cached_tokens.
	CachedTokens int
}

// The shapes of the responses the server writes.

type wireUsage struct {
	PromptTokens        int              `json:"prompt_tokens"`
	CompletionTokens    int              `json:"completion_tokens"`
	TotalTokens         int              `json:"total_tokens"`
	PromptTokensDetails *wireUsageDetail `json:"prompt_tokens_details,omitempty"`
}

type wireUsageDetail struct {
	CachedTokens int `json:"cached_tokens"`
}

func (u *Usage) wire() *wireUsage {
	if u == nil {
		return nil
	}
	w := &wireUsage{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		TotalTokens:      u.PromptTokens + u.CompletionTokens,
	}
	if u.CachedTokens > 0 {
		w.PromptTokensDetails = &wireUsageDetail{CachedTokens: u.CachedTokens}
	}
	return w
}

type wireCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []wireChoice `json:"choices"`
	Usage   *wireUsage   `json:"usage,omitempty"`
}

type wireChoice struct {
	Index        int         `json:"index"`
	Message      wireMessage `json:"message"`
	FinishReason *string     `json:"finish_reason"`
}

type wireMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
}

type wireChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []wireChunkChoice `json:"choices"`
	Usage   *wireUsage        `json:"usage,omitempty"`
}

type wireChunkChoice struct {
	Index        int       `json:"index"`
	Delta        wireDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

type wireDelta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	ToolCalls []wireCallDelta `json:"tool_calls,omitempty"`
}

type wireCallDelta struct {
	Index    int               `json:"index"`
	ID       string            `json:"id,omitempty"`
	Type     string            `json:"type,omitempty"`
	Function wireFunctionDelta `json:"function"`
}

type wireFunctionDelta struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type wireModels struct {
	Object string      `json:"object"`
	Data   []wireModel `json:"data"`
}

type wireModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}
