package agents_test

import (
	"context"
	"fmt"

	"github.com/entrust-dev/entrust/agents"
)

// A typed tool: its JSON schema comes from the argument struct, and the
// model's arguments are validated against it before the function runs.
func ExampleNewTool() {
	add, err := agents.NewTool("add", "adds two numbers", func(_ context.Context, in struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	}) (float64, error) {
		return in.A + in.B, nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(add.Def().Parameters))
	fmt.Println(add.Call(context.Background(), []byte(`{"a":1,"b":2}`)).Content)
	fmt.Println(add.Call(context.Background(), []byte(`{"a":1}`)).Content)
	// Output:
	// {"properties":{"a":{"type":"number"},"b":{"type":"number"}},"additionalProperties":false,"type":"object","required":["a","b"]}
	// 3
	// invalid arguments for add: at /: missing property 'b'
}
