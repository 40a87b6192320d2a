package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Tool is something an agent can call. A tool whose calls may run in
// parallel with the other calls of the same turn implements ConcurrentTool.
type Tool interface {
	// Def is the definition shown to the model.
	Def() model.ToolDef
	// Call runs the tool on the model's raw arguments. Failures the model can
	// correct come back as a Result with IsError set, never as a panic.
	Call(ctx context.Context, args json.RawMessage) Result
}

// Result is what a tool call produced.
type Result struct {
	// Content goes back to the model as the tool message.
	Content string
	// IsError marks a failed call; the model sees Content as the error.
	IsError bool
	// Stop ends the agent's loop once this turn's calls are done: the call
	// was a terminal protocol act (a verified completion, a decline). It is
	// for the runtime's protocol tools only: the orchestrator clears it on
	// the results of action tools, which cannot end a delegation.
	Stop bool
	// Pin keeps this result, and the call it answers, whole in the
	// conversation: a loop's Window never clips or folds it. Protocol acts
	// pin what the delegation rests on (an acceptance's judgement, an
	// answer, a correction).
	Pin bool
	// Recall, when set, replaces the arguments of the call this result
	// answers in the conversation the loop keeps (Loop.Messages): later
	// turns carry this short form of an act whose substance is kept
	// elsewhere (an aligned acceptance: the goal it restates is in the
	// system prompt, the whole of it in the journal). Hooks and effects see
	// the call as the model made it. Encoded, it is left out when unset, so
	// that a result sent over a wire (to a Temporal worker, say) does not
	// come back with a recall of null.
	Recall json.RawMessage `json:",omitempty"`
}

// ConcurrentTool is implemented by a tool that may say its calls are safe
// to run in parallel with the other calls of the same turn. A tool that
// does not implement it runs alone.
type ConcurrentTool interface {
	Tool
	// Concurrent reports whether calls may run in parallel. A tool that
	// says so must be safe for concurrent use.
	Concurrent() bool
}

// IsConcurrent reports whether t's calls may run in parallel: t implements
// ConcurrentTool and says so.
func IsConcurrent(t Tool) bool {
	c, ok := t.(ConcurrentTool)
	return ok && c.Concurrent()
}

// Errorf returns an error Result.
func Errorf(format string, args ...any) Result {
	return Result{Content: fmt.Sprintf(format, args...), IsError: true}
}

// ToolSpec names and describes a tool.
type ToolSpec struct {
	Name        string
	Description string
	// Enums restricts string properties (or the items of string-array
	// properties) to the given values, e.g. the agents one may delegate to.
	Enums map[string][]string
	// Shown, when set, lists the top-level properties the definition shows
	// the model; the others are left out of it. A nested name (criteria.met)
	// names a property of an object, or of an array's objects: a property
	// with nested names shows only those. Calls are still validated against
	// the whole schema, so a property left out may still be sent: say so in
	// the description (the protocol tools name their optional fields
	// there, once). Every required property must be shown.
	Shown []string
	// Concurrent says calls may run in parallel with other calls of the same
	// turn.
	Concurrent bool
	// Idempotent says running a call twice with the same arguments has the
	// effect of running it once (a read, a query): a call interrupted by a
	// crash is simply run again when the run is resumed.
	Idempotent bool
	// Kind says what the tool's calls may change (see ToolKind). Unset,
	// the runtime guesses it from the name (KindFromName), and trusts a
	// tool it cannot place with nothing.
	Kind ToolKind
}

// Reconciler is implemented by a tool that is not idempotent but can tell
// whether a call interrupted by a crash took effect, such as a file write
// that compares the file with the arguments it was called with. Reconcile
// returns done with the call's result when it took effect; otherwise the
// call is run again. An error means it cannot tell.
type Reconciler interface {
	Reconcile(ctx context.Context, args json.RawMessage) (res Result, done bool, err error)
}

