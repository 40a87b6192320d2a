package openaitest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

func post(t *testing.T, s *openaitest.Server, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

const simpleRequest = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

func TestServerCompletion(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{{
		Text:  "hello",
		Usage: &openaitest.Usage{PromptTokens: 3, CompletionTokens: 2, CachedTokens: 1},
	}}})
	resp := post(t, s, simpleRequest)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var got struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			PromptTokens        int `json:"prompt_tokens"`
			CompletionTokens    int `json:"completion_tokens"`
			TotalTokens         int `json:"total_tokens"`
			PromptTokensDetails struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Model != "m" || len(got.Choices) != 1 || *got.Choices[0].Message.Content != "hello" ||
		got.Choices[0].Message.Role != "assistant" || got.Choices[0].FinishReason != "stop" {
		t.Errorf("got %+v", got)
	}
	if u := got.Usage; u.PromptTokens != 3 || u.CompletionTokens != 2 || u.TotalTokens != 5 || u.PromptTokensDetails.CachedTokens != 1 {
		t.Errorf("usage = %+v", u)
	}
	if s.Count() != 1 || len(s.Requests()) != 1 {
		t.Fatalf("count %d, recorded %d", s.Count(), len(s.Requests()))
	}
	r := s.LastRequest()
	if r.Model != "m" || r.Messages[0].Content != "hi" || string(r.Body) != simpleRequest {
		t.Errorf("recorded %+v", r)
	}
}

