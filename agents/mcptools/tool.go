package mcptools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MaxResultSize bounds the bytes of one call's result given to the model, so
// one call cannot flood its context.
const MaxResultSize = 1 << 20

// Tool is one tool of an MCP server as an agents.Tool.
type Tool struct {
	conn   *Conn
	remote *mcp.Tool
	def    model.ToolDef
	schema *agents.ArgsSchema
}

// Def returns the definition shown to the model: the name S__T, the
// server's description and its input schema as given.
func (t *Tool) Def() model.ToolDef { return t.def }

// Server returns the name of the tool's server.
func (t *Tool) Server() string { return t.conn.srv.Name }

// Source describes the tool's server for people.
func (t *Tool) Source() string { return t.conn.srv.Source() }

// Remote returns the tool as the server listed it. Callers must not modify
// it.
func (t *Tool) Remote() *mcp.Tool { return t.remote }

// HintsTrusted reports whether the server's annotations of the tool decide
// how it is run (Server.TrustHints, Server.HintedTools).
func (t *Tool) HintsTrusted() bool {
	return t.conn.srv.TrustHints || slices.Contains(t.conn.srv.HintedTools, t.remote.Name)
}

// hints are the tool's annotations when trusted, else none.
func (t *Tool) hints() *mcp.ToolAnnotations {
	if !t.HintsTrusted() {
		return nil
	}
	return t.remote.Annotations
}

// Concurrent reports whether calls may run in parallel with the turn's other
// calls: the server says the tool only reads (readOnlyHint), and its hints
// are trusted.
func (t *Tool) Concurrent() bool {
	a := t.hints()
	return a != nil && a.ReadOnlyHint
}

// Idempotent reports whether calling the tool again with the same arguments
// has no further effect (readOnlyHint or idempotentHint, trusted), so a call
// whose fate is unknown may be made again.
func (t *Tool) Idempotent() bool {
	a := t.hints()
	return a != nil && (a.ReadOnlyHint || a.IdempotentHint)
}

// Destructive reports whether the tool may destroy or overwrite what exists:
// the MCP default for a tool that does not only read, unless the server
// says otherwise (destructiveHint false) and its hints are trusted.
func (t *Tool) Destructive() bool {
	a := t.hints()
	switch {
	case a == nil:
		return true
	case a.ReadOnlyHint:
		return false
	case a.DestructiveHint != nil:
		return *a.DestructiveHint
	}
	return true
}

// Kind reports what the tool's calls may change. Trusted hints declare
// it: KindReads for a tool the server says only reads (readOnlyHint),
// KindActs for any other (a hint never says which file a tool writes, so
// no MCP tool is agents.KindWritesFiles). Untrusted, a claim to only read
// is still believed where it lowers what the tool's name would prove
// (agents.KindFromName: run_sql marked read-only reads, not acts): it
// can only make the tool's calls count for less. Otherwise untrusted hints
// declare nothing (agents.KindUnknown), and the runtime goes by the name.
func (t *Tool) Kind() agents.ToolKind {
	a := t.remote.Annotations
	switch {
	case !t.HintsTrusted():
		if a != nil && a.ReadOnlyHint && agents.KindFromName(t.remote.Name) != agents.KindUnknown {
			return agents.KindReads
		}
		return agents.KindUnknown
	case a != nil && a.ReadOnlyHint:
		return agents.KindReads
	}
	return agents.KindActs
}

// Call checks args against the tool's schema, calls the tool on the server
// with ctx (its cancellation and deadline reach the server) and returns
// what the server answered. Invalid arguments, a tool error (isError), a
// cancelled call and an unavailable server come back as tool errors.
func (t *Tool) Call(ctx context.Context, args json.RawMessage) agents.Result {
	args, err := t.schema.Check(args)
	if err != nil {
		return agents.Result{Content: err.Error(), IsError: true}
	}
	res, err := t.call(ctx, args)
	if err != nil {
		return agents.Errorf("%s failed: %v", t.def.Name, err)
	}
	return render(res)
}

func (t *Tool) call(ctx context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
	s, err := t.conn.live(ctx)
	if err != nil {
		return nil, err
	}
	params := &mcp.CallToolParams{Name: t.remote.Name, Arguments: args}
	res, err := s.cs.CallTool(ctx, params)
	if err != nil && s.tooLarge() {
		// Not made again: it would only send as much again. The session is
		// ended (its stream is broken mid-message); the next call starts
		// the server again, which counts as its one restart.
		s.cs.Close()
		<-s.done
		return nil, fmt.Errorf("mcp server %s sent %w (the bound, Options.MaxMessageSize): the call failed and the connection was closed", t.conn.srv.Name, s.lim.err())
	}
	if err == nil || ctx.Err() != nil {
		if ctx.Err() != nil && err != nil {
			return nil, fmt.Errorf("cancelled: %w", context.Cause(ctx))
		}
		return res, err
	}
	var refusal *jsonrpc.Error
	if errors.As(err, &refusal) {
		return nil, err // the server's answer, e.g. invalid params
	}
	// The connection broke under the call: the server stopped, or is in no
	// state to go on. Whatever the call did is unknown, so only a call that
	// may be repeated is made again, once the server is restarted.
	s.cs.Close()
	<-s.done
	if !t.Idempotent() {
		if _, rerr := t.conn.live(ctx); rerr != nil {
			return nil, rerr
		}
		return nil, fmt.Errorf("mcp server %s stopped during the call, so whether it took effect is unknown (the server was restarted: check before calling again)", t.conn.srv.Name)
	}
	s, err = t.conn.live(ctx)
	if err != nil {
		return nil, err
	}
	return s.cs.CallTool(ctx, params)
}