// IdempotentTool is implemented by a tool that may declare its calls
// idempotent, as tools defined with ToolSpec.Idempotent do.
type IdempotentTool interface {
	Tool
	// Idempotent reports whether running a call twice with the same
	// arguments has the effect of running it once.
	Idempotent() bool
}

// IsIdempotent reports whether t declares its calls idempotent: t
// implements IdempotentTool and says so.
func IsIdempotent(t Tool) bool {
	i, ok := t.(IdempotentTool)
	return ok && i.Idempotent()
}

// ArgumentError reports arguments that do not match a tool's schema.
type ArgumentError struct {
	Tool string
	Err  error
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("invalid arguments for %s: %v", e.Tool, e.Err)
}

// Unwrap returns the validation error.
func (e *ArgumentError) Unwrap() error { return e.Err }

// NewTool returns a tool that calls fn with the model's arguments decoded into
// In, after validating them against the JSON schema generated from In. Out is
// returned to the model as JSON, or as is when it is a string. An error from
// fn goes back to the model as a tool error.
func NewTool[In, Out any](name, description string, fn func(ctx context.Context, in In) (Out, error)) (Tool, error) {
	return DefineTool(ToolSpec{Name: name, Description: description}, func(ctx context.Context, in In) (Result, error) {
		out, err := fn(ctx, in)
		if err != nil {
			return Result{}, err
		}
		switch v := any(out).(type) {
		case string:
			return Result{Content: v}, nil
		case Result:
			return v, nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return Result{}, fmt.Errorf("encoding result: %w", err)
		}
		return Result{Content: string(b)}, nil
	})
}

// DefineTool is NewTool with a full spec and a handler that returns a Result,
// which protocol tools need to end a loop.
func DefineTool[In any](spec ToolSpec, fn func(ctx context.Context, in In) (Result, error)) (Tool, error) {
	if spec.Name == "" {
		return nil, errors.New("agents: tool without a name")
	}
	schema, err := SchemaFor[In](spec.Enums)
	if err != nil {
		return nil, fmt.Errorf("agents: tool %s: %w", spec.Name, err)
	}
	compiled, err := CompileArgsSchema(spec.Name, schema)
	if err != nil {
		return nil, fmt.Errorf("agents: tool %s: %w", spec.Name, err)
	}
	shown, err := shownSchema[In](spec.Enums, spec.Shown, IsProtocolTool(spec.Name))
	if err != nil {
		return nil, fmt.Errorf("agents: tool %s: %w", spec.Name, err)
	}
	return &typedTool[In]{
		spec:   spec,
		def:    model.ToolDef{Name: spec.Name, Description: spec.Description, Parameters: shown},
		schema: compiled,
		fn:     fn,
	}, nil
}

// SchemaFor returns the JSON schema of T's arguments, as the runtime
// validates them: flat, without $schema or references, additionalProperties
// false. Enums restrict named string (or string-array) properties. Models
// are shown it without its size bounds, and a protocol tool's leaner still
// (see DefineTool and ToolSpec.Shown).
func SchemaFor[T any](enums map[string][]string) (json.RawMessage, error) {
	s, err := reflectSchema[T](enums)
	if err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// keepShown deletes from s (the schema at path, "" for the top level, or
// the items of an array of objects) the properties shown does not name:
// at the top level those not named, and within a property named with a
// nested name (criteria.met) those not named that way. A required
// property must be shown, and every name must exist.
func keepShown(s *jsonschema.Schema, path string, shown []string) error {
	if s.Type == "array" && s.Items != nil {
		s = s.Items
	}
	if s.Properties == nil {
		return nil
	}
	var here []string // the names shown at path
	for _, n := range shown {
		if rest, ok := strings.CutPrefix(n, path); ok && !strings.Contains(rest, ".") {
			here = append(here, rest)
		}
	}
	if path != "" && len(here) == 0 {
		return nil // no nested name: all of it is shown
	}
	for _, r := range s.Required {
		if !slices.Contains(here, r) {
			return fmt.Errorf("required property %q is not shown", path+r)
		}
	}
	for _, n := range here {
		if _, ok := s.Properties.Get(n); !ok {
			return fmt.Errorf("shown property %q does not exist", path+n)
		}
	}
	var hidden []string
	for p := s.Properties.Oldest(); p != nil; p = p.Next() {
		if !slices.Contains(here, p.Key) {
			hidden = append(hidden, p.Key)
			continue
		}
		if err := keepShown(p.Value, path+p.Key+".", shown); err != nil {
			return err
		}
	}
	for _, h := range hidden {
		s.Properties.Delete(h)
	}
	return nil
}

func reflectSchema[T any](enums map[string][]string) (*jsonschema.Schema, error) {
	r := jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, AllowAdditionalProperties: false}
	s := r.Reflect(new(T))
	s.Version = ""
	s.ID = ""
	for prop, values := range enums {
		p, ok := s.Properties.Get(prop)
		if !ok {
			return nil, fmt.Errorf("enum for unknown property %q", prop)
		}
		target := p
		if p.Type == "array" && p.Items != nil {
			target = p.Items
		}
		target.Enum = make([]any, len(values))
		for i, v := range values {
			target.Enum[i] = v
		}
	}
	return s, nil
}

