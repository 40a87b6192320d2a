package mcptools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A server's tools become agent tools named server__tool. Here the server
// runs in memory; a real one is a Command (stdio) or a URL (HTTP):
//
//	mcptools.Server{Name: "fs", Command: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "."}}
func Example() {
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "greeter"}, nil)
	type args struct {
		Name string `json:"name"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "greet", Description: "Greet someone."},
		func(_ context.Context, _ *mcp.CallToolRequest, in args) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Hello, " + in.Name + "!"}}}, nil, nil
		})

	conn, err := mcptools.Connect(ctx, mcptools.Server{
		Name: "hello",
		Transport: func(ctx context.Context) (mcp.Transport, error) {
			client, srv := mcp.NewInMemoryTransports()
			if _, err := server.Connect(ctx, srv, nil); err != nil {
				return nil, err
			}
			return client, nil
		},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	greet := conn.Tools()[0] // give it to an agent: agents.Agent{Tools: conn.Tools()}
	fmt.Println(greet.Def().Name)
	fmt.Println(greet.Call(ctx, json.RawMessage(`{"name":"Ada"}`)).Content)
	res := greet.Call(ctx, json.RawMessage(`{"name":42}`)) // checked against the schema first
	fmt.Println(res.IsError)
	// Output:
	// hello__greet
	// Hello, Ada!
	// true
}
