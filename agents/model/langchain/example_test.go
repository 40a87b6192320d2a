package langchain_test

import (
	"context"
	"fmt"

	lcopenai "github.com/tmc/langchaingo/llms/openai"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/langchain"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// Any langchaingo model serves; its HTTP client goes through HTTPClient so
// that error answers keep their status and Retry-After.
func Example() {
	srv := openaitest.NewServer(nil, &openaitest.Options{Replies: []openaitest.Reply{
		openaitest.Calls(openaitest.Call("call_1", "lookup", `{"term":"entrust"}`)),
	}})
	defer srv.Close()

	llm, err := lcopenai.New(
		lcopenai.WithToken("placeholder"), // refused when empty, even by local servers
		lcopenai.WithBaseURL(srv.URL),
		lcopenai.WithModel("llama3.2"),
		lcopenai.WithHTTPClient(langchain.HTTPClient(nil)),
	)
	if err != nil {
		panic(err)
	}
	m := langchain.New(llm, "llama3.2", nil)
	resp, err := m.Generate(context.Background(), &model.Request{
		Messages: []model.Message{{Role: model.RoleUser, Content: "Define entrust."}},
		Tools:    []model.ToolDef{{Name: "lookup", Parameters: []byte(`{"type":"object","properties":{"term":{"type":"string"}}}`)}},
	})
	if err != nil {
		panic(err)
	}
	c := resp.Message.ToolCalls[0]
	fmt.Println(c.ID, c.Name, string(c.Arguments), resp.FinishReason)
	// Output: call_1 lookup {"term":"entrust"} tool_calls
}
