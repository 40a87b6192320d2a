package langchain_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tmc/langchaingo/llms"
	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/langchain"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// newModel returns a provider over langchaingo's OpenAI client pointed at a
// loopback server answering with replies. capture says whether the client
// sends through langchain.HTTPClient.
func newModel(t *testing.T, capture bool, replies ...openaitest.Reply) (*langchain.Model, *openaitest.Server) {
	t.Helper()
	srv := openaitest.NewServer(t, &openaitest.Options{Replies: replies})
	client := srv.Client()
	if capture {
		client = langchain.HTTPClient(client)
	}
	llm, err := lcopenai.New(
		lcopenai.WithToken("placeholder"), // langchaingo refuses an empty token
		lcopenai.WithBaseURL(srv.URL),
		lcopenai.WithModel("test-model"),
		lcopenai.WithHTTPClient(client),
	)
	if err != nil {
		t.Fatal(err)
	}
	return langchain.New(llm, "test-model", nil), srv
}

func ask(text string) *model.Request {
	return &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: text}}}
}

var lookupTool = model.ToolDef{
	Name:       "lookup",
	Parameters: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`),
}

func TestRequestMapping(t *testing.T) {
	m, srv := newModel(t, true, openaitest.Text("ok"))
	temp, seed := 0.3, 9
	req := &model.Request{
		Model: "override",
		Messages: []model.Message{
			{Role: model.RoleSystem, Content: "sys"},
			{Role: model.RoleUser, Content: "q"},
			{Role: model.RoleAssistant, Content: "checking", ToolCalls: []model.ToolCall{{ID: "c1", Name: "lookup", Arguments: json.RawMessage(`{"q":"x"}`)}}},
			{Role: model.RoleTool, ToolCallID: "c1", Name: "lookup", Content: "found"},
			{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{{ID: "c2", Name: "now"}}},
			{Role: model.RoleTool, ToolCallID: "c2", Name: "now", Content: "noon"},
		},
		Tools:       []model.ToolDef{lookupTool, {Name: "now"}},
		ToolChoice:  model.ToolChoice{Name: "lookup"},
		Temperature: &temp,
		MaxTokens:   77,
		Seed:        &seed,
	}
	r, err := m.Generate(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "override" {
		t.Errorf("model %q", r.Model)
	}
	got := srv.LastRequest()
	if got.Model != "override" || got.Temperature == nil || *got.Temperature != 0.3 || got.MaxCompletionTokens == nil || *got.MaxCompletionTokens != 77 || *got.Seed != 9 {
		t.Errorf("settings: %s", got.Body)
	}
	if string(got.ToolChoice) != `{"type":"function","function":{"name":"lookup"}}` {
		t.Errorf("tool_choice %s", got.ToolChoice)
	}
	var params map[string]any
	if err := json.Unmarshal(got.Tools[0].Function.Parameters, &params); err != nil || params["required"].([]any)[0] != "q" {
		t.Errorf("parameters %s", got.Tools[0].Function.Parameters)
	}
	if string(got.Tools[1].Function.Parameters) != `{"properties":{},"type":"object"}` {
		t.Errorf("empty parameters %s", got.Tools[1].Function.Parameters)
	}
	msgs := got.Messages
	if len(msgs) != 6 || msgs[0].Role != "system" || msgs[2].Content != "checking" || msgs[2].ToolCalls[0].ID != "c1" ||
		msgs[2].ToolCalls[0].Function.Arguments != `{"q":"x"}` || msgs[4].ToolCalls[0].Function.Arguments != "{}" {
		t.Fatalf("messages %s", got.Body)
	}
	if msgs[3].Role != "tool" || msgs[3].ToolCallID != "c1" || msgs[3].Content != "found" {
		t.Errorf("tool message %+v", msgs[3])
	}
}

func TestToolChoiceModes(t *testing.T) {
	for mode, want := range map[model.ToolChoiceMode]string{model.ChoiceRequired: `"required"`, model.ChoiceNone: `"none"`, model.ChoiceAuto: ``} {
		m, srv := newModel(t, true, openaitest.Text("ok"))
		if _, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: []model.ToolDef{lookupTool}, ToolChoice: model.ToolChoice{Mode: mode}}); err != nil {
			t.Fatal(err)
		}
		if got := string(srv.LastRequest().ToolChoice); got != want {
			t.Errorf("mode %q: tool_choice %s, want %s", mode, got, want)
		}
	}
}

func TestReplies(t *testing.T) {
	calls := []openaitest.ToolCall{openaitest.Call("a", "lookup", `{"q":"1"}`), openaitest.Call("b", "lookup", `{"q":"2"}`)}
	tests := []struct {
		name  string
		reply openaitest.Reply
		check func(t *testing.T, r *model.Response)
	}{
		{"parallel calls", openaitest.Calls(calls...), func(t *testing.T, r *model.Response) {
			want := []model.ToolCall{{ID: "a", Name: "lookup", Arguments: json.RawMessage(`{"q":"1"}`)}, {ID: "b", Name: "lookup", Arguments: json.RawMessage(`{"q":"2"}`)}}
			if !reflect.DeepEqual(r.Message.ToolCalls, want) || r.FinishReason != "tool_calls" || r.Message.Content != "" {
				t.Errorf("response %+v", r)
			}
		}},
		{"missing ids", openaitest.Reply{ToolCalls: calls, NoIDs: true}, func(t *testing.T, r *model.Response) {
			tc := r.Message.ToolCalls
			if tc[0].ID == "" || tc[1].ID == "" || tc[0].ID == tc[1].ID {
				t.Errorf("ids %q %q", tc[0].ID, tc[1].ID)
			}
		}},
		{"stop with calls", openaitest.Reply{ToolCalls: calls[:1], FinishReason: "stop"}, func(t *testing.T, r *model.Response) {
			if r.FinishReason != "tool_calls" {
				t.Errorf("finish %q", r.FinishReason)
			}
		}},
		{"empty arguments", openaitest.Calls(openaitest.Call("c", "now", "")), func(t *testing.T, r *model.Response) {
			if string(r.Message.ToolCalls[0].Arguments) != "{}" {
				t.Errorf("arguments %s", r.Message.ToolCalls[0].Arguments)
			}
		}},
		{"null content", openaitest.Reply{NullContent: true}, func(t *testing.T, r *model.Response) {
			if r.Message.Content != "" || r.FinishReason != "stop" {
				t.Errorf("response %+v", r)
			}
		}},
		{"usage", openaitest.Reply{Text: "x", Usage: &openaitest.Usage{PromptTokens: 20, CompletionTokens: 4, CachedTokens: 16}}, func(t *testing.T, r *model.Response) {
			if r.Usage != (model.Usage{PromptTokens: 20, CompletionTokens: 4, CachedTokens: 16}) {
				t.Errorf("usage %+v", r.Usage)
			}
		}},
		{"no usage", openaitest.Text("some words"), func(t *testing.T, r *model.Response) {
			if r.Usage.CompletionTokens == 0 {
				t.Errorf("usage not estimated: %+v", r.Usage)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, true, tt.reply)
			r, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: []model.ToolDef{lookupTool}})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name  string
		reply openaitest.Reply
	}{
		{"empty choices", openaitest.Reply{EmptyChoices: true}},
		{"bad JSON", openaitest.Reply{Body: `{"choices":[{"message":`}},
		{"not JSON", openaitest.Reply{Body: `<html></html>`}},
		{"truncated", openaitest.Reply{Text: "a fairly long answer that will be cut", TruncateAfter: 40}},
	}
	for _, tt := range tests {
		for _, capture := range []bool{true, false} {
			name := tt.name
			if !capture {
				name += " (no capture)"
			}
			t.Run(name, func(t *testing.T) {
				m, _ := newModel(t, capture, tt.reply)
				r, err := m.Generate(t.Context(), ask("x"))
				if !errors.Is(err, model.ErrMalformed) {
					t.Errorf("Generate = %+v, %v; want ErrMalformed", r, err)
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply openaitest.Reply
		want  model.APIError
	}{
		{"429", openaitest.RateLimited("4"), model.APIError{StatusCode: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "Rate limit reached, try again later.", RetryAfter: 4 * time.Second}},
		{"500 string", openaitest.Error(500, `{"error":"crashed"}`), model.APIError{StatusCode: 500, Message: "crashed"}},
		{"503 text", openaitest.Error(503, "overloaded"), model.APIError{StatusCode: 503, Message: "overloaded"}},
		{"400 message", openaitest.Error(400, `{"message":"bad","code":400}`), model.APIError{StatusCode: 400, Message: "bad", Code: "400"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newModel(t, true, tt.reply)
			_, err := m.Generate(t.Context(), ask("x"))
			var ae *model.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			got := *ae
			got.Provider = ""
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	t.Run("without capture", func(t *testing.T) {
		// Only the status survives in langchaingo's error text.
		m, _ := newModel(t, false, openaitest.RateLimited("4"))
		_, err := m.Generate(t.Context(), ask("x"))
		var ae *model.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 429 || !ae.Temporary() {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCancellation(t *testing.T) {
	m, _ := newModel(t, true, openaitest.Reply{Text: "late", Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := m.Generate(ctx, ask("x"))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, model.ErrMalformed) {
		t.Errorf("err = %v", err)
	}
}

// fakeLLM is an llms.Model that answers with resp or err and records the
// messages and options it was given.
type fakeLLM struct {
	resp *llms.ContentResponse
	err  error
	msgs []llms.MessageContent
	opts llms.CallOptions
}

func (f *fakeLLM) GenerateContent(_ context.Context, msgs []llms.MessageContent, options ...llms.CallOption) (*llms.ContentResponse, error) {
	f.msgs = msgs
	for _, o := range options {
		o(&f.opts)
	}
	return f.resp, f.err
}

func (f *fakeLLM) Call(context.Context, string, ...llms.CallOption) (string, error) {
	return "", errors.New("not used")
}

func TestUsageKeys(t *testing.T) {
	tests := []struct {
		info map[string]any
		want model.Usage
	}{
		{map[string]any{"PromptTokens": 10, "CompletionTokens": 2, "PromptCachedTokens": 4}, model.Usage{PromptTokens: 10, CompletionTokens: 2, CachedTokens: 4}},
		{map[string]any{"InputTokens": int64(7), "OutputTokens": int32(3), "CacheReadInputTokens": 5}, model.Usage{PromptTokens: 7, CompletionTokens: 3, CachedTokens: 5}},
		{map[string]any{"input_tokens": float64(8), "output_tokens": float64(1)}, model.Usage{PromptTokens: 8, CompletionTokens: 1}},
		{map[string]any{"prompt_tokens": json.Number("6"), "completion_tokens": uint32(2)}, model.Usage{PromptTokens: 6, CompletionTokens: 2}},
	}
	for _, tt := range tests {
		f := &fakeLLM{resp: &llms.ContentResponse{Choices: []*llms.ContentChoice{{Content: "x", GenerationInfo: tt.info}}}}
		r, err := langchain.New(f, "fake", nil).Generate(t.Context(), ask("x"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Usage != tt.want {
			t.Errorf("%v: usage %+v, want %+v", tt.info, r.Usage, tt.want)
		}
	}
}

func TestOptionsAndLegacyFunctionCall(t *testing.T) {
	f := &fakeLLM{resp: &llms.ContentResponse{Choices: []*llms.ContentChoice{{
		StopReason: "function_call",
		FuncCall:   &llms.FunctionCall{Name: "lookup", Arguments: `{"q":"x"}`},
	}}}}
	m := langchain.New(f, "fake", &langchain.Options{CallOptions: []llms.CallOption{llms.WithTopP(0.5)}})
	r, err := m.Generate(t.Context(), &model.Request{Messages: ask("x").Messages, Tools: []model.ToolDef{lookupTool}, ToolChoice: model.ToolChoice{Mode: model.ChoiceRequired}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Message.ToolCalls) != 1 || r.Message.ToolCalls[0].Name != "lookup" || r.Message.ToolCalls[0].ID == "" || r.FinishReason != "tool_calls" || r.Model != "fake" {
		t.Errorf("response %+v", r)
	}
	if f.opts.TopP != 0.5 || f.opts.ToolChoice != "required" || len(f.opts.Tools) != 1 || f.opts.Tools[0].Function.Name != "lookup" {
		t.Errorf("options %+v", f.opts)
	}
	if f.opts.StreamingFunc != nil {
		t.Error("a streaming func was set")
	}
	if p, ok := f.opts.Tools[0].Function.Parameters.(map[string]any); !ok || p["type"] != "object" {
		t.Errorf("parameters %#v", f.opts.Tools[0].Function.Parameters)
	}
}

func TestBackendErrors(t *testing.T) {
	tests := []struct {
		err       error
		status    int
		malformed bool
	}{
		{llms.NewError(llms.ErrCodeRateLimit, "x", "slow down"), 429, false},
		{llms.NewError(llms.ErrCodeProviderUnavailable, "x", "down"), 503, false},
		{llms.NewError(llms.ErrCodeAuthentication, "x", "who"), 401, false},
		{errors.New("API returned unexpected status code: 500: boom"), 500, false},
		{errors.New("no response"), 0, true},
		{io.ErrUnexpectedEOF, 0, true},
		{errors.New("something else"), 0, false},
	}
	for _, tt := range tests {
		_, err := langchain.New(&fakeLLM{err: tt.err}, "fake", &langchain.Options{Provider: "fake"}).Generate(t.Context(), ask("x"))
		var ae *model.APIError
		if tt.status != 0 {
			if !errors.As(err, &ae) || ae.StatusCode != tt.status || ae.Provider != "fake" {
				t.Errorf("%v: err = %v", tt.err, err)
			}
			continue
		}
		if errors.As(err, &ae) || errors.Is(err, model.ErrMalformed) != tt.malformed {
			t.Errorf("%v: err = %v", tt.err, err)
		}
	}
	for _, resp := range []*llms.ContentResponse{nil, {}, {Choices: []*llms.ContentChoice{nil}}} {
		if _, err := langchain.New(&fakeLLM{resp: resp}, "fake", nil).Generate(t.Context(), ask("x")); !errors.Is(err, model.ErrMalformed) {
			t.Errorf("%+v: err = %v", resp, err)
		}
	}
	if _, err := langchain.New(nil, "nil", nil).Generate(t.Context(), ask("x")); err == nil {
		t.Error("no error without a model")
	}
	if _, err := langchain.New(&fakeLLM{}, "f", nil).Generate(t.Context(), &model.Request{Messages: []model.Message{{Role: "wizard"}}}); err == nil {
		t.Error("no error for an unknown role")
	}
	if _, err := langchain.New(&fakeLLM{}, "f", nil).Generate(t.Context(), &model.Request{Tools: []model.ToolDef{{Name: "t", Parameters: json.RawMessage("[1")}}}); err == nil {
		t.Error("no error for bad parameters")
	}
}

func TestHTTPClientKeepsBase(t *testing.T) {
	base := &http.Client{Timeout: 3 * time.Second}
	c := langchain.HTTPClient(base)
	if c == base || c.Timeout != 3*time.Second || base.Transport != nil {
		t.Errorf("client %+v, base %+v", c, base)
	}
	if langchain.HTTPClient(nil).Transport == nil {
		t.Error("no transport")
	}
}

// TestSecretsAreRedacted: an endpoint that echoes the credential it was sent
// leaves it in no error or answer, whether the key was named in Options or
// only carried by the request (HTTPClient).
func TestSecretsAreRedacted(t *testing.T) {
	const key = "sk-langchain-SECRET-0123"
	for _, named := range []bool{true, false} {
		srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
			if strings.Contains(r.Messages[0].Content, "answer") {
				return openaitest.Text("the key is " + key)
			}
			return openaitest.Error(401, openaitest.ErrorBody("bad key: "+r.Header.Get("Authorization"), "auth", ""))
		}})
		llm, err := lcopenai.New(lcopenai.WithToken(key), lcopenai.WithBaseURL(srv.URL), lcopenai.WithModel("m"),
			lcopenai.WithHTTPClient(langchain.HTTPClient(srv.Client())))
		if err != nil {
			t.Fatal(err)
		}
		opts := &langchain.Options{}
		if named {
			opts.Secrets = []string{key}
		}
		m := langchain.New(llm, "m", opts)
		_, err = m.Generate(t.Context(), ask("fail"))
		if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), model.Redacted) {
			t.Errorf("named %v: err = %v", named, err)
		}
		resp, err := m.Generate(t.Context(), ask("answer"))
		if err != nil || strings.Contains(resp.Message.Content, key) {
			t.Errorf("named %v: answer %+v, %v", named, resp, err)
		}
	}
}