type typedTool[In any] struct {
	spec   ToolSpec
	def    model.ToolDef
	schema *ArgsSchema
	fn     func(ctx context.Context, in In) (Result, error)
}

func (t *typedTool[In]) Def() model.ToolDef { return t.def }

// Concurrent reports whether calls may run in parallel.
func (t *typedTool[In]) Concurrent() bool { return t.spec.Concurrent }

// Idempotent reports whether calls are idempotent.
func (t *typedTool[In]) Idempotent() bool { return t.spec.Idempotent }

// Kind returns the kind the spec declares.
func (t *typedTool[In]) Kind() ToolKind { return t.spec.Kind }

func (t *typedTool[In]) Call(ctx context.Context, args json.RawMessage) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			res = Errorf("tool %s failed: internal error: %v", t.spec.Name, p)
		}
	}()
	in, err := t.decode(args)
	if err != nil {
		return Result{Content: err.Error(), IsError: true}
	}
	res, err = t.fn(ctx, in)
	if err != nil {
		return Result{Content: fmt.Sprintf("%s failed: %v", t.spec.Name, err), IsError: true}
	}
	return res
}

// Decode validates args and decodes them into In.
func (t *typedTool[In]) decode(args json.RawMessage) (In, error) {
	var in In
	dst := reflect.ValueOf(&in).Elem()
	if _, ok := t.schema.decode(args, dst); ok {
		return in, nil
	}
	in = *new(In) // the quick path may have set part of it
	inst, args, err := t.schema.check(args)
	if err != nil {
		return in, err
	}
	// Convert the validated value rather than parse the JSON again.
	if assign(dst, inst) {
		return in, nil
	}
	in = *new(In)
	if err := json.Unmarshal(args, &in); err != nil {
		return in, &ArgumentError{Tool: t.spec.Name, Err: err}
	}
	return in, nil
}

