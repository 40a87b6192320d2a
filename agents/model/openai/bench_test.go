package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// canned answers every request from memory with one body, after reading
// the request's: no network, no server, so what differs between two
// clients is only their own work. It keeps the first request body it read.
type canned struct {
	answer []byte
	first  []byte
}

func (c *canned) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if c.first == nil {
		c.first = body
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		ContentLength: int64(len(c.answer)), Body: io.NopCloser(bytes.NewReader(c.answer)), Request: req}, nil
}

// benchAnswer is a tool call as the loopback server answers it.
const benchAnswer = `{"id":"chatcmpl-3","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,` +
	`"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c3","type":"function","function":{"name":"complete_goal",` +
	`"arguments":"{\"result\":\"done\",\"criteria\":[{\"criterion\":\"a note is taken\",\"met\":true,\"evidence\":\"c2\"}],` +
	`\"constraints\":[{\"constraint\":\"nothing else\",\"respected\":true}]}"}}]},"finish_reason":"tool_calls"}],` +
	`"usage":{"prompt_tokens":100,"completion_tokens":10,"total_tokens":110}}`

// BenchmarkOverBare measures what the provider adds to a bare go-openai
// client: both send the third request of a delegation of
// internal/httpe2e's benchmarks (testdata/delegation_request.json: six
// messages, three tools) over a transport answering from memory, so the
// difference between "provider" and "bare" is the provider's own work
// (mapping the request and the answer, bounding and capturing the answer).
// The bare client holds the tools' parameters as json.RawMessage, as the
// provider does, and the two must send the same bytes.
func BenchmarkOverBare(b *testing.B) {
	body, err := os.ReadFile("testdata/delegation_request.json")
	if err != nil {
		b.Fatal(err)
	}
	var cr openaitest.ChatRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		b.Fatal(err)
	}
	req, err := cr.ModelRequest()
	if err != nil {
		b.Fatal(err)
	}
	var bareReq goopenai.ChatCompletionRequest
	if err := json.Unmarshal(body, &bareReq); err != nil {
		b.Fatal(err)
	}
	for i := range bareReq.Tools {
		f := *bareReq.Tools[i].Function
		f.Parameters = json.RawMessage(req.Tools[i].Parameters)
		bareReq.Tools[i].Function = &f
	}

	bareT, provT := &canned{answer: []byte(benchAnswer)}, &canned{answer: []byte(benchAnswer)}
	cfg := goopenai.DefaultConfig("sk-test")
	cfg.BaseURL = "http://bench.invalid/v1"
	cfg.HTTPClient = &http.Client{Transport: bareT}
	bare := goopenai.NewClientWithConfig(cfg)
	prov, err := openai.New(openai.Config{BaseURL: cfg.BaseURL, APIKey: "sk-test", Model: "bench", HTTPClient: &http.Client{Transport: provT}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := bare.CreateChatCompletion(ctx, bareReq); err != nil {
		b.Fatal(err)
	}
	if _, err := prov.Generate(ctx, req); err != nil {
		b.Fatal(err)
	}
	if !bytes.Equal(bareT.first, provT.first) {
		b.Fatalf("the two send different requests:\nbare:     %s\nprovider: %s", bareT.first, provT.first)
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bare.CreateChatCompletion(ctx, bareReq); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("provider", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := prov.Generate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
