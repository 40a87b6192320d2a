package openai_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
)

// bodyTransport answers every request with status and body.
type bodyTransport struct {
	status int
	body   []byte
	sse    bool
}

func (b bodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	if b.sse {
		h.Set("Content-Type", "text/event-stream")
	}
	return &http.Response{StatusCode: b.status, Header: h, Body: io.NopCloser(bytes.NewReader(b.body)), Request: req}, nil
}

// fuzzDecode checks that an answer of any bytes gives a response or an error,
// never a panic, and that a response is one the runtime can use.
func fuzzDecode(t *testing.T, stream bool, status int, body []byte) {
	const key = "sk-fuzz-secret-key"
	m, err := openai.New(openai.Config{BaseURL: "http://fuzz.invalid/v1", APIKey: key, Model: "m", Stream: stream,
		HTTPClient: &http.Client{Transport: bodyTransport{status: 200 + status%400, body: body, sse: stream}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := m.Generate(t.Context(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "x"}}})
	if err != nil {
		if bytes.Contains([]byte(err.Error()), []byte(key)) {
			t.Fatalf("the key leaked: %v", err)
		}
		return
	}
	if resp.Message.Role != model.RoleAssistant || resp.FinishReason == "" {
		t.Fatalf("response without role or finish reason: %+v", resp)
	}
	for _, c := range resp.Message.ToolCalls {
		if c.ID == "" || len(c.Arguments) == 0 {
			t.Fatalf("tool call without id or arguments: %+v", c)
		}
	}
}

// FuzzDecodeResponse: plain JSON answers.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(0, []byte(`{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`))
	f.Add(0, []byte(`{"choices":[{"message":{"tool_calls":[{"id":"","type":"function","function":{"name":"f","arguments":""}}]}}]}`))
	f.Add(0, []byte(`{"choices":[]}`))
	f.Add(229, []byte(`{"error":{"message":"sk-fuzz-secret-key is wrong","type":"auth","code":401}}`))
	f.Add(300, []byte(`upstream failed`))
	f.Fuzz(func(t *testing.T, status int, body []byte) { fuzzDecode(t, false, status, body) })
}

// FuzzDecodeStream: server-sent events.
func FuzzDecodeStream(f *testing.F) {
	f.Add(0, []byte("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	f.Add(0, []byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n"))
	f.Add(0, []byte("data: {\"error\":{\"message\":\"overloaded\"}}\n\n"))
	f.Add(0, []byte(": keep-alive\n\ndata: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"x\"}}]}\n\n"))
	f.Fuzz(func(t *testing.T, status int, body []byte) { fuzzDecode(t, true, status, body) })
}
