package model

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
)

// Turn is one scripted answer: text, tool calls, or an error to return.
type Turn struct {
	Text  string
	Calls []ToolCall
	// Usage is reported as given; when zero, the scripted model estimates it
	// from the size of the request and the answer (about four bytes a token).
	Usage Usage
	Err   error
}

// Call builds a tool call whose arguments are args marshalled to JSON; a
// string or json.RawMessage is used as the raw JSON itself, so tests can
// script malformed arguments.
func Call(name string, args any) ToolCall {
	var raw json.RawMessage
	switch a := args.(type) {
	case json.RawMessage:
		raw = a
	case string:
		raw = json.RawMessage(a)
	case nil:
		raw = json.RawMessage("{}")
	default:
		b, err := json.Marshal(a)
		if err != nil {
			panic(fmt.Sprintf("model.Call(%q): %v", name, err))
		}
		raw = b
	}
	return ToolCall{Name: name, Arguments: raw}
}

// Calls is a Turn of tool calls.
func Calls(calls ...ToolCall) Turn { return Turn{Calls: calls} }

// Text is a Turn of prose.
func Text(s string) Turn { return Turn{Text: s} }

// Scripted is a deterministic Model for tests, demos and evals. It answers
// from a list of turns, or from a function of the request, and records every
// request it received so tests can assert on what the agent was shown.
// It is safe for concurrent use.
type Scripted struct {
	name string
	fn   func(ctx context.Context, req *Request) (*Response, error)

	mu       sync.Mutex
	turns    []Turn
	next     int
	calls    int
	noRecord bool
	requests []*Request
}

// NewScripted returns a model that answers with turns, in order, and with
// ErrScriptExhausted once they are used up.
func NewScripted(name string, turns ...Turn) *Scripted {
	return &Scripted{name: name, turns: turns}
}

// ScriptFunc returns a model that answers each request with fn. The response
// fn returns is used as is except that missing call ids and usage are filled.
func ScriptFunc(name string, fn func(ctx context.Context, req *Request) (*Response, error)) *Scripted {
	return &Scripted{name: name, fn: fn}
}

// Provider returns "scripted".
func (s *Scripted) Provider() string { return "scripted" }

// Name returns the name given to the constructor.
func (s *Scripted) Name() string { return s.name }

// SetRecording turns the recording of requests on (the default) or off; long
// benchmarks turn it off so memory stays flat.
func (s *Scripted) SetRecording(on bool) {
	s.mu.Lock()
	s.noRecord = !on
	s.mu.Unlock()
}

// Requests returns the requests received so far, oldest first.
func (s *Scripted) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Request(nil), s.requests...)
}

// Calls returns how many times Generate was called.
func (s *Scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Generate answers req from the script.
func (s *Scripted) Generate(ctx context.Context, req *Request) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.calls++
	n := s.calls
	if !s.noRecord {
		cp := *req
		cp.Messages = append([]Message(nil), req.Messages...)
		s.requests = append(s.requests, &cp)
	}
	var turn Turn
	fn := s.fn
	if fn == nil {
		if s.next >= len(s.turns) {
			s.mu.Unlock()
			return nil, fmt.Errorf("%w: %s answered all %d turns", ErrScriptExhausted, s.name, len(s.turns))
		}
		turn = s.turns[s.next]
		s.next++
	}
	s.mu.Unlock()

	var resp *Response
	if fn != nil {
		r, err := fn(ctx, req)
		if err != nil {
			return nil, err
		}
		resp = r
	} else {
		if turn.Err != nil {
			return nil, turn.Err
		}
		resp = &Response{
			Message: Message{Role: RoleAssistant, Content: turn.Text, ToolCalls: append([]ToolCall(nil), turn.Calls...)},
			Usage:   turn.Usage,
		}
	}
	resp.Model = s.name
	resp.Message.Role = RoleAssistant
	for i := range resp.Message.ToolCalls {
		if resp.Message.ToolCalls[i].ID == "" {
			resp.Message.ToolCalls[i].ID = "call_" + strconv.Itoa(n) + "_" + strconv.Itoa(i)
		}
	}
	if len(resp.Message.ToolCalls) > 0 {
		resp.FinishReason = "tool_calls"
	} else if resp.FinishReason == "" {
		resp.FinishReason = "stop"
	}
	if resp.Usage == (Usage{}) {
		resp.Usage = EstimateUsage(req, &resp.Message)
	}
	return resp, nil
}

// EstimateUsage guesses the tokens of a call at about four bytes a token, for
// models and servers that report none.
func EstimateUsage(req *Request, answer *Message) Usage {
	c := len(answer.Content)
	for _, tc := range answer.ToolCalls {
		c += len(tc.Name) + len(tc.Arguments)
	}
	return Usage{PromptTokens: EstimatePrompt(req), CompletionTokens: (c+3)/4 + 1}
}

// EstimatePrompt guesses the prompt tokens of req — its messages and tool
// definitions — at about four bytes a token. It is the estimate EstimateUsage
// reports and the one context budgets are kept with.
func EstimatePrompt(req *Request) int {
	p := 0
	for i := range req.Messages {
		p += MessageBytes(&req.Messages[i])
	}
	for _, t := range req.Tools {
		p += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	return (p + 3) / 4
}

// EstimateMessages guesses the tokens of msgs alone, as EstimatePrompt counts
// them.
func EstimateMessages(msgs []Message) int {
	p := 0
	for i := range msgs {
		p += MessageBytes(&msgs[i])
	}
	return (p + 3) / 4
}

// MessageBytes is the size EstimatePrompt counts for one message: its content,
// its calls' names and arguments, and four bytes of framing.
func MessageBytes(m *Message) int {
	p := len(m.Content) + 4
	for _, c := range m.ToolCalls {
		p += len(c.Name) + len(c.Arguments)
	}
	return p
}