func TestServerToolCallsNullContentAndIDs(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{
		openaitest.Calls(openaitest.Call("", "a", `{}`), openaitest.Call("given", "b", `{"x":1}`)),
		{ToolCalls: []openaitest.ToolCall{openaitest.Call("dropped", "a", `{}`)}, NoIDs: true, FinishReason: "stop"},
	}})
	body := readAll(t, post(t, s, simpleRequest).Body)
	for _, want := range []string{`"content":null`, `"id":"call_1_0"`, `"id":"given"`, `"finish_reason":"tool_calls"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	body = readAll(t, post(t, s, simpleRequest).Body)
	if strings.Contains(body, `"id":"dropped"`) || !strings.Contains(body, `"finish_reason":"stop"`) {
		t.Errorf("quirks not reproduced: %s", body)
	}
}

func TestServerEmptyChoices(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{{EmptyChoices: true}}})
	if body := readAll(t, post(t, s, simpleRequest).Body); !strings.Contains(body, `"choices":[]`) {
		t.Errorf("body = %s", body)
	}
}

// events reads the data lines of an event stream.
func events(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestServerStreamInterleavesToolCalls(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{FragmentSize: 4, Replies: []openaitest.Reply{{
		Text: "thinking…",
		ToolCalls: []openaitest.ToolCall{
			openaitest.Call("c0", "first", `{"path":"/tmp/a"}`),
			openaitest.Call("c1", "second", `{"query":"weather in Paris"}`),
		},
		Usage: &openaitest.Usage{PromptTokens: 9, CompletionTokens: 4},
	}}})
	resp := post(t, s, `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	evs := events(t, resp.Body)
	if evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("last event %q", evs[len(evs)-1])
	}
	var (
		text    strings.Builder
		args    = map[int]string{}
		names   = map[int]string{}
		finish  string
		usage   int
		indexes []int
	)
	for _, e := range evs[:len(evs)-1] {
		var c struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				TotalTokens int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		if c.Usage != nil {
			usage = c.Usage.TotalTokens
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			for _, tc := range ch.Delta.ToolCalls {
				indexes = append(indexes, tc.Index)
				names[tc.Index] += tc.Function.Name
				args[tc.Index] += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	if text.String() != "thinking…" || finish != "tool_calls" || usage != 13 {
		t.Errorf("text %q, finish %q, usage %d", text.String(), finish, usage)
	}
	if names[0] != "first" || names[1] != "second" || args[0] != `{"path":"/tmp/a"}` || args[1] != `{"query":"weather in Paris"}` {
		t.Errorf("reassembled %v %v", names, args)
	}
	// The fragments of the two calls alternate while both have some left.
	if len(indexes) < 6 || indexes[0] != 0 || indexes[1] != 1 || indexes[2] != 0 || indexes[3] != 1 {
		t.Errorf("fragments not interleaved: %v", indexes)
	}
}

func TestServerStreamWithoutUsageWhenNotAsked(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{{Text: "x", Usage: &openaitest.Usage{PromptTokens: 1}}}})
	body := readAll(t, post(t, s, `{"model":"m","stream":true,"messages":[]}`).Body)
	if strings.Contains(body, "usage") {
		t.Errorf("usage sent unasked: %s", body)
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply openaitest.Reply
		want  int
		body  string
		retry string
	}{
		{"rate limited", openaitest.RateLimited("3"), 429, `"code":"rate_limit_exceeded"`, "3"},
		{"string error", openaitest.Error(500, `{"error":"boom"}`), 500, `{"error":"boom"}`, ""},
		{"plain text", openaitest.Error(503, "upstream overloaded"), 503, "upstream overloaded", ""},
		{"object", openaitest.Error(400, openaitest.ErrorBody("bad", "invalid_request_error", "")), 400, `"code":null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{tt.reply}})
			resp := post(t, s, simpleRequest)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.body) || resp.Header.Get("Retry-After") != tt.retry {
				t.Errorf("status %d, body %s, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
		})
	}
}

func TestServerTruncates(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{
		{Text: "a long enough answer", TruncateAfter: 20},
		{Text: "a long enough answer", TruncateAfter: 150},
	}})
	_, err := io.ReadAll(post(t, s, simpleRequest).Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("plain: err = %v, want unexpected EOF", err)
	}
	_, err = io.ReadAll(post(t, s, `{"model":"m","stream":true,"messages":[]}`).Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream: err = %v, want unexpected EOF", err)
	}
}

func TestServerMalformedBody(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{{Body: `{"choices":[{`}}})
	resp := post(t, s, simpleRequest)
	if body := readAll(t, resp.Body); resp.StatusCode != 200 || body != `{"choices":[{` {
		t.Errorf("status %d body %q", resp.StatusCode, body)
	}
}

func TestServerExhaustedAndBadRequests(t *testing.T) {
	s := openaitest.NewServer(t, nil)
	resp := post(t, s, simpleRequest)
	if body := readAll(t, resp.Body); resp.StatusCode != 400 || !strings.Contains(body, "script_exhausted") {
		t.Errorf("exhausted: %d %s", resp.StatusCode, body)
	}
	resp = post(t, s, `{"messages":`)
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON: %d", resp.StatusCode)
	}
	r, err := s.Client().Get(s.URL + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 404 {
		t.Errorf("unknown route: %d", r.StatusCode)
	}
}

func TestServerModelsAndAPIKey(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{APIKey: "sk-test", Models: []string{"a", "b"}})
	get := func(key string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/models", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp, readAll(t, resp.Body)
	}
	if resp, body := get("wrong"); resp.StatusCode != 401 || !strings.Contains(body, "invalid_api_key") {
		t.Errorf("wrong key: %d %s", resp.StatusCode, body)
	}
	resp, body := get("sk-test")
	if resp.StatusCode != 200 || !strings.Contains(body, `"id":"a"`) || !strings.Contains(body, `"id":"b"`) {
		t.Errorf("models: %d %s", resp.StatusCode, body)
	}
}

func TestServerLatencyAndDelay(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Latency: 20 * time.Millisecond, Replies: []openaitest.Reply{{Text: "x", Delay: 20 * time.Millisecond}}})
	start := time.Now()
	readAll(t, post(t, s, simpleRequest).Body)
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("answered in %v, want at least 40ms", d)
	}
}

func TestServerSlowAnswerStopsWhenClientLeaves(t *testing.T) {
	s := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{{Text: "x", Delay: time.Minute}}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/chat/completions", strings.NewReader(simpleRequest))
	start := time.Now()
	if _, err := s.Client().Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v", err)
	}
	s.Close() // waits for the handler, which must not sit out its minute
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("close took %v", d)
	}
}

func TestServerRecordingAndQueue(t *testing.T) {
	s := openaitest.NewServer(nil, &openaitest.Options{NoRecord: true})
	defer s.Close()
	s.Enqueue(openaitest.Text("a"), openaitest.Text("b"))
	if s.Pending() != 2 {
		t.Fatalf("pending %d", s.Pending())
	}
	readAll(t, post(t, s, simpleRequest).Body)
	s.SetRecording(true)
	readAll(t, post(t, s, simpleRequest).Body)
	if s.Count() != 2 || len(s.Requests()) != 1 || s.Pending() != 0 {
		t.Errorf("count %d, recorded %d, pending %d", s.Count(), len(s.Requests()), s.Pending())
	}
	s.SetHandler(func(*openaitest.ChatRequest) openaitest.Reply { return openaitest.Text("from handler") })
	if body := readAll(t, post(t, s, simpleRequest).Body); !strings.Contains(body, "from handler") {
		t.Errorf("handler not used: %s", body)
	}
}

func TestModelRequest(t *testing.T) {
	body := `{"model":"m","temperature":0,"max_completion_tokens":64,"seed":7,"parallel_tool_calls":false,
	"tool_choice":{"type":"function","function":{"name":"lookup"}},
	"tools":[{"type":"function","function":{"name":"lookup","description":"d","parameters":{"type":"object"}}}],
	"messages":[
		{"role":"developer","content":"sys"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},
		{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":""}}]},
		{"role":"tool","tool_call_id":"c1","content":"42"}]}`
	var r openaitest.ChatRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	got, err := r.ModelRequest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "m" || *got.Temperature != 0 || got.MaxTokens != 64 || *got.Seed != 7 || *got.ParallelToolCalls {
		t.Errorf("settings %+v", got)
	}
	if got.ToolChoice != (model.ToolChoice{Mode: model.ChoiceRequired, Name: "lookup"}) {
		t.Errorf("tool choice %+v", got.ToolChoice)
	}
	if len(got.Tools) != 1 || got.Tools[0].Name != "lookup" || string(got.Tools[0].Parameters) != `{"type":"object"}` {
		t.Errorf("tools %+v", got.Tools)
	}
	m := got.Messages
	if m[0].Role != model.RoleSystem || m[1].Content != "ab" || !r.Messages[2].ContentNull ||
		string(m[2].ToolCalls[0].Arguments) != "{}" || m[3].Role != model.RoleTool || m[3].ToolCallID != "c1" {
		t.Errorf("messages %+v", m)
	}

	for raw, want := range map[string]model.ToolChoice{
		`"auto"`:     {},
		`"required"`: {Mode: model.ChoiceRequired},
		`"none"`:     {Mode: model.ChoiceNone},
	} {
		r := openaitest.ChatRequest{ToolChoice: json.RawMessage(raw)}
		got, err := r.ModelRequest()
		if err != nil || got.ToolChoice != want {
			t.Errorf("tool_choice %s: %+v, %v", raw, got, err)
		}
	}
	for _, bad := range []string{`{"messages":[{"role":"wizard"}]}`, `{"tool_choice":"sometimes"}`, `{"tools":[{"type":"web_search"}]}`} {
		var r openaitest.ChatRequest
		if err := json.Unmarshal([]byte(bad), &r); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ModelRequest(); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestErrorReply(t *testing.T) {
	tests := []struct {
		err    error
		status int
		body   string
		header map[string]string
	}{
		{&model.APIError{StatusCode: 429, Message: "slow", RetryAfter: 2 * time.Second}, 429, `"type":"rate_limit_error"`, map[string]string{"Retry-After": "2", "Retry-After-Ms": ""}},
		{&model.APIError{StatusCode: 503, RetryAfter: 1500 * time.Millisecond}, 503, `"type":"server_error"`, map[string]string{"Retry-After": "2", "Retry-After-Ms": "1500"}},
		{&model.APIError{Type: "odd", Code: "c"}, 500, `"code":"c"`, nil},
		{model.ErrScriptExhausted, 400, "script_exhausted", nil},
		{context.Canceled, 504, "canceled", nil},
		{errors.New("boom"), 500, "boom", nil},
	}
	for _, tt := range tests {
		r := openaitest.ErrorReply(tt.err)
		if r.Status != tt.status || !strings.Contains(r.Body, tt.body) {
			t.Errorf("%v: status %d body %s", tt.err, r.Status, r.Body)
		}
		for k, v := range tt.header {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%v: %s = %q, want %q", tt.err, k, got, v)
			}
		}
	}
}

func TestFromModel(t *testing.T) {
	sm := model.NewScripted("scripted",
		model.Turn{Text: "hi", Calls: []model.ToolCall{model.Call("lookup", map[string]int{"n": 1})}, Usage: model.Usage{PromptTokens: 5, CompletionTokens: 6, CachedTokens: 2}},
	)
	s := openaitest.NewServer(t, &openaitest.Options{Handler: openaitest.FromModel(sm)})
	body := readAll(t, post(t, s, `{"model":"m","messages":[{"role":"user","content":"q"}]}`).Body)
	for _, want := range []string{`"content":"hi"`, `"name":"lookup"`, `"arguments":"{\"n\":1}"`, `"id":"call_1_0"`, `"cached_tokens":2`, `"model":"scripted"`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	if got := sm.Requests(); len(got) != 1 || got[0].Messages[0].Content != "q" {
		t.Errorf("model saw %+v", got)
	}
	// The script is exhausted: a 400, not a retryable 500.
	resp := post(t, s, simpleRequest)
	if b := readAll(t, resp.Body); resp.StatusCode != 400 || !bytes.Contains([]byte(b), []byte("script_exhausted")) {
		t.Errorf("exhausted: %d %s", resp.StatusCode, b)
	}
}
