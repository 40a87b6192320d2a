package mcptools_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/mcptools"
)

// BenchmarkCall measures what an MCP tool call costs beyond the tool's own
// work: schema check, the SDK's JSON-RPC round trip (in memory, and over a
// real stdio process) and the result's rendering, beside a local tool that
// checks the same schema.
func BenchmarkCall(b *testing.B) {
	args := json.RawMessage(`{"text":"hello"}`)
	local, err := agents.NewTool("echo", "Say the text back.", func(_ context.Context, in struct {
		Text string `json:"text"`
	}) (string, error) {
		return in.Text, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("local", func(b *testing.B) {
		for b.Loop() {
			if res := local.Call(b.Context(), args); res.IsError {
				b.Fatal(res.Content)
			}
		}
	})
	for _, tc := range []struct {
		name string
		srv  mcptools.Server
	}{
		{"mcp-memory", mcptools.Server{Name: "calc", Transport: inMemory(nil, nil)}},
		{"mcp-stdio", mcptools.Server{Name: "calc", Command: []string{serverBin}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			conn, err := mcptools.Connect(b.Context(), tc.srv, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			var echo agents.Tool
			for _, t := range conn.Tools() {
				if t.Def().Name == "calc__echo" {
					echo = t
				}
			}
			for b.Loop() {
				if res := echo.Call(b.Context(), args); res.IsError {
					b.Fatal(res.Content)
				}
			}
		})
	}
}
