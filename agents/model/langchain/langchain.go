// Package langchain is the model.Model of any langchaingo llms.Model: it maps
// entrust's messages, tool definitions and tool choice to langchaingo's and
// the answer, its tool calls and its usage back. It does not retry: compose
// model.WithRetry for that.
//
// langchaingo has traps this package steps around or smooths over:
//
//   - It never streams: langchaingo merges streamed tool-call fragments by
//     guesswork rather than by index, which corrupts parallel calls.
//   - Tool calls without an id get a stable one; finish reasons other than
//     "tool_calls" on a message with tool calls are normalised; empty
//     arguments read as "{}"; an answer without choices, or whose body was
//     malformed or truncated, is an error matching model.ErrMalformed.
//   - Usage is read from GenerationInfo under whichever keys the backend
//     uses (PromptTokens/CompletionTokens, InputTokens/OutputTokens,
//     prompt_tokens/completion_tokens, …), with cached prompt tokens; a
//     backend that reports none gets an estimate (model.EstimateUsage).
//   - Its errors are strings. Pass HTTPClient(…) to the backend (e.g.
//     openai.WithHTTPClient) and error answers become a *model.APIError with
//     the HTTP status, the server's type, code and message, and Retry-After;
//     without it the status is read from the error text when it is there.
//   - Its OpenAI backend refuses an empty token even for a local server:
//     give it a placeholder. Its token counting downloads files at run time:
//     nothing here uses it.
//   - Request.ParallelToolCalls cannot be expressed through langchaingo and
//     is ignored; its OpenAI backend sends max_completion_tokens, and a
//     temperature of 0 when none is set.
package langchain

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tmc/langchaingo/llms"

	"github.com/entrust-dev/entrust/agents/model"
)

// Options configures a Model. The zero value is usable.
type Options struct {
	// Provider names the backend in errors; default "langchain".
	Provider string
	// CallOptions are passed on every call, before those the request sets.
	CallOptions []llms.CallOption
	// Secrets (the backend's API key…) are replaced by model.Redacted in
	// errors and answers. With HTTPClient, the credentials each request
	// carries in its headers are redacted too, without being named here.
	Secrets []string
}

// Model is a model.Model over a langchaingo llms.Model. It is as safe for
// concurrent use as the llms.Model it wraps.
type Model struct {
	llm      llms.Model
	name     string
	provider string
	opts     []llms.CallOption
	secrets  []string
	schemas  sync.Map // schema JSON → its decoded map, read-only once stored
}

var _ model.Model = (*Model)(nil)

// New returns a Model that answers with m, reported under name. opts may be
// nil.
func New(m llms.Model, name string, opts *Options) *Model {
	out := &Model{llm: m, name: name, provider: "langchain"}
	if opts != nil {
		if opts.Provider != "" {
			out.provider = opts.Provider
		}
		out.opts = append([]llms.CallOption(nil), opts.CallOptions...)
		out.secrets = slices.Clone(opts.Secrets)
	}
	return out
}

// Name returns the name given to New.
func (m *Model) Name() string { return m.name }

// Provider names the backend, as set in Options (default "langchain").
func (m *Model) Provider() string { return m.provider }

// Generate sends req to the llms.Model and returns its first choice.
func (m *Model) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	if m.llm == nil {
		return nil, fmt.Errorf("%s: no llms.Model", m.provider)
	}
	msgs, err := messages(req.Messages)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.provider, err)
	}
	opts, err := m.callOptions(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.provider, err)
	}
	c := &capture{}
	resp, err := m.llm.GenerateContent(context.WithValue(ctx, captureKey{}, c), msgs, opts...)
	red := m.redactor(c)
	if err != nil {
		return nil, red.Error(m.mapError(ctx, err, c))
	}
	if resp == nil || len(resp.Choices) == 0 || resp.Choices[0] == nil {
		return nil, fmt.Errorf("%s: %w: the answer has no choices", m.provider, model.ErrMalformed)
	}
	ch := resp.Choices[0]
	out := &model.Response{
		Message:      model.Message{Role: model.RoleAssistant, Content: red.String(ch.Content)},
		FinishReason: ch.StopReason,
		Model:        m.name,
		Usage:        usage(ch.GenerationInfo),
	}
	if req.Model != "" {
		out.Model = req.Model
	}
	calls := ch.ToolCalls
	if len(calls) == 0 && ch.FuncCall != nil {
		calls = []llms.ToolCall{{Type: "function", FunctionCall: ch.FuncCall}}
	}
	for i, tc := range calls {
		if tc.FunctionCall == nil {
			continue
		}
		args := red.String(tc.FunctionCall.Arguments)
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		call := model.ToolCall{ID: tc.ID, Name: tc.FunctionCall.Name, Arguments: json.RawMessage(args)}
		if call.ID == "" {
			call.ID = stableID(len(req.Messages), i, call.Name, args)
		}
		out.Message.ToolCalls = append(out.Message.ToolCalls, call)
	}
	switch {
	case len(out.Message.ToolCalls) > 0:
		out.FinishReason = "tool_calls"
	case out.FinishReason == "" || out.FinishReason == "null" || out.FinishReason == "<nil>":
		out.FinishReason = "stop"
	}
	if out.Usage == (model.Usage{}) {
		out.Usage = model.EstimateUsage(req, &out.Message)
	}
	return out, nil
}

