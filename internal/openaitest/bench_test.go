package openaitest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// BenchmarkLoopbackRequests measures the bare cost of one model call over
// HTTP: the go-openai provider against the loopback server, no latency
// added. It is the baseline that delegations are compared against.
func BenchmarkLoopbackRequests(b *testing.B) {
	calls := []openaitest.ToolCall{
		openaitest.Call("c0", "read_file", `{"path":"/srv/data/report.csv","lines":[1,200]}`),
		openaitest.Call("c1", "search", `{"query":"quarterly revenue by region","limit":10}`),
	}
	usage := &openaitest.Usage{PromptTokens: 420, CompletionTokens: 42, CachedTokens: 256}
	text := openaitest.Reply{Text: "The quarterly report shows revenue grew in every region but one.", Usage: usage}
	tools := openaitest.Reply{ToolCalls: calls, Usage: usage}
	scripted := model.ScriptFunc("remote", func(context.Context, *model.Request) (*model.Response, error) {
		return &model.Response{Message: model.Message{Content: text.Text}}, nil
	})
	scripted.SetRecording(false)

	cases := []struct {
		name     string
		stream   bool
		handler  func(*openaitest.ChatRequest) openaitest.Reply
		parallel bool
	}{
		{name: "text", handler: fixed(text)},
		{name: "tool-calls", handler: fixed(tools)},
		{name: "stream-text", stream: true, handler: fixed(text)},
		{name: "stream-tool-calls", stream: true, handler: fixed(tools)},
		{name: "from-model", handler: openaitest.FromModel(scripted)},
		{name: "text-parallel", handler: fixed(text), parallel: true},
	}
	req := &model.Request{
		Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are a careful analyst."},
			{Role: model.RoleUser, Content: "Summarise the quarterly report."},
		},
		Tools: []model.ToolDef{
			{Name: "read_file", Parameters: []byte(`{"type":"object","properties":{"path":{"type":"string"}}}`)},
			{Name: "search", Parameters: []byte(`{"type":"object","properties":{"query":{"type":"string"}}}`)},
		},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			srv := openaitest.NewServer(b, &openaitest.Options{NoRecord: true, Handler: c.handler})
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 64
			b.Cleanup(tr.CloseIdleConnections)
			m, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m", Stream: c.stream, HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			b.ReportAllocs()
			if c.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := m.Generate(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			} else {
				for b.Loop() {
					if _, err := m.Generate(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func fixed(r openaitest.Reply) func(*openaitest.ChatRequest) openaitest.Reply {
	return func(*openaitest.ChatRequest) openaitest.Reply { return r }
}
