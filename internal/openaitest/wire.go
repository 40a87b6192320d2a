package openaitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
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
// into it (see parseChat) reads each message once.
type wireMessageIn struct {
	Role       string      `json:"role"`
	Content    flexContent `json:"content"`
	Name       string      `json:"name"`
	ToolCalls  []ToolCall  `json:"tool_calls"`
	ToolCallID string      `json:"tool_call_id"`
}

func (w *wireMessageIn) message() Message {
	return Message{Role: w.Role, Content: w.Content.text, ContentNull: !w.Content.set, Name: w.Name,
		ToolCalls: w.ToolCalls, ToolCallID: w.ToolCallID}
}

// flexContent is a message's content: a string, null or an array of parts.
type flexContent struct {
	text string
	set  bool // not null, not absent
}

func (f *flexContent) UnmarshalJSON(b []byte) error {
	s, null, err := contentText(b)
	f.text, f.set = s, !null
	return err
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
		req.Messages[i] = w.Messages[i].message()
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
	*m = w.message()
	return nil
}

// contentText reads a message's content: a string, null or an array of
// parts whose text parts are joined. A string without escapes is taken as
// it is, without decoding it again.
func contentText(c []byte) (text string, null bool, err error) {
	c = bytes.TrimSpace(c)
	switch {
	case len(c) == 0 || string(c) == "null":
		return "", true, nil
	case c[0] == '"':
		if in := c[1 : len(c)-1]; len(c) >= 2 && c[len(c)-1] == '"' && bytes.IndexByte(in, '\\') < 0 && plain(in) {
			return string(in), false, nil
		}
		var s string
		err := json.Unmarshal(c, &s)
		return s, false, err
	case c[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(c, &parts); err != nil {
			return "", false, fmt.Errorf("message content: %w", err)
		}
		var sb strings.Builder
		for _, p := range parts {
			if p.Type == "text" || p.Type == "" {
				sb.WriteString(p.Text)
			}
		}
		return sb.String(), false, nil
	}
	return "", false, fmt.Errorf("message content: want a string, null or an array, got %.20s", c)
}

// plain reports whether the bytes of a JSON string without escapes are its
// text as they are: valid UTF-8 (the decoder would replace invalid bytes).
func plain(b []byte) bool { return utf8.Valid(b) }

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
