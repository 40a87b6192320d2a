// Command mcptestserver serves mcptest's tools over stdio, for tests that
// need a real MCP server process. Its tool flood is hostile: it writes to
// standard output without end, one line that never ends, until the client
// stops reading.
package main

import (
	"bytes"
	"context"
	"log"
	"os"

	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	s := mcptest.NewServer(nil)
	mcp.AddTool(s, &mcp.Tool{Name: "flood", Description: "Writes without end.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			os.Stdout.WriteString(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"`)
			for {
				if _, err := os.Stdout.Write(chunk); err != nil {
					os.Exit(4)
				}
			}
		})
	if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
