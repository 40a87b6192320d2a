package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// newModel starts a server with replies and returns a provider for it.
func newModel(t *testing.T, cfg openai.Config, replies ...openaitest.Reply) (*openai.Model, *openaitest.Server) {
	t.Helper()
	srv := openaitest.NewServer(t, &openaitest.Options{Replies: replies})
	cfg.BaseURL = srv.URL
	cfg.HTTPClient = srv.Client()
	if cfg.Model == "" {
		cfg.Model = "test-model"
	}
	m, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, srv
}

func ask(text string) *model.Request {
	return &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: text}}}
}

var lookupTool = model.ToolDef{
	Name:        "lookup",
	Description: "Look a word up.",
	Parameters:  json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`),
}

// modes runs f once with a plain and once with a streaming provider.
func modes(t *testing.T, f func(t *testing.T, stream bool)) {
	for _, stream := range []bool{false, true} {
		name := "plain"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) { f(t, stream) })
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := openai.New(openai.Config{}); err == nil {
		t.Error("no error without a model name")
	}
	if _, err := openai.New(openai.Config{Model: "m", BaseURL: "localhost:8080"}); err == nil {
		t.Error("no error for a base URL without scheme")
	}
	m, err := openai.New(openai.Config{Model: "m", BaseURL: "http://localhost:1/v1"})
	if err != nil || m.Name() != "m" {
		t.Errorf("New = %v, %v", m, err)
	}
}

func TestEnvironmentFallbacks(t *testing.T) {
	srv := openaitest.NewServer(t, &openaitest.Options{APIKey: "sk-env", Replies: []openaitest.Reply{openaitest.Text("ok")}})
	t.Setenv("OPENAI_BASE_URL", srv.URL)
	t.Setenv("OPENAI_API_KEY", "sk-env")
	m, err := openai.New(openai.Config{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(t.Context(), ask("hi"))
	if err != nil || resp.Message.Content != "ok" {
		t.Fatalf("Generate = %+v, %v", resp, err)
	}
	if got := srv.LastRequest().Header.Get("Authorization"); got != "Bearer sk-env" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestNoAPIKeyForLocalServers(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	m, srv := newModel(t, openai.Config{}, openaitest.Text("ok"))
	if _, err := m.Generate(t.Context(), ask("hi")); err != nil {
		t.Fatal(err)
	}
	if got := srv.LastRequest().Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
}

func TestRequestMapping(t *testing.T) {
	temp, no := 0.0, false
	m, srv := newModel(t, openai.Config{MaxTokens: 50, ParallelToolCalls: &no}, openaitest.Text("ok"), openaitest.Text("ok"))
	seed := 3
	mk := func() *model.Request {
		return &model.Request{
			Messages: []model.Message{
				{Role: model.RoleSystem, Content: "be brief"},
				{Role: model.RoleUser, Content: "look up x"},
				{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "c1", Name: "lookup", Arguments: json.RawMessage(`{"q":"x"}`)}, {ID: "c2", Name: "noargs"}}},
				{Role: model.RoleTool, ToolCallID: "c1", Name: "lookup", Content: "found"},
				{Role: model.RoleTool, ToolCallID: "c2", Name: "noargs", Content: "done"},
			},
			Tools:       []model.ToolDef{lookupTool, {Name: "noargs"}},
			ToolChoice:  model.ToolChoice{Name: "lookup"},
			Temperature: &temp,
			Seed:        &seed,
		}
	}
	req, before := mk(), mk()
	if _, err := m.Generate(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, req) {
		t.Error("Generate modified the request")
	}
	var raw map[string]json.RawMessage
	got := srv.LastRequest()
	if err := json.Unmarshal(got.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if got.Temperature == nil || *got.Temperature > 1e-6 {
		t.Errorf("temperature 0 not sent: %s", raw["temperature"])
	}
	if got.MaxTokens == nil || *got.MaxTokens != 50 || got.Seed == nil || *got.Seed != 3 || got.Model != "test-model" {
		t.Errorf("settings: %s", got.Body)
	}
	if got.ParallelToolCalls == nil || *got.ParallelToolCalls {
		t.Errorf("parallel_tool_calls = %s", raw["parallel_tool_calls"])
	}
	if string(raw["tool_choice"]) != `{"type":"function","function":{"name":"lookup"}}` {
		t.Errorf("tool_choice = %s", raw["tool_choice"])
	}
	if len(got.Tools) != 2 || string(got.Tools[0].Function.Parameters) != string(lookupTool.Parameters) ||
		string(got.Tools[1].Function.Parameters) != `{"type":"object","properties":{}}` {
		t.Errorf("tools = %+v", got.Tools)
	}
	msgs := got.Messages
	if msgs[2].ToolCalls[0].ID != "c1" || msgs[2].ToolCalls[0].Function.Arguments != `{"q":"x"}` || msgs[2].ToolCalls[1].Function.Arguments != "{}" {
		t.Errorf("assistant message = %+v", msgs[2])
	}
	if msgs[3].Role != "tool" || msgs[3].ToolCallID != "c1" || msgs[3].Content != "found" || msgs[3].Name != "" {
		t.Errorf("tool message = %+v", msgs[3])
	}

	// Without tools, neither tool_choice nor parallel_tool_calls is sent.
	if _, err := m.Generate(t.Context(), &model.Request{Model: "other", Messages: req.Messages[:2], ToolChoice: model.ToolChoice{Mode: model.ChoiceRequired}}); err != nil {
		t.Fatal(err)
	}
	got = srv.LastRequest()
	if got.ToolChoice != nil || got.ParallelToolCalls != nil || got.Temperature != nil || got.Model != "other" {
		t.Errorf("second request: %s", got.Body)
	}
}

func TestToolChoiceModes(t *testing.T) {
	for mode, want := range map[model.ToolChoiceMode]string{model.ChoiceRequired: `"required"`, model.ChoiceNone: `"none"`, model.ChoiceAuto: ``} {
		m, srv := newModel(t, openai.Config{}, openaitest.Text("ok"))
		if _, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: []model.ToolDef{lookupTool}, ToolChoice: model.ToolChoice{Mode: mode}}); err != nil {
			t.Fatal(err)
		}
		if got := string(srv.LastRequest().ToolChoice); got != want {
			t.Errorf("mode %q: tool_choice = %s, want %s", mode, got, want)
		}
	}
}

func TestReasoningModels(t *testing.T) {
	temp := 0.2
	m, srv := newModel(t, openai.Config{Model: "o3-mini", Temperature: &temp, MaxTokens: 99}, openaitest.Text("ok"))
	if _, err := m.Generate(t.Context(), ask("x")); err != nil {
		t.Fatal(err)
	}
	got := srv.LastRequest()
	if got.MaxTokens != nil || got.MaxCompletionTokens == nil || *got.MaxCompletionTokens != 99 || got.Temperature != nil {
		t.Errorf("request = %s", got.Body)
	}
}

func TestInvalidToolParameters(t *testing.T) {
	modes(t, func(t *testing.T, stream bool) {
		m, srv := newModel(t, openai.Config{Stream: stream})
		tools := []model.ToolDef{lookupTool, {Name: "bad", Parameters: json.RawMessage(`{oops`)}}
		_, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: tools})
		if err == nil || !strings.Contains(err.Error(), `tool "bad": parameters are not valid JSON`) || srv.Count() != 0 {
			t.Errorf("err = %v, requests sent %d", err, srv.Count())
		}
		if model.Retryable(err) {
			t.Errorf("%v is retryable", err)
		}
	})
}

func TestReplies(t *testing.T) {
	calls := []openaitest.ToolCall{
		openaitest.Call("call_a", "lookup", `{"q":"first question, long enough to be cut"}`),
		openaitest.Call("call_b", "lookup", `{"q":"second"}`),
	}
	tests := []struct {
		name  string
		reply openaitest.Reply
		check func(t *testing.T, r *model.Response)
	}{
		{"text", openaitest.Reply{Text: "hello there", Usage: &openaitest.Usage{PromptTokens: 12, CompletionTokens: 3, CachedTokens: 8}}, func(t *testing.T, r *model.Response) {
			if r.Message.Content != "hello there" || r.FinishReason != "stop" || r.Message.Role != model.RoleAssistant || len(r.Message.ToolCalls) != 0 {
				t.Errorf("response %+v", r)
			}
			if r.Usage != (model.Usage{PromptTokens: 12, CompletionTokens: 3, CachedTokens: 8}) {
				t.Errorf("usage %+v", r.Usage)
			}
		}},
		{"parallel calls, null content", openaitest.Reply{ToolCalls: calls}, func(t *testing.T, r *model.Response) {
			tc := r.Message.ToolCalls
			if r.Message.Content != "" || len(tc) != 2 || r.FinishReason != "tool_calls" {
				t.Fatalf("response %+v", r)
			}
			if tc[0].ID != "call_a" || tc[1].ID != "call_b" || string(tc[0].Arguments) != calls[0].Function.Arguments || string(tc[1].Arguments) != `{"q":"second"}` {
				t.Errorf("calls %+v", tc)
			}
		}},
		{"stop with tool calls", openaitest.Reply{ToolCalls: calls[:1], FinishReason: "stop"}, func(t *testing.T, r *model.Response) {
			if r.FinishReason != "tool_calls" {
				t.Errorf("finish reason %q", r.FinishReason)
			}
		}},
		{"missing ids", openaitest.Reply{ToolCalls: calls, NoIDs: true}, func(t *testing.T, r *model.Response) {
			tc := r.Message.ToolCalls
			if len(tc) != 2 || tc[0].ID == "" || tc[1].ID == "" || tc[0].ID == tc[1].ID {
				t.Errorf("ids %q %q", tc[0].ID, tc[1].ID)
			}
		}},
		{"empty arguments", openaitest.Reply{ToolCalls: []openaitest.ToolCall{openaitest.Call("c", "now", "")}}, func(t *testing.T, r *model.Response) {
			if string(r.Message.ToolCalls[0].Arguments) != "{}" {
				t.Errorf("arguments %s", r.Message.ToolCalls[0].Arguments)
			}
		}},
		{"null content without calls", openaitest.Reply{NullContent: true}, func(t *testing.T, r *model.Response) {
			if r.Message.Content != "" || r.FinishReason != "stop" {
				t.Errorf("response %+v", r)
			}
		}},
		{"no usage reported", openaitest.Reply{Text: "some words here"}, func(t *testing.T, r *model.Response) {
			if r.Usage.PromptTokens == 0 || r.Usage.CompletionTokens == 0 {
				t.Errorf("usage not estimated: %+v", r.Usage)
			}
		}},
		{"other model", openaitest.Reply{Text: "x", Model: "served-model-v2"}, func(t *testing.T, r *model.Response) {
			if r.Model != "served-model-v2" {
				t.Errorf("model %q", r.Model)
			}
		}},
		{"length", openaitest.Reply{Text: "cut sh", FinishReason: "length"}, func(t *testing.T, r *model.Response) {
			if r.FinishReason != "length" {
				t.Errorf("finish reason %q", r.FinishReason)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes(t, func(t *testing.T, stream bool) {
				m, _ := newModel(t, openai.Config{Stream: stream}, tt.reply)
				r, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: []model.ToolDef{lookupTool}})
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, r)
			})
		})
	}
}

func TestMissingIDsAreStable(t *testing.T) {
	reply := openaitest.Reply{ToolCalls: []openaitest.ToolCall{openaitest.Call("", "lookup", `{"q":"x"}`)}, NoIDs: true}
	m, _ := newModel(t, openai.Config{}, reply, reply, reply)
	id := func(req *model.Request) string {
		r, err := m.Generate(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return r.Message.ToolCalls[0].ID
	}
	short := ask("x")
	long := &model.Request{Messages: append(ask("x").Messages, model.Message{Role: model.RoleAssistant, Content: "?"}, model.Message{Role: model.RoleUser, Content: "y"})}
	// The server names each answer differently (chatcmpl-1, -2, -3), so all
	// three differ; what matters is that none is empty and none repeats.
	a, b, c := id(short), id(short), id(long)
	if a == "" || a == b || b == c || a == c {
		t.Errorf("ids %q %q %q", a, b, c)
	}
}

func TestStreamMergesInterleavedFragments(t *testing.T) {
	srv := openaitest.NewServer(t, &openaitest.Options{FragmentSize: 3, Replies: []openaitest.Reply{{
		Text: "Let me check both. ",
		ToolCalls: []openaitest.ToolCall{
			openaitest.Call("c0", "read_file", `{"path":"/etc/hosts","lines":[1,2,3]}`),
			openaitest.Call("c1", "search", `{"query":"élan vital","limit":5}`),
			openaitest.Call("c2", "now", ``),
		},
		Usage: &openaitest.Usage{PromptTokens: 40, CompletionTokens: 20, CachedTokens: 32},
	}}})
	var (
		mu     sync.Mutex
		deltas []string
	)
	m, err := openai.New(openai.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Model: "m", Stream: true, OnDelta: func(ctx context.Context, d string) {
		if ctx == nil {
			t.Error("nil context")
		}
		mu.Lock()
		deltas = append(deltas, d)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Generate(t.Context(), ask("x"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Message.Content != "Let me check both. " || strings.Join(deltas, "") != r.Message.Content || len(deltas) < 3 {
		t.Errorf("content %q from deltas %q", r.Message.Content, deltas)
	}
	want := []model.ToolCall{
		{ID: "c0", Name: "read_file", Arguments: json.RawMessage(`{"path":"/etc/hosts","lines":[1,2,3]}`)},
		{ID: "c1", Name: "search", Arguments: json.RawMessage(`{"query":"élan vital","limit":5}`)},
		{ID: "c2", Name: "now", Arguments: json.RawMessage(`{}`)},
	}
	if !reflect.DeepEqual(r.Message.ToolCalls, want) {
		t.Errorf("calls\n got %s\nwant %s", show(r.Message.ToolCalls), show(want))
	}
	if r.Usage != (model.Usage{PromptTokens: 40, CompletionTokens: 20, CachedTokens: 32}) {
		t.Errorf("usage %+v", r.Usage)
	}
	if got := srv.LastRequest(); !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage {
		t.Errorf("request %s", got.Body)
	}
}

func show(calls []model.ToolCall) string {
	var sb strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&sb, "%s %s(%s); ", c.ID, c.Name, c.Arguments)
	}
	return sb.String()
}

// streamEvents writes raw SSE data lines.
func streamEvents(lines ...string) string {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString("data: " + l + "\n\n")
	}
	return sb.String()
}

func TestStreamQuirks(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []model.ToolCall
	}{
		{
			// Some servers send tool-call fragments without an index.
			name: "no index",
			body: streamEvents(
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\""}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"function":{"arguments":":1}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
				`[DONE]`),
			want: []model.ToolCall{{ID: "a", Name: "f", Arguments: json.RawMessage(`{"x":1}`)}, {ID: "b", Name: "g", Arguments: json.RawMessage(`{}`)}},
		},
		{
			// Others repeat the name in every fragment.
			name: "repeated name",
			body: streamEvents(
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{\"x\""}}]}}]}`,
				`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":":1}"}}]}}]}`,
				`{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
				`[DONE]`),
			want: []model.ToolCall{{ID: "a", Name: "f", Arguments: json.RawMessage(`{"x":1}`)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, openai.Config{Stream: true}, openaitest.Reply{Body: tt.body})
			r, err := m.Generate(t.Context(), ask("x"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Message.ToolCalls, tt.want) || r.FinishReason != "tool_calls" {
				t.Errorf("got %s (%s)", show(r.Message.ToolCalls), r.FinishReason)
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name       string
		stream     bool
		reply      openaitest.Reply
		unexpected bool // the error also matches io.ErrUnexpectedEOF
	}{
		{"empty choices", false, openaitest.Reply{EmptyChoices: true}, false},
		{"empty choices", true, openaitest.Reply{EmptyChoices: true}, true},
		{"bad JSON", false, openaitest.Reply{Body: `{"choices":[{"message":{"content":`}, true},
		{"not JSON", false, openaitest.Reply{Body: `<html>gateway</html>`}, false},
		{"wrong JSON type", false, openaitest.Reply{Body: `{"choices":"many"}`}, false},
		{"empty body", false, openaitest.Reply{Body: ` `}, false},
		{"truncated", false, openaitest.Reply{Text: "a fairly long answer that will be cut", TruncateAfter: 40}, true},
		{"bad JSON", true, openaitest.Reply{Body: streamEvents(`{"choices":[{"index":0,"delta":{"content":"x"`)}, false},
		{"truncated", true, openaitest.Reply{Text: "a fairly long answer that will be cut", TruncateAfter: 300}, true},
		{"ends without finish", true, openaitest.Reply{Body: streamEvents(`{"choices":[{"index":0,"delta":{"content":"x"}}]}`)}, true},
		{"garbage lines", true, openaitest.Reply{Body: strings.Repeat("garbage\n", 400)}, false},
	}
	for _, tt := range tests {
		name := tt.name
		if tt.stream {
			name += " (stream)"
		}
		t.Run(name, func(t *testing.T) {
			m, _ := newModel(t, openai.Config{Stream: tt.stream}, tt.reply)
			r, err := m.Generate(t.Context(), ask("x"))
			if err == nil {
				t.Fatalf("no error; response %+v", r)
			}
			if !errors.Is(err, model.ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			if tt.unexpected && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want io.ErrUnexpectedEOF too", err)
			}
			if !model.Retryable(err) {
				t.Errorf("err = %v not retryable", err)
			}
		})
	}
}

func TestErrorShapes(t *testing.T) {
	date := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		reply     openaitest.Reply
		want      model.APIError
		temporary bool
	}{
		{"openai object", openaitest.Error(400, openaitest.ErrorBody("bad model", "invalid_request_error", "model_not_found")),
			model.APIError{StatusCode: 400, Type: "invalid_request_error", Code: "model_not_found", Message: "bad model"}, false},
		{"numeric code", openaitest.Error(400, `{"error":{"message":"m","type":"t","code":400}}`),
			model.APIError{StatusCode: 400, Type: "t", Code: "400", Message: "m"}, false},
		{"string error", openaitest.Error(500, `{"error":"model crashed"}`),
			model.APIError{StatusCode: 500, Message: "model crashed"}, true},
		{"message at top", openaitest.Error(400, `{"object":"error","message":"too long","type":"BadRequestError","code":400}`),
			model.APIError{StatusCode: 400, Type: "BadRequestError", Code: "400", Message: "too long"}, false},
		{"detail", openaitest.Error(404, `{"detail":"Not Found"}`),
			model.APIError{StatusCode: 404, Message: "Not Found"}, false},
		{"plain text", openaitest.Error(503, "upstream connect error"),
			model.APIError{StatusCode: 503, Message: "upstream connect error"}, true},
		{"empty body", openaitest.Error(502, ""),
			model.APIError{StatusCode: 502, Message: "Bad Gateway"}, true},
		{"truncated error body", openaitest.Reply{Status: 500, Body: openaitest.ErrorBody("a long message here", "server_error", ""), TruncateAfter: 10},
			model.APIError{StatusCode: 500}, true},
		{"429 seconds", openaitest.RateLimited("2"),
			model.APIError{StatusCode: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached, try again later.", RetryAfter: 2 * time.Second}, true},
		{"429 fraction", openaitest.RateLimited("0.5"),
			model.APIError{StatusCode: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached, try again later.", RetryAfter: 500 * time.Millisecond}, true},
		{"429 ms", openaitest.Reply{Status: 429, Body: `{"error":{"message":"x"}}`, Header: http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}},
			model.APIError{StatusCode: 429, Message: "x", RetryAfter: 250 * time.Millisecond}, true},
		{"429 garbage", openaitest.RateLimited("soon"),
			model.APIError{StatusCode: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached, try again later."}, true},
		{"503 with retry", openaitest.Reply{Status: 503, Body: "busy", Header: http.Header{"Retry-After": {"7"}}},
			model.APIError{StatusCode: 503, Message: "busy", RetryAfter: 7 * time.Second}, true},
		{"429 date", openaitest.RateLimited(date), model.APIError{StatusCode: 429}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			modes(t, func(t *testing.T, stream bool) {
				m, _ := newModel(t, openai.Config{Stream: stream}, tt.reply)
				_, err := m.Generate(t.Context(), ask("x"))
				var ae *model.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v (%T), want *model.APIError", err, err)
				}
				if ae.Provider != "openai" {
					t.Errorf("provider %q", ae.Provider)
				}
				got := *ae
				got.Provider = ""
				switch tt.name {
				case "429 date":
					if got.RetryAfter < 8*time.Second || got.RetryAfter > 10*time.Second {
						t.Errorf("RetryAfter = %v, want about 10s", got.RetryAfter)
					}
				case "truncated error body":
					if got.StatusCode != 500 || got.Message == "" {
						t.Errorf("got %+v", got)
					}
				default:
					if got != tt.want {
						t.Errorf("got  %+v\nwant %+v", got, tt.want)
					}
				}
				if ae.Temporary() != tt.temporary || model.Retryable(err) != tt.temporary {
					t.Errorf("Temporary = %v, want %v", ae.Temporary(), tt.temporary)
				}
			})
		})
	}
}

func TestStreamErrorEvent(t *testing.T) {
	body := streamEvents(`{"choices":[{"index":0,"delta":{"content":"x"}}]}`) + `data: {"error":{"message":"overloaded","type":"server_error"}}` + "\n\n"
	m, _ := newModel(t, openai.Config{Stream: true}, openaitest.Reply{Body: body})
	_, err := m.Generate(t.Context(), ask("x"))
	var ae *model.APIError
	if !errors.As(err, &ae) || ae.Message != "overloaded" || ae.Type != "server_error" {
		t.Errorf("err = %v", err)
	}
}

func TestRetryAfterIsPerCall(t *testing.T) {
	// Concurrent calls each read the Retry-After of their own answer.
	srv := openaitest.NewServer(t, &openaitest.Options{NoRecord: true, Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
		return openaitest.RateLimited(r.Messages[0].Content)
	}})
	m, err := openai.New(openai.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Go(func() {
			_, err := m.Generate(t.Context(), ask(strconv.Itoa(i)))
			var ae *model.APIError
			if !errors.As(err, &ae) || ae.RetryAfter != time.Duration(i)*time.Second {
				t.Errorf("call %d: err = %v", i, err)
			}
		})
	}
	wg.Wait()
}

func TestSlowAnswerAndCancellation(t *testing.T) {
	modes(t, func(t *testing.T, stream bool) {
		m, _ := newModel(t, openai.Config{Stream: stream}, openaitest.Reply{Text: "late", Delay: time.Minute})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := m.Generate(ctx, ask("x"))
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, model.ErrMalformed) {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

func TestSlowStreamCutByDeadline(t *testing.T) {
	m, _ := newModel(t, openai.Config{Stream: true}, openaitest.Reply{Text: "many small fragments of text", ChunkDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Millisecond)
	defer cancel()
	_, err := m.Generate(ctx, ask("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := openaitest.NewServer(nil, nil)
	url := srv.URL
	srv.Close()
	m, err := openai.New(openai.Config{BaseURL: url, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Generate(t.Context(), ask("x"))
	var ae *model.APIError
	if err == nil || errors.As(err, &ae) || errors.Is(err, model.ErrMalformed) || !model.Retryable(err) {
		t.Errorf("err = %v", err)
	}
}

func TestUnknownRole(t *testing.T) {
	m, _ := newModel(t, openai.Config{})
	if _, err := m.Generate(t.Context(), &model.Request{Messages: []model.Message{{Role: "wizard"}}}); err == nil {
		t.Error("no error for an unknown role")
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{http.Header{"Retry-After": {" 1.25 "}}, 1250 * time.Millisecond},
		{http.Header{"Retry-After": {"0"}}, 0},
		{http.Header{"Retry-After": {"-4"}}, 0},
		{http.Header{"Retry-After": {"NaN"}}, 0},
		{http.Header{"Retry-After": {"Inf"}}, 0},
		{http.Header{"Retry-After": {"99999999999"}}, 24 * time.Hour},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{http.Header{"Retry-After": {"tomorrow"}}, 0},
		{http.Header{"Retry-After-Ms": {"120"}, "Retry-After": {"9"}}, 120 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"junk"}, "Retry-After": {"9"}}, 9 * time.Second},
	}
	for _, tt := range tests {
		if got := model.RetryAfter(tt.header, now); got != tt.want {
			t.Errorf("RetryAfter(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestSecretsNeverLeaveTheProvider(t *testing.T) {
	const key = "sk-test-SECRET-0123456789"
	echo := func(shape string) openaitest.Reply {
		auth := "Authorization: Bearer " + key
		switch shape {
		case "json":
			return openaitest.Error(401, openaitest.ErrorBody("bad key "+auth, "auth "+key, key))
		case "plain":
			return openaitest.Error(502, "proxy saw "+auth)
		case "sse":
			return openaitest.Reply{Body: streamEvents(`{"choices":[{"index":0,"delta":{"content":"x"}}]}`) +
				`data: {"error":{"message":"overloaded: ` + auth + `","type":"server_error"}}` + "\n\n"}
		}
		return openaitest.Text("your key is " + key)
	}
	for _, shape := range []string{"json", "plain", "sse", "answer"} {
		t.Run(shape, func(t *testing.T) {
			modes(t, func(t *testing.T, stream bool) {
				if shape == "sse" && !stream {
					return
				}
				m, _ := newModel(t, openai.Config{APIKey: key, Stream: stream}, echo(shape))
				resp, err := m.Generate(t.Context(), ask("x"))
				var text string
				if err != nil {
					text = err.Error()
					var ae *model.APIError
					if errors.As(err, &ae) {
						text += fmt.Sprintf("%+v", *ae)
					}
				} else {
					text = resp.Message.Content
				}
				if strings.Contains(text, key) || !strings.Contains(text, model.Redacted) {
					t.Errorf("got %q, want the key redacted", text)
				}
			})
		})
	}
}

func TestBaseURLPasswordRedacted(t *testing.T) {
	const pw = "sk-in-the-url-0123456789"
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Error(403, "forbidden: "+r.Header.Get("Authorization")+" "+pw)
	}})
	u := strings.Replace(srv.URL, "://", "://user:"+pw+"@", 1)
	m, err := openai.New(openai.Config{BaseURL: u, Model: "m", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Generate(t.Context(), ask("x"))
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("err = %v, want the password redacted", err)
	}
	_, err = openai.New(openai.Config{BaseURL: "ftp://user:" + pw + "@host", Model: "m"})
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Errorf("New = %v, want an error without the password", err)
	}
}

func TestErrorBodiesAreClipped(t *testing.T) {
	big := strings.Repeat("x", 4<<20)
	for _, body := range []string{big, openaitest.ErrorBody(big, "t", "c"), `{"error":{"message":"` + big + `"}}`} {
		modes(t, func(t *testing.T, stream bool) {
			m, _ := newModel(t, openai.Config{Stream: stream}, openaitest.Error(500, body))
			_, err := m.Generate(t.Context(), ask("x"))
			if err == nil || len(err.Error()) > model.MaxErrorText+100 {
				t.Errorf("error of %d bytes, want at most about %d", len(err.Error()), model.MaxErrorText)
			}
		})
	}
}

func TestResponseBodyIsBounded(t *testing.T) {
	modes(t, func(t *testing.T, stream bool) {
		m, _ := newModel(t, openai.Config{Stream: stream, MaxResponseBytes: 4 << 10}, openaitest.Text(strings.Repeat("y", 64<<10)))
		_, err := m.Generate(t.Context(), ask("x"))
		if !errors.Is(err, model.ErrTooLarge) || model.Retryable(err) {
			t.Errorf("err = %v, want ErrTooLarge, not retryable", err)
		}
	})
}

// Calls build their requests in reused buffers: calls of different shapes,
// at once and one after another, each send exactly their own messages,
// tool calls and tools, and nothing of an earlier, longer one.
func TestRequestsOwnTheirMessages(t *testing.T) {
	modes(t, func(t *testing.T, stream bool) {
		srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
			var sb strings.Builder
			for _, m := range r.Messages {
				sb.WriteString(m.Role + ":" + m.Content)
				for _, c := range m.ToolCalls {
					sb.WriteString("[" + c.ID + " " + c.Function.Name + " " + c.Function.Arguments + "]")
				}
				sb.WriteString(";")
			}
			for _, tl := range r.Tools {
				sb.WriteString("tool " + tl.Function.Name + " " + string(tl.Function.Parameters) + ";")
			}
			return openaitest.Text(sb.String())
		}})
		m, err := openai.New(openai.Config{BaseURL: srv.URL, HTTPClient: srv.Client(), Model: "m", Stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		// conversation i has i turns of a call and its result, and i tools.
		conversation := func(i int) (*model.Request, string) {
			req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "ask " + strconv.Itoa(i)}}}
			want := "user:ask " + strconv.Itoa(i) + ";"
			for k := range i {
				id, args := fmt.Sprintf("c%d_%d", i, k), fmt.Sprintf(`{"q":"%d/%d"}`, i, k)
				req.Messages = append(req.Messages,
					model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: id, Name: "lookup", Arguments: json.RawMessage(args)}}},
					model.Message{Role: model.RoleTool, ToolCallID: id, Content: "result " + id})
				want += "assistant:[" + id + " lookup " + args + "];tool:result " + id + ";"
			}
			for k := range i {
				params := fmt.Sprintf(`{"type":"object","title":"t%d_%d"}`, i, k)
				req.Tools = append(req.Tools, model.ToolDef{Name: fmt.Sprintf("t%d", k), Parameters: json.RawMessage(params)})
				want += fmt.Sprintf("tool t%d %s;", k, params)
			}
			return req, want
		}
		check := func(i int) {
			req, want := conversation(i)
			resp, err := m.Generate(t.Context(), req)
			if err != nil {
				t.Errorf("conversation %d: %v", i, err)
			} else if resp.Message.Content != want {
				t.Errorf("conversation %d sent\n%s\nwant\n%s", i, resp.Message.Content, want)
			}
		}
		for _, i := range []int{5, 1, 0, 3} {
			check(i)
		}
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() { check(i % 7) })
		}
		wg.Wait()
	})
}

// The default client keeps its connections: a second wave of as many calls
// at once reuses them (http.DefaultTransport would keep 2 and open the rest
// again). A few may still be opened: a connection goes back to the pool
// just after its call returns, and a call of the next wave may come first.
func TestDefaultClientReusesConnections(t *testing.T) {
	const calls = 48
	srv := openaitest.NewServer(t, &openaitest.Options{NoRecord: true, Latency: 20 * time.Millisecond,
		Handler: func(*openaitest.ChatRequest) openaitest.Reply { return openaitest.Text("ok") }})
	m, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	wave := func() {
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				if _, err := m.Generate(t.Context(), ask("x")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	wave()
	first := srv.Connections()
	wave()
	if got := srv.Connections(); first > calls || got-first > calls/4 {
		t.Errorf("%d calls at once opened %d connections, then %d more", calls, first, got-first)
	}
}
