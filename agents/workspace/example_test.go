package workspace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/entrust-dev/entrust/agents/workspace"
)

func Example() {
	dir, err := os.MkdirTemp("", "workspace")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ws, err := workspace.New(dir)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	ctx := context.Background()
	read, write, list := ws.Tools()[0], ws.Tools()[1], ws.Tools()[2]

	fmt.Println(write.Call(ctx, json.RawMessage(`{"path":"notes/a.md","content":"hello"}`)).Content)
	fmt.Println(read.Call(ctx, json.RawMessage(`{"path":"notes/a.md"}`)).Content)
	fmt.Println(list.Call(ctx, json.RawMessage(`{}`)).Content)
	res := read.Call(ctx, json.RawMessage(`{"path":"../../etc/passwd"}`))
	fmt.Println(res.IsError)
	// Output:
	// wrote 5 bytes to notes/a.md
	// hello
	// notes/
	// true
}
