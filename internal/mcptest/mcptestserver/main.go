// Command mcptestserver serves mcptest's tools over stdio, for tests that
// need a real MCP server process.
package main

import (
	"context"
	"log"

	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	if err := mcptest.NewServer(nil).Run(context.Background(), &mcp.StdioTransport{}); err != nil {
		log.Fatal(err)
	}
}
