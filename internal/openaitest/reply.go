package openaitest

import (
	"encoding/json"
	"net/http"
	"time"
)

// Reply is one scripted answer of the server: an assistant message (text,
// tool calls, usage), a quirk of some compatible server, or a fault.
//
// The zero Reply is an empty assistant message with finish_reason "stop".
type Reply struct {
	// Text is the assistant's text.
	Text string
	// ToolCalls are the calls the assistant asks for. A call without an ID
	// gets one ("call_<request>_<index>") unless NoIDs is set.
	ToolCalls []ToolCall
	// Usage is reported as given; nil leaves usage out of the response.
	Usage *Usage
	// FinishReason defaults to "tool_calls" when there are calls, else "stop".
	// Set it to "stop" with calls to reproduce servers that say so.
	FinishReason string
	// Model is the model named in the response; empty echoes the request's.
	Model string

	// NullContent sends "content": null even without tool calls (it is sent
	// null anyway when there are calls and no text, as OpenAI does).
	NullContent bool
	// NoIDs sends tool calls without ids, as some local servers do.
	NoIDs bool
	// EmptyChoices sends "choices": [] (a 200 answer with nothing in it).
	EmptyChoices bool

	// Status, when not 0 or 200, answers with this HTTP status and Body.
	Status int
	// Body, when set, is written as is instead of the scripted message: the
	// error body of a Status, or a malformed 200 answer (in a stream, the raw
	// event stream).
	Body string
	// Header holds extra response headers, such as Retry-After.
	Header http.Header
	// Delay is waited before answering (a slow server); the wait ends early
	// if the client goes away.
	Delay time.Duration
	// ChunkDelay is waited between the events of a stream.
	ChunkDelay time.Duration
	// TruncateAfter, when positive, cuts the connection after that many bytes
	// of the body, leaving the client with a truncated answer.
	TruncateAfter int
}

// Text is a Reply of prose.
func Text(s string) Reply { return Reply{Text: s} }

// Calls is a Reply of tool calls.
func Calls(calls ...ToolCall) Reply { return Reply{ToolCalls: calls} }

// Call builds a tool call; args is the JSON of its arguments, sent as is.
func Call(id, name, args string) ToolCall {
	return ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: name, Arguments: args}}
}

// Error is a Reply that fails with the HTTP status and the raw body given.
// ErrorBody builds the usual OpenAI shape; tests pass other shapes as text.
func Error(status int, body string) Reply { return Reply{Status: status, Body: body} }

// RateLimited is a 429 Reply with a Retry-After header (seconds or an HTTP
// date; empty leaves the header out) and an OpenAI-shaped error body.
func RateLimited(retryAfter string) Reply {
	r := Error(http.StatusTooManyRequests, ErrorBody("Rate limit reached, try again later.", "requests", "rate_limit_exceeded"))
	if retryAfter != "" {
		r.Header = http.Header{"Retry-After": {retryAfter}}
	}
	return r
}

// ErrorBody returns the OpenAI error body
// {"error":{"message":…,"type":…,"param":null,"code":…}}; an empty code is
// sent as null.
func ErrorBody(message, typ, code string) string {
	type apiError struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	e := apiError{Message: message, Type: typ}
	if code != "" {
		e.Code = &code
	}
	b, _ := json.Marshal(struct {
		Error apiError `json:"error"`
	}{e})
	return string(b)
}

func (r *Reply) isError() bool { return r.Status != 0 && r.Status != http.StatusOK }

func (r *Reply) finishReason() string {
	switch {
	case r.FinishReason != "":
		return r.FinishReason
	case len(r.ToolCalls) > 0:
		return "tool_calls"
	}
	return "stop"
}

// calls returns the reply's tool calls with ids filled or removed.
func (r *Reply) calls(reqID string) []ToolCall {
	if len(r.ToolCalls) == 0 {
		return nil
	}
	out := make([]ToolCall, len(r.ToolCalls))
	for i, c := range r.ToolCalls {
		if c.Type == "" {
			c.Type = "function"
		}
		switch {
		case r.NoIDs:
			c.ID = ""
		case c.ID == "":
			c.ID = "call_" + reqID + "_" + itoa(i)
		}
		out[i] = c
	}
	return out
}

// content is the message content, nil for null.
func (r *Reply) content() *string {
	if r.Text == "" && (r.NullContent || len(r.ToolCalls) > 0) {
		return nil
	}
	s := r.Text
	return &s
}
