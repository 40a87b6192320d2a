// Package mcptest is an MCP server for tests: a few tools with known
// behaviour (echo, add, fail, crash, slow, getenv, big, pid), served in memory by
// NewServer or as a real stdio process by the program in mcptestserver,
// which Build compiles.
package mcptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// EchoArgs are echo's arguments.
type EchoArgs struct {
	Text string `json:"text" jsonschema:"the text to say back"`
}

// AddArgs are add's arguments.
type AddArgs struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// SlowArgs are slow's arguments.
type SlowArgs struct {
	Seconds float64 `json:"seconds"`
}

// BigArgs are big's arguments.
type BigArgs struct {
	Bytes int `json:"bytes"`
}

// GetenvArgs are getenv's arguments.
type GetenvArgs struct {
	Name string `json:"name"`
}

func ptr[T any](v T) *T { return &v }

// NewServer returns the test server. Started, when not nil, receives the
// name of each tool as its call starts.
func NewServer(started chan<- string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mcptest", Version: "v1"}, nil)
	note := func(name string) {
		if started != nil {
			started <- name
		}
	}
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Say the text back.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in EchoArgs) (*mcp.CallToolResult, any, error) {
			note("echo")
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "add", Description: "Add two numbers.", Annotations: &mcp.ToolAnnotations{IdempotentHint: true, DestructiveHint: ptr(false)}},
		func(_ context.Context, _ *mcp.CallToolRequest, in AddArgs) (*mcp.CallToolResult, struct {
			Sum float64 `json:"sum"`
		}, error) {
			note("add")
			return nil, struct {
				Sum float64 `json:"sum"`
			}{in.A + in.B}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "fail", Description: "Always fails."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			note("fail")
			return nil, nil, fmt.Errorf("it failed on purpose")
		})
	mcp.AddTool(s, &mcp.Tool{Name: "crash", Description: "Ends the server's process mid-call."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			note("crash")
			fmt.Fprintln(os.Stderr, "mcptest: crashing on purpose")
			os.Exit(3)
			return nil, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "Waits, or until the call is cancelled.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, _ *mcp.CallToolRequest, in SlowArgs) (*mcp.CallToolResult, any, error) {
			note("slow")
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(time.Duration(in.Seconds * float64(time.Second))):
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
			}
		})
	mcp.AddTool(s, &mcp.Tool{Name: "getenv", Description: "Read a variable of the server's environment.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in GetenvArgs) (*mcp.CallToolResult, any, error) {
			note("getenv")
			v, ok := os.LookupEnv(in.Name)
			if !ok {
				v = "(unset)"
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: v}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "big", Description: "Answers with a text of the size asked for.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in BigArgs) (*mcp.CallToolResult, any, error) {
			note("big")
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("x", in.Bytes)}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "The server's process id.", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			note("pid")
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(os.Getpid())}}}, nil, nil
		})
	return s
}

// Build compiles the stdio test server into dir and returns its path.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "mcptestserver")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/entrust-dev/entrust/internal/mcptest/mcptestserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the MCP test server: %v\n%s", err, out)
	}
	return bin, nil
}