// flattenValidation turns the validator's tree of causes into one line a
// model can act on.
func flattenValidation(err error) error {
	var ve *validator.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var msgs []string
	var walk func(e *validator.ValidationError)
	walk = func(e *validator.ValidationError) {
		if len(e.Causes) == 0 {
			loc := "/" + strings.Join(e.InstanceLocation, "/")
			msgs = append(msgs, fmt.Sprintf("at %s: %s", loc, e.ErrorKind.LocalizedString(english)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return errors.New(strings.Join(msgs, "; "))
}

var english = message.NewPrinter(language.English)

// Toolset is an immutable set of tools offered for one turn, with their
// definitions computed once. Deferred tools are shown to the model but not
// run from this set: a call of one waits until its place in the turn comes,
// and runs only if the toolset in force then holds it (see Loop).
type Toolset struct {
	tools    []Tool
	defs     []model.ToolDef
	byName   map[string]Tool
	deferred map[string]bool
}

// NewToolset returns a toolset of tools. A later tool with the same name as
// an earlier one is an error.
func NewToolset(tools ...Tool) (*Toolset, error) {
	ts := &Toolset{tools: tools, defs: make([]model.ToolDef, len(tools)), byName: make(map[string]Tool, len(tools))}
	for i, t := range tools {
		d := t.Def()
		if _, dup := ts.byName[d.Name]; dup {
			return nil, fmt.Errorf("agents: two tools named %q", d.Name)
		}
		ts.defs[i] = d
		ts.byName[d.Name] = t
	}
	return ts, nil
}

// Deferring returns a copy of ts that also shows tools, first, as deferred:
// their definitions are offered, but Lookup does not find them.
func (ts *Toolset) Deferring(tools ...Tool) (*Toolset, error) {
	out := &Toolset{tools: ts.tools, byName: ts.byName, deferred: make(map[string]bool, len(tools))}
	for _, t := range tools {
		d := t.Def()
		if _, dup := ts.byName[d.Name]; dup || out.deferred[d.Name] {
			return nil, fmt.Errorf("agents: two tools named %q", d.Name)
		}
		out.deferred[d.Name] = true
		out.defs = append(out.defs, d)
	}
	out.defs = append(out.defs, ts.defs...)
	return out, nil
}

// Deferred reports whether name is a deferred tool of ts.
func (ts *Toolset) Deferred(name string) bool { return ts != nil && ts.deferred[name] }

// Lookup returns the tool named name.
func (ts *Toolset) Lookup(name string) (Tool, bool) {
	if ts == nil {
		return nil, false
	}
	t, ok := ts.byName[name]
	return t, ok
}

// Defs returns the definitions shown to the model. Callers must not modify
// the slice.
func (ts *Toolset) Defs() []model.ToolDef {
	if ts == nil {
		return nil
	}
	return ts.defs
}

// Names returns the names of the tools offered, deferred ones included, in
// order.
func (ts *Toolset) Names() []string {
	if ts == nil {
		return nil
	}
	names := make([]string, len(ts.defs))
	for i, d := range ts.defs {
		names[i] = d.Name
	}
	return names
}

// Tools returns the tools, in order. Callers must not modify the slice.
func (ts *Toolset) Tools() []Tool {
	if ts == nil {
		return nil
	}
	return ts.tools
}

// shownSchema is T's schema as models are shown it, its properties in the
// order of T's fields: without the size bounds (maxLength, maxItems), which
// cost tokens on every turn and which the runtime enforces all the same,
// returning an oversized call as an argument error the model can correct.
// A protocol tool's (lean) is shown without the other bounds either
// (minLength, minItems, minimum, maximum) nor additionalProperties: false.
// Its fields, types, enums, required fields and descriptions are shown;
// the runtime validates every call against the whole schema. When shown is
// set, only the properties it names are (see ToolSpec.Shown).
func shownSchema[T any](enums map[string][]string, shown []string, lean bool) (json.RawMessage, error) {
	s, err := reflectSchema[T](enums)
	if err != nil {
		return nil, err
	}
	if shown != nil {
		for _, n := range shown {
			if i := strings.LastIndexByte(n, '.'); i >= 0 && !slices.Contains(shown, n[:i]) {
				return nil, fmt.Errorf("shown property %q is inside %q, which is not shown", n, n[:i])
			}
		}
		if err := keepShown(s, "", shown); err != nil {
			return nil, err
		}
	}
	var strip func(s *jsonschema.Schema)
	strip = func(s *jsonschema.Schema) {
		if s == nil {
			return
		}
		s.MaxLength, s.MaxItems = nil, nil
		if lean {
			s.MinLength, s.MinItems, s.Minimum, s.Maximum, s.AdditionalProperties = nil, nil, "", "", nil
		}
		strip(s.Items)
		if s.Properties != nil {
			for p := s.Properties.Oldest(); p != nil; p = p.Next() {
				strip(p.Value)
			}
		}
	}
	strip(s)
	return json.Marshal(s)
}
