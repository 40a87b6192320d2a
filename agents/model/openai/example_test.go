package openai_test

import (
	"context"
	"fmt"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// A provider for any OpenAI-compatible server, composed with retries. Here
// the server is a loopback one that first answers 429; against a local
// Ollama the config would be {BaseURL: "http://localhost:11434/v1", Model:
// "qwen2.5:7b"}.
func Example() {
	srv := openaitest.NewServer(nil, &openaitest.Options{Replies: []openaitest.Reply{
		openaitest.RateLimited("1"),
		openaitest.Text("Hello!"),
	}})
	defer srv.Close()

	m, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "gpt-4o-mini"})
	if err != nil {
		panic(err)
	}
	// MaxDelay caps the server's Retry-After, to keep the example fast.
	retrying := model.WithRetry(m, &model.RetryOptions{MaxDelay: 10 * time.Millisecond})
	ctx := model.WithTrace(context.Background(), &model.Trace{Retried: func(_ context.Context, attempt int, err error, wait time.Duration) {
		fmt.Println("retrying after:", err)
	}})
	resp, err := retrying.Generate(ctx, &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Say hello."}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Message.Content)
	// Output:
	// retrying after: openai: HTTP 429 requests: Rate limit reached, try again later.
	// Hello!
}