// messages maps a conversation to langchaingo's.
func messages(in []model.Message) ([]llms.MessageContent, error) {
	out := make([]llms.MessageContent, 0, len(in))
	for i, msg := range in {
		var mc llms.MessageContent
		switch msg.Role {
		case model.RoleSystem:
			mc = llms.TextParts(llms.ChatMessageTypeSystem, msg.Content)
		case model.RoleUser:
			mc = llms.TextParts(llms.ChatMessageTypeHuman, msg.Content)
		case model.RoleAssistant:
			mc.Role = llms.ChatMessageTypeAI
			if msg.Content != "" || len(msg.ToolCalls) == 0 {
				mc.Parts = append(mc.Parts, llms.TextPart(msg.Content))
			}
			for _, c := range msg.ToolCalls {
				args := string(c.Arguments)
				if strings.TrimSpace(args) == "" {
					args = "{}"
				}
				mc.Parts = append(mc.Parts, llms.ToolCall{
					ID:           c.ID,
					Type:         "function",
					FunctionCall: &llms.FunctionCall{Name: c.Name, Arguments: args},
				})
			}
		case model.RoleTool:
			mc = llms.MessageContent{
				Role:  llms.ChatMessageTypeTool,
				Parts: []llms.ContentPart{llms.ToolCallResponse{ToolCallID: msg.ToolCallID, Name: msg.Name, Content: msg.Content}},
			}
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, msg.Role)
		}
		out = append(out, mc)
	}
	return out, nil
}

// callOptions maps the settings and tools of req to langchaingo's options.
func (m *Model) callOptions(req *model.Request) ([]llms.CallOption, error) {
	opts := append([]llms.CallOption(nil), m.opts...)
	if req.Model != "" {
		opts = append(opts, llms.WithModel(req.Model))
	}
	if req.Temperature != nil {
		opts = append(opts, llms.WithTemperature(*req.Temperature))
	}
	if req.MaxTokens > 0 {
		opts = append(opts, llms.WithMaxTokens(req.MaxTokens))
	}
	if req.Seed != nil {
		opts = append(opts, llms.WithSeed(*req.Seed))
	}
	if len(req.Tools) == 0 {
		return opts, nil
	}
	tools := make([]llms.Tool, 0, len(req.Tools))
	for _, t := range req.Tools {
		params, err := m.params(t.Parameters)
		if err != nil {
			return nil, fmt.Errorf("tool %q: parameters: %w", t.Name, err)
		}
		tools = append(tools, llms.Tool{
			Type:     "function",
			Function: &llms.FunctionDefinition{Name: t.Name, Description: t.Description, Parameters: params},
		})
	}
	opts = append(opts, llms.WithTools(tools))
	switch {
	case req.ToolChoice.Mode == model.ChoiceNone:
		opts = append(opts, llms.WithToolChoice("none"))
	case req.ToolChoice.Name != "":
		opts = append(opts, llms.WithToolChoice(llms.ToolChoice{Type: "function", Function: &llms.FunctionReference{Name: req.ToolChoice.Name}}))
	case req.ToolChoice.Mode == model.ChoiceRequired:
		opts = append(opts, llms.WithToolChoice("required"))
	}
	return opts, nil
}

// usage reads the token counts of GenerationInfo, whose keys differ from
// backend to backend.
func usage(info map[string]any) model.Usage {
	return model.Usage{
		PromptTokens:     intOf(info, "PromptTokens", "InputTokens", "prompt_tokens", "input_tokens", "promptTokenCount", "prompt_eval_count"),
		CompletionTokens: intOf(info, "CompletionTokens", "OutputTokens", "completion_tokens", "output_tokens", "candidatesTokenCount", "eval_count"),
		CachedTokens:     intOf(info, "PromptCachedTokens", "CacheReadInputTokens", "CachedTokens", "cached_tokens", "cache_read_input_tokens", "cachedContentTokenCount"),
	}
}

// intOf returns the first of keys that holds a number.
func intOf(info map[string]any, keys ...string) int {
	for _, k := range keys {
		switch v := info[k].(type) {
		case int:
			return v
		case int32:
			return int(v)
		case int64:
			return int(v)
		case uint32:
			return int(v)
		case uint64:
			return int(v)
		case float64:
			return int(v)
		case float32:
			return int(v)
		case json.Number:
			if n, err := v.Int64(); err == nil {
				return int(n)
			}
		}
	}
	return 0
}

// stableID makes the id of a tool call the backend gave none, from the
// conversation's length and the call, so replays get the same ids.
func stableID(turn, index int, name, args string) string {
	return model.StableCallID(strconv.Itoa(turn), strconv.Itoa(index), name, args)
}

// params decodes a tool's JSON schema into the map langchaingo wants. The
// same schemas come with every turn, so decoded ones are kept: langchaingo only
// encodes them again, never changes them.
func (m *Model) params(schema json.RawMessage) (map[string]any, error) {
	if len(schema) == 0 || string(schema) == "null" {
		return map[string]any{"type": "object", "properties": map[string]any{}}, nil
	}
	if p, ok := m.schemas.Load(string(schema)); ok {
		return p.(map[string]any), nil
	}
	var p map[string]any
	if err := json.Unmarshal(schema, &p); err != nil {
		return nil, err
	}
	m.schemas.Store(string(schema), p)
	return p, nil
}
