package agents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// ArgsSchema checks a tool's raw arguments against a JSON schema before the
// tool runs. Tools whose schema is not generated from a Go type (a tool of
// an MCP server, say) use it as DefineTool's tools do. It is safe for
// concurrent use.
type ArgsSchema struct {
	tool   string
	schema *validator.Schema
	fast   *fastCheck // nil: every check goes to schema
}

// CompileArgsSchema compiles schema, the JSON schema of tool's arguments.
// The schema may not refer to documents outside itself.
func CompileArgsSchema(tool string, schema json.RawMessage) (*ArgsSchema, error) {
	doc, err := validator.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", tool, err)
	}
	c := validator.NewCompiler()
	url := "mem://tools/" + tool + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", tool, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema of %s: %w", tool, err)
	}
	return &ArgsSchema{tool: tool, schema: compiled, fast: compileFast(schema)}, nil
}

// Check validates args and returns them, with empty or null arguments read
// as {}. A mismatch is an *ArgumentError whose message names each failing
// location in one line a model can act on.
func (s *ArgsSchema) Check(args json.RawMessage) (json.RawMessage, error) {
	if args, ok := s.decode(args, reflect.Value{}); ok {
		return args, nil
	}
	_, args, err := s.check(args)
	return args, err
}

// decode is the quick path: it checks args and fills dst (when valid) in
// one pass, and reports false when the full path must decide (see
// fastCheck.decodeJSON).
func (s *ArgsSchema) decode(args json.RawMessage, dst reflect.Value) (json.RawMessage, bool) {
	if s.fast == nil {
		return nil, false
	}
	args = orEmpty(args)
	return args, s.fast.decodeJSON(args, dst)
}

// orEmpty reads empty or null arguments as {}.
func orEmpty(args json.RawMessage) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		return []byte("{}")
	}
	return args
}

// check is Check that also returns the decoded arguments it validated.
func (s *ArgsSchema) check(args json.RawMessage) (any, json.RawMessage, error) {
	args = orEmpty(args)
	// float64 numbers are precise enough for tool arguments and decode with
	// less garbage than the validator's own json.Number reader.
	var inst any
	if err := json.Unmarshal(args, &inst); err != nil {
		return nil, nil, &ArgumentError{Tool: s.tool, Err: fmt.Errorf("arguments are not valid JSON: %v", err)}
	}
	if s.fast != nil && s.fast.valid(inst) {
		return inst, args, nil
	}
	if err := s.schema.Validate(inst); err != nil {
		return nil, nil, &ArgumentError{Tool: s.tool, Err: flattenValidation(err)}
	}
	return inst, args, nil
}