// render turns a result into what the model reads.
func render(res *mcp.CallToolResult) agents.Result {
	var b strings.Builder
	for _, c := range res.Content {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(&b, "[image %s, %d bytes]", c.MIMEType, len(c.Data))
		case *mcp.AudioContent:
			fmt.Fprintf(&b, "[audio %s, %d bytes]", c.MIMEType, len(c.Data))
		case *mcp.ResourceLink:
			fmt.Fprintf(&b, "[resource %s %s]", c.URI, c.Name)
		case *mcp.EmbeddedResource:
			if r := c.Resource; r != nil && r.Text != "" {
				fmt.Fprintf(&b, "[resource %s]\n%s", r.URI, r.Text)
			} else if r != nil {
				fmt.Fprintf(&b, "[resource %s %s, %d bytes]", r.URI, r.MIMEType, len(r.Blob))
			}
		default:
			raw, _ := json.Marshal(c)
			b.Write(raw)
		}
	}
	if b.Len() == 0 && res.StructuredContent != nil {
		raw, err := json.Marshal(res.StructuredContent)
		if err == nil {
			b.Write(raw)
		}
	}
	out := b.String()
	if len(out) > MaxResultSize {
		out = out[:MaxResultSize] + fmt.Sprintf("\n… cut at %d bytes", MaxResultSize)
	}
	switch {
	case res.IsError && out == "":
		out = "the tool reported an error without a message"
	case out == "":
		out = "(no content)"
	}
	return agents.Result{Content: out, IsError: res.IsError}
}

// wrap turns the listed tools into agent tools, keeping the allowed ones.
// A tool whose name no model accepts or whose schema cannot be read is left
// out and told in Skipped, unless it was asked for by name: then it is an
// error, as is an allowed name the server does not offer.
func (c *Conn) wrap(listed []*mcp.Tool) ([]*Tool, error) {
	names := make([]string, len(listed))
	for i, t := range listed {
		names[i] = t.Name
	}
	for _, want := range slices.Concat(c.srv.Tools, c.srv.HintedTools) {
		if !slices.Contains(names, want) {
			return nil, fmt.Errorf("mcp server %s has no tool %q (it has: %s)", c.srv.Name, want, strings.Join(names, ", "))
		}
	}
	var out []*Tool
	for _, rt := range listed {
		asked := slices.Contains(c.srv.Tools, rt.Name)
		if len(c.srv.Tools) > 0 && !asked {
			continue
		}
		t, err := c.tool(rt)
		if err != nil {
			if asked {
				return nil, err
			}
			c.skipped = append(c.skipped, err)
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

func (c *Conn) tool(rt *mcp.Tool) (*Tool, error) {
	name := ToolName(c.srv.Name, rt.Name)
	if !toolNameRE.MatchString(name) {
		return nil, fmt.Errorf("mcp server %s: tool %q: %q is not a name models accept (letters, digits, _ and -, at most 64)", c.srv.Name, rt.Name, name)
	}
	schema := []byte(`{"type":"object"}`)
	if rt.InputSchema != nil {
		var err error
		if schema, err = json.Marshal(rt.InputSchema); err != nil {
			return nil, fmt.Errorf("mcp server %s: tool %q: input schema: %w", c.srv.Name, rt.Name, err)
		}
	}
	compiled, err := agents.CompileArgsSchema(name, schema)
	if err != nil {
		return nil, fmt.Errorf("mcp server %s: tool %q: %w", c.srv.Name, rt.Name, err)
	}
	desc := rt.Description
	if desc == "" {
		desc = rt.Title
	}
	if desc == "" {
		desc = fmt.Sprintf("Tool %s of the MCP server %s.", rt.Name, c.srv.Name)
	}
	return &Tool{conn: c, remote: rt, schema: compiled,
		def: model.ToolDef{Name: name, Description: desc, Parameters: schema}}, nil
}

// Skipped returns why each tool the server listed, and that was not asked
// for by name, was left out.
func (c *Conn) Skipped() []error { return slices.Clone(c.skipped) }
