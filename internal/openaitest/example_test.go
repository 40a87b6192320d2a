package openaitest_test

import (
	"context"
	"fmt"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// A scripted model answers over real HTTP: whatever speaks to the server
// runs exactly as it would against a remote model.
func ExampleFromModel() {
	remote := model.NewScripted("remote", model.Calls(model.Call("lookup", map[string]string{"term": "entrust"})))
	srv := openaitest.NewServer(nil, &openaitest.Options{Handler: openaitest.FromModel(remote)})
	defer srv.Close()

	m, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "remote"})
	if err != nil {
		panic(err)
	}
	resp, err := m.Generate(context.Background(), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Define entrust."}}})
	if err != nil {
		panic(err)
	}
	c := resp.Message.ToolCalls[0]
	fmt.Println(c.Name, string(c.Arguments))
	fmt.Println(srv.LastRequest().Messages[0].Content)
	// Output:
	// lookup {"term":"entrust"}
	// Define entrust.
}
