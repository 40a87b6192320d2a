package openaitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
)

// FromModel returns a handler that answers each request with m: the request
// is converted to a model.Request (ModelRequest), m answers it with the
// request's context, and the response is converted back (ResponseReply), or
// the error to an HTTP error (ErrorReply). Plugged into a Server, it lets a
// scripted model play a remote one over real HTTP.
func FromModel(m model.Model) func(req *ChatRequest) Reply {
	return func(req *ChatRequest) Reply {
		mreq, err := req.ModelRequest()
		if err != nil {
			return Error(http.StatusBadRequest, ErrorBody("openaitest: "+err.Error(), "invalid_request_error", ""))
		}
		resp, err := m.Generate(req.Context(), mreq)
		if err != nil {
			return ErrorReply(err)
		}
		return ResponseReply(resp)
	}
}

// ModelRequest converts r to the model.Request it stands for.
func (r *ChatRequest) ModelRequest() (*model.Request, error) {
	out := &model.Request{
		Model:             r.Model,
		Temperature:       r.Temperature,
		ParallelToolCalls: r.ParallelToolCalls,
		Seed:              r.Seed,
	}
	switch {
	case r.MaxCompletionTokens != nil:
		out.MaxTokens = *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		out.MaxTokens = *r.MaxTokens
	}
	for i, m := range r.Messages {
		msg := model.Message{Content: m.Content, ToolCallID: m.ToolCallID, Name: m.Name}
		switch m.Role {
		case "system", "developer":
			msg.Role = model.RoleSystem
		case "user":
			msg.Role = model.RoleUser
		case "assistant":
			msg.Role = model.RoleAssistant
		case "tool", "function":
			msg.Role = model.RoleTool
		default:
			return nil, fmt.Errorf("message %d: unknown role %q", i, m.Role)
		}
		for _, c := range m.ToolCalls {
			args := c.Function.Arguments
			if args == "" {
				args = "{}"
			}
			msg.ToolCalls = append(msg.ToolCalls, model.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: json.RawMessage(args)})
		}
		out.Messages = append(out.Messages, msg)
	}
	for _, t := range r.Tools {
		if t.Type != "function" {
			return nil, fmt.Errorf("tool %q: unsupported type %q", t.Function.Name, t.Type)
		}
		out.Tools = append(out.Tools, model.ToolDef{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	if len(r.ToolChoice) > 0 {
		tc, err := parseToolChoice(r.ToolChoice)
		if err != nil {
			return nil, err
		}
		out.ToolChoice = tc
	}
	return out, nil
}

func parseToolChoice(raw json.RawMessage) (model.ToolChoice, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto", "":
			return model.ToolChoice{}, nil
		case "required", "any":
			return model.ToolChoice{Mode: model.ChoiceRequired}, nil
		case "none":
			return model.ToolChoice{Mode: model.ChoiceNone}, nil
		}
		return model.ToolChoice{}, fmt.Errorf("tool_choice: unknown value %q", s)
	}
	var o struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Function.Name == "" {
		return model.ToolChoice{}, fmt.Errorf("tool_choice: cannot parse %s", raw)
	}
	return model.ToolChoice{Mode: model.ChoiceRequired, Name: o.Function.Name}, nil
}

// ResponseReply converts a model's response to the Reply that carries it.
func ResponseReply(resp *model.Response) Reply {
	r := Reply{
		Text:         resp.Message.Content,
		FinishReason: resp.FinishReason,
		Model:        resp.Model,
		Usage: &Usage{
			PromptTokens:     resp.Usage.PromptTokens,
			CompletionTokens: resp.Usage.CompletionTokens,
			CachedTokens:     resp.Usage.CachedTokens,
		},
	}
	for _, c := range resp.Message.ToolCalls {
		args := string(c.Arguments)
		if args == "" {
			args = "{}"
		}
		r.ToolCalls = append(r.ToolCalls, Call(c.ID, c.Name, args))
	}
	if len(r.ToolCalls) > 0 && r.FinishReason == "stop" {
		r.FinishReason = "tool_calls"
	}
	return r
}

// ErrorReply converts a model's error to an HTTP error Reply: a
// *model.APIError keeps its status (500 if none), type, code, message and
// Retry-After (also sent as retry-after-ms when not whole seconds);
// model.ErrScriptExhausted is a 400, so clients fail fast instead of retrying;
// anything else is a 500.
func ErrorReply(err error) Reply {
	var ae *model.APIError
	switch {
	case errors.As(err, &ae):
		status := ae.StatusCode
		if status == 0 {
			status = http.StatusInternalServerError
		}
		typ := ae.Type
		if typ == "" {
			typ = errorType(status)
		}
		msg := ae.Message
		if msg == "" {
			msg = err.Error()
		}
		r := Error(status, ErrorBody(msg, typ, ae.Code))
		if ae.RetryAfter > 0 {
			secs := (ae.RetryAfter + time.Second - 1) / time.Second
			r.Header = http.Header{"Retry-After": {strconv.FormatInt(int64(secs), 10)}}
			if ae.RetryAfter%time.Second != 0 {
				r.Header.Set("Retry-After-Ms", strconv.FormatInt(ae.RetryAfter.Milliseconds(), 10))
			}
		}
		return r
	case errors.Is(err, model.ErrScriptExhausted):
		return Error(http.StatusBadRequest, ErrorBody(err.Error(), "invalid_request_error", "script_exhausted"))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Error(http.StatusGatewayTimeout, ErrorBody(err.Error(), "timeout", ""))
	}
	return Error(http.StatusInternalServerError, ErrorBody(err.Error(), "server_error", ""))
}

func errorType(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}
