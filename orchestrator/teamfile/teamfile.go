// Package teamfile reads a team from YAML: a lead, the agents with their
// roles, models, tools, delegation and consultation graph and budgets,
// defaults for all of them, and the MCP servers whose tools they may hold
// (Servers). Parse validates everything it can before any
// model exists, and reports each problem as an *Error naming the file, the
// line and the field; Build turns a valid file into an orchestrator.Team.
package teamfile

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/yamlloc"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// File is a team file. Its zero value is not a valid team: a lead and at
// least one agent are required.
type File struct {
	// Lead names the agent the user's goal is entrusted to.
	Lead string `yaml:"lead"`
	// Defaults apply to every agent that leaves the field empty.
	Defaults Defaults `yaml:"defaults,omitempty"`
	// Agents are the members of the team.
	Agents []AgentSpec `yaml:"agents"`
	// Grants names the tools the team grants at the root: the widest
	// authority any delegation can hold. Empty grants every agent's tools.
	Grants []string `yaml:"grants,omitempty"`
	// MCPServers are the MCP servers whose tools agents may list, as
	// server__tool, beside the built-in tools.
	MCPServers []MCPServer `yaml:"mcp_servers,omitempty"`

	filename string
	lines    map[string]int // YAML path ("agents[1].tools[0]") → line
}

// Defaults are the settings of every agent that leaves them empty.
type Defaults struct {
	// Model names the model of agents that name none.
	Model string `yaml:"model,omitempty"`
	// Budget fills the zero fields of each agent's budget.
	Budget Budget `yaml:"budget,omitempty"`
	// Supervision applies to agents that set none.
	Supervision *Supervision `yaml:"supervision,omitempty"`
	// Persona is the simulator persona of agents that name none.
	Persona string `yaml:"persona,omitempty"`
	// ContextTokens is the context budget of agents that set none.
	ContextTokens int `yaml:"context_tokens,omitempty"`
}

// AgentSpec is one agent of a team file.
type AgentSpec struct {
	// Name identifies the agent; it must match ^[A-Za-z][A-Za-z0-9_-]*$.
	Name string `yaml:"name"`
	// Role says what the agent is for; it opens its system prompt.
	Role string `yaml:"role,omitempty"`
	// Model names the agent's model, e.g. "gpt-4o-mini". "sim" or
	// "sim/<persona>" asks for the offline protocol simulator. In the file
	// it may be a list (model: [gpt-4o-mini, local-qwen]) whose entries are
	// names or mappings with their own endpoint: Model is then the first
	// entry's name, and Models the whole list.
	Model string `yaml:"model,omitempty"`
	// Models, when the file lists the agent's models, are the models in
	// the order a call fails over to them (model.WithFallback), the first
	// being Model's.
	Models []ModelRef `yaml:"-"`
	// Tools names the agent's own action tools.
	Tools []string `yaml:"tools,omitempty"`
	// DelegatesTo names the agents it may delegate to.
	DelegatesTo []string `yaml:"delegates_to,omitempty"`
	// Consults names the agents it may consult.
	Consults []string `yaml:"consults,omitempty"`
	// Budget is the default budget of a delegation to this agent.
	Budget Budget `yaml:"budget,omitempty"`
	// Supervision, when set, overrides the supervision trust would set.
	Supervision *Supervision `yaml:"supervision,omitempty"`
	// Persona is the simulator persona, when the model is the simulator.
	Persona string `yaml:"persona,omitempty"`
	// ContextTokens bounds every request sent to the agent's model, in
	// tokens: older turns are compacted to stay within it, the contract
	// never (see agents.Agent.ContextTokens). 0 takes the model's known
	// window.
	ContextTokens int `yaml:"context_tokens,omitempty"`
	// Checks are run on the report of every delegation to the agent, each
	// written as for run's --verify: exists:PATH, absent:PATH,
	// matches:PATH:REGEX, or the name of a check the runtime registers.
	Checks []string `yaml:"checks,omitempty"`
}

// ModelRef is one model of an agent's list of models: its name and, when
// it is not at the run's endpoint, its own.
type ModelRef struct {
	// Name is the model's name at its endpoint.
	Name string `yaml:"name"`
	// BaseURL is the model's OpenAI-compatible endpoint, when not the run's.
	BaseURL string `yaml:"base_url,omitempty"`
	// APIKeyEnv names the environment variable that holds the key of
	// BaseURL, so secrets stay out of the file.
	APIKeyEnv string `yaml:"api_key_env,omitempty"`
}

// MCPServer is an MCP server of a team file: a stdio command or a
// streamable-HTTP url. Values of env and headers may name variables of the
// environment as ${NAME}, so secrets stay out of the file.
type MCPServer struct {
	// Name prefixes the server's tools (name__tool): a lowercase
	// identifier.
	Name string `yaml:"name"`
	// Command is the program and its arguments of a stdio server.
	Command []string `yaml:"command,omitempty"`
	// Env is added to the stdio server's environment, which does not
	// inherit run's own (see mcptools.Server.Env).
	Env map[string]string `yaml:"env,omitempty"`
	// URL is the endpoint of a streamable-HTTP server.
	URL string `yaml:"url,omitempty"`
	// Headers are sent with every request to an HTTP server.
	Headers map[string]string `yaml:"headers,omitempty"`
	// Tools, when set, allows only these of the server's tools.
	Tools []string `yaml:"tools,omitempty"`
	// TrustHints trusts the server's annotations of its tools — true for
	// all of them, or a list of tool names. Untrusted (the default), they
	// are ignored: the tools run alone, are never called again after a
	// crash, and count as destructive (see mcptools.Server.TrustHints).
	TrustHints HintTrust `yaml:"trust_hints,omitempty"`
}

// HintTrust is trust_hints: true (All) or a list of the server's tools.
type HintTrust struct {
	All   bool
	Tools []string
}

// UnmarshalYAML reads true, false or a list of tool names.
func (h *HintTrust) UnmarshalYAML(n ast.Node) error {
	bad := func(n ast.Node) error {
		return &yaml.TypeError{DstType: reflect.TypeFor[HintTrust](), SrcType: reflect.TypeFor[string](), Token: n.GetToken()}
	}
	switch n := n.(type) {
	case *ast.BoolNode:
		*h = HintTrust{All: n.Value}
		return nil
	case *ast.SequenceNode:
		var tools []string
		for _, v := range n.Values {
			s, ok := v.(*ast.StringNode)
			if !ok {
				return bad(v)
			}
			tools = append(tools, s.Value)
		}
		*h = HintTrust{Tools: tools}
		return nil
	}
	return bad(n)
}

// Supervision fixes how closely an agent is supervised, whatever its trust.
// A Level (new, low, medium or high) starts from that level's settings in
// trust.DefaultPolicy; the fields set beside it override them. Without a
// level, unset fields are off: only the runtime's own checks apply.
type Supervision struct {
	Level         orchestrator.Level `yaml:"level,omitempty"`
	ModelJudge    *bool              `yaml:"model_judge,omitempty"`
	ModelVerify   *bool              `yaml:"model_verify,omitempty"`
	ProgressEvery *int               `yaml:"progress_every,omitempty"`
	MaxRevisions  *int               `yaml:"max_revisions,omitempty"`
}

// levels are the supervision presets a team file may name.
func levels() map[orchestrator.Level]orchestrator.Supervision {
	p := trust.DefaultPolicy()
	return map[orchestrator.Level]orchestrator.Supervision{
		trust.LevelNew: p.New, trust.LevelLow: p.Low, trust.LevelMedium: p.Medium, trust.LevelHigh: p.High,
	}
}

// Resolve returns the supervision s describes.
func (s *Supervision) Resolve() orchestrator.Supervision {
	out := orchestrator.Supervision{Level: orchestrator.LevelTeamFile}
	if preset, ok := levels()[s.Level]; ok {
		out = preset
	}
	if s.ModelJudge != nil {
		out.ModelJudge = *s.ModelJudge
	}
	if s.ModelVerify != nil {
		out.ModelVerify = *s.ModelVerify
	}
	if s.ProgressEvery != nil {
		out.ProgressEvery = *s.ProgressEvery
	}
	if s.MaxRevisions != nil {
		out.MaxRevisions = *s.MaxRevisions
	}
	return out
}

// Budget bounds a delegation. Zero fields mean no bound of their own.
type Budget struct {
	// Steps bounds the model turns.
	Steps int `yaml:"steps,omitempty"`
	// Tokens bounds the tokens spent, sub-delegations included.
	Tokens int `yaml:"tokens,omitempty"`
	// WallTime bounds the duration, as a Go duration string ("90s", "5m").
	WallTime string `yaml:"wall_time,omitempty"`
}

// Parse returns the agents.Budget that b describes.
func (b Budget) Parse() (agents.Budget, error) {
	out := agents.Budget{Steps: b.Steps, Tokens: b.Tokens}
	if b.Steps < 0 {
		return out, fmt.Errorf("steps %d is negative", b.Steps)
	}
	if b.Tokens < 0 {
		return out, fmt.Errorf("tokens %d is negative", b.Tokens)
	}
	if b.WallTime != "" {
		d, err := time.ParseDuration(b.WallTime)
		if err != nil {
			return out, fmt.Errorf("wall_time %q is not a duration (e.g. 90s, 5m, 1h30m)", b.WallTime)
		}
		if d < 0 {
			return out, fmt.Errorf("wall_time %q is negative", b.WallTime)
		}
		out.WallTime = d
	}
	return out, nil
}

// Error is a problem in a team file, located by file, line and field; it
// renders as `team.yaml:7: agents[1].delegates_to: unknown agent "wrker"`.
type Error = yamlloc.Error

// ParseOptions configure ParseWith. The zero value is usable.
type ParseOptions struct {
	// Tools names the tools agents may list; nil means the built-in
	// workspace tools (read_file, write_file, list_files).
	Tools []string
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the source of the built-in team (see Default).
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// Default returns the built-in team: a lead that delegates to a writer
// (write_file, read_file, list_files) and may consult a reviewer.
func Default() *File {
	f, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic("teamfile: the built-in team is invalid: " + err.Error()) // a build defect, caught by tests
	}
	return f
}

// Load reads and parses the team file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses and validates a team file whose tools are the built-in
// workspace tools. filename names the file in errors. The error is an
// *Error, or several joined (errors.Join) in the order of their lines.
func Parse(filename string, data []byte) (*File, error) {
	return ParseWith(filename, data, nil)
}

// ParseWith is Parse with options; opts may be nil.
func ParseWith(filename string, data []byte, opts *ParseOptions) (*File, error) {
	known := workspace.ToolNames()
	if opts != nil && opts.Tools != nil {
		known = opts.Tools
	}
	af, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(filename, nil, err)
	}
	var body ast.Node
	for i, doc := range af.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, &Error{File: filename, Line: doc.Body.GetToken().Position.Line, Msg: "a team file holds one YAML document; this is another"}
		}
		body = af.Docs[i].Body
	}
	if body == nil {
		return nil, &Error{File: filename, Line: 1, Msg: "the file is empty: a team needs a lead and agents"}
	}
	if _, ok := body.(*ast.MappingNode); !ok {
		return nil, &Error{File: filename, Line: body.GetToken().Position.Line, Msg: "a team file is a mapping with lead, agents, defaults and grants"}
	}
	f := &File{filename: filename, lines: yamlloc.LineIndex(body)}
	if err := wholeNumbers(filename, body); err != nil {
		return nil, err
	}
	lists, err := modelLists(filename, body)
	if err != nil {
		return nil, err
	}
	if err := yaml.NodeToValue(body, f, yaml.Strict()); err != nil {
		return nil, yamlError(filename, body, err)
	}
	for i, refs := range lists {
		if i < len(f.Agents) {
			f.Agents[i].Models = refs
		}
	}
	if err := f.validate(known, true); err != nil {
		return nil, err
	}
	return f, nil
}

// yamlError turns a goccy error into an *Error with the field whose node
// holds the offending token.
func yamlError(filename string, body ast.Node, err error) error {
	e := yamlloc.FromYAML(filename, body, err)
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return e
	}
	tk := ye.GetToken()
	var te *yaml.TypeError
	var ue *yaml.UnknownFieldError
	var ne *yaml.UnexpectedNodeTypeError
	switch {
	case errors.As(err, &ne):
		e.Msg = fmt.Sprintf("want %s, got %s", nodeKind(ne.Expected), nodeKind(ne.Actual))
	case errors.As(err, &te):
		e.Msg = fmt.Sprintf("want %s, got %q", kindName(te.DstType.String()), tk.Value)
	case errors.As(err, &ue):
		if i := strings.LastIndex(e.Field, "."); i >= 0 {
			e.Msg += " (known: " + strings.Join(knownFields(e.Field[:i]), ", ") + ")"
		} else {
			e.Msg += " (known: " + strings.Join(knownFields(""), ", ") + ")"
		}
	}
	return e
}

func kindName(goType string) string {
	switch goType {
	case "int":
		return "a whole number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]string":
		return "a list of names"
	case "[]teamfile.AgentSpec":
		return "a list of agents"
	case "[]teamfile.MCPServer":
		return "a list of MCP servers"
	case "teamfile.HintTrust":
		return "true, false or a list of the server's tool names"
	case "map[string]string":
		return "a mapping of names to strings"
	}
	if strings.HasPrefix(goType, "teamfile.") || strings.HasPrefix(goType, "orchestrator.") || strings.HasPrefix(goType, "*orchestrator.") {
		return "a mapping"
	}
	return goType
}

func nodeKind(t ast.NodeType) string {
	switch t {
	case ast.SequenceType:
		return "a list"
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.StringType:
		return "a string"
	case ast.IntegerType, ast.FloatType:
		return "a number"
	case ast.BoolType:
		return "true or false"
	case ast.NullType:
		return "nothing"
	}
	return t.String()
}

// knownFields lists the keys allowed in the mapping at path.
func knownFields(path string) []string {
	last := path
	if i := strings.LastIndex(path, "."); i >= 0 {
		last = path[i+1:]
	}
	switch {
	case path == "":
		return []string{"lead", "defaults", "agents", "grants", "mcp_servers"}
	case path == "defaults":
		return []string{"model", "budget", "supervision", "persona", "context_tokens"}
	case strings.HasPrefix(last, "mcp_servers["):
		return []string{"name", "command", "env", "url", "headers", "tools", "trust_hints"}
	case last == "budget":
		return []string{"steps", "tokens", "wall_time"}
	case last == "supervision":
		return []string{"level", "model_judge", "model_verify", "progress_every", "max_revisions"}
	}
	return []string{"name", "role", "model", "tools", "delegates_to", "consults", "budget", "supervision", "persona", "context_tokens", "checks"}
}

// errs collects the problems of a file, each with its line.
type errs struct {
	f    *File
	list []*Error
}

func (c *errs) add(path, format string, args ...any) {
	field := path
	// A list item is reported under its list's field, at the item's line.
	if i := strings.LastIndex(field, "["); i >= 0 && strings.HasSuffix(field, "]") && !strings.HasSuffix(field[:i], "agents") && field[:i] != "mcp_servers" {
		field = field[:i]
	}
	c.list = append(c.list, &Error{File: c.f.filename, Line: c.f.line(path), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	slices.SortStableFunc(c.list, func(a, b *Error) int { return a.Line - b.Line })
	if len(c.list) == 1 {
		return c.list[0]
	}
	out := make([]error, len(c.list))
	for i, e := range c.list {
		out[i] = e
	}
	return errors.Join(out...)
}

// line returns the line of path, or of its nearest ancestor in the file.
func (f *File) line(path string) int {
	for path != "" {
		if n, ok := f.lines[path]; ok {
			return n
		}
		i := max(strings.LastIndex(path, "."), strings.LastIndex(path, "["))
		if i < 0 {
			break
		}
		path = path[:i]
	}
	if n, ok := f.lines[""]; ok {
		return n
	}
	return 0
}

// validate checks the file against the tools that exist. With pending, the
// tools of its MCP servers are not known yet: a name server__tool of a
// declared server stands for one, if the server's allow-list has it.
func (f *File) validate(known []string, pending bool) error {
	c := &errs{f: f}
	servers := f.checkServers(c)
	isKnown := func(t string) bool {
		if slices.Contains(known, t) {
			return true
		}
		s, tool, ok := mcptools.SplitToolName(t)
		if !pending || !ok || servers[s] == nil {
			return false
		}
		allowed := servers[s].Tools
		return len(allowed) == 0 || slices.Contains(allowed, tool)
	}
	unknown := func(t string) string {
		if s, _, ok := mcptools.SplitToolName(t); ok {
			switch m := servers[s]; {
			case m == nil:
				return fmt.Sprintf("unknown tool %q: no MCP server is named %q under mcp_servers", t, s)
			case pending:
				return fmt.Sprintf("unknown tool %q: server %s allows only %s", t, s, strings.Join(m.Tools, ", "))
			}
		}
		return fmt.Sprintf("unknown tool %q%s", t, knownTools(t, known))
	}
	names := map[string]int{}
	for i, a := range f.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		switch {
		case a.Name == "":
			c.add(p+".name", "missing: every agent needs a name")
		case !agents.ValidName(a.Name):
			c.add(p+".name", "%q is not a valid name: use letters, digits, - and _, starting with a letter", a.Name)
		default:
			if j, dup := names[a.Name]; dup {
				c.add(p+".name", "duplicate name %q (also agents[%d])", a.Name, j)
			} else {
				names[a.Name] = i
			}
		}
	}
	all := make([]string, 0, len(names))
	for _, a := range f.Agents {
		if _, ok := names[a.Name]; ok && !slices.Contains(all, a.Name) {
			all = append(all, a.Name)
		}
	}
	switch {
	case len(f.Agents) == 0:
		c.add("agents", "no agents: a team needs at least its lead")
	case f.Lead == "":
		c.add("lead", "missing: name the agent the goal is entrusted to (one of %s)", strings.Join(all, ", "))
	case !slices.Contains(all, f.Lead):
		c.add("lead", "unknown agent %q%s", f.Lead, suggest(f.Lead, all))
	}
	held := map[string]bool{}
	for i, a := range f.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		for j, t := range a.DelegatesTo {
			switch {
			case t == a.Name:
				c.add(fmt.Sprintf("%s.delegates_to[%d]", p, j), "an agent cannot delegate to itself")
			case !slices.Contains(all, t):
				c.add(fmt.Sprintf("%s.delegates_to[%d]", p, j), "unknown agent %q%s", t, suggest(t, all))
			}
		}
		for j, t := range a.Consults {
			switch {
			case t == a.Name:
				c.add(fmt.Sprintf("%s.consults[%d]", p, j), "an agent cannot consult itself")
			case !slices.Contains(all, t):
				c.add(fmt.Sprintf("%s.consults[%d]", p, j), "unknown agent %q%s", t, suggest(t, all))
			}
		}
		for j, t := range a.Tools {
			tp := fmt.Sprintf("%s.tools[%d]", p, j)
			switch {
			case agents.IsProtocolTool(t):
				c.add(tp, "%q is a protocol tool: the runtime grants it, do not list it", t)
			case !isKnown(t):
				c.add(tp, "%s", unknown(t))
			case slices.Index(a.Tools, t) < j:
				c.add(tp, "tool %q is listed twice", t)
			default:
				held[t] = true
			}
		}
		checkBudget(c, p+".budget", a.Budget)
		checkContext(c, p+".context_tokens", a.ContextTokens)
		for j, s := range a.Checks {
			if _, err := agents.ParseCheck(s); err != nil {
				c.add(fmt.Sprintf("%s.checks[%d]", p, j), "%v", err)
			}
		}
		checkSupervision(c, p+".supervision", a.Supervision)
		if m, ok := strings.CutPrefix(a.Model, "sim/"); ok {
			if m == "" {
				c.add(p+".model", "name a persona after sim/, or write sim")
			} else {
				checkPersona(c, p+".model", m)
			}
		}
		checkPersona(c, p+".persona", a.Persona)
	}
	checkBudget(c, "defaults.budget", f.Defaults.Budget)
	checkContext(c, "defaults.context_tokens", f.Defaults.ContextTokens)
	checkSupervision(c, "defaults.supervision", f.Defaults.Supervision)
	checkPersona(c, "defaults.persona", f.Defaults.Persona)
	for j, g := range f.Grants {
		gp := fmt.Sprintf("grants[%d]", j)
		switch {
		case !isKnown(g):
			c.add(gp, "%s", unknown(g))
		case !held[g]:
			c.add(gp, "no agent has the tool %q: list it under an agent's tools", g)
		}
	}
	return c.err()
}

// checkServers checks the MCP servers and returns the valid ones by name.
func (f *File) checkServers(c *errs) map[string]*MCPServer {
	servers := map[string]*MCPServer{}
	for i := range f.MCPServers {
		m := &f.MCPServers[i]
		p := fmt.Sprintf("mcp_servers[%d]", i)
		srv := m.server(m.Env, m.Headers)
		switch {
		case m.Name == "":
			c.add(p+".name", "missing: every MCP server needs a name")
		case !mcptools.ValidName(m.Name):
			c.add(p+".name", "%q is not a valid server name: use lowercase letters, digits and single underscores, starting with a letter", m.Name)
		case servers[m.Name] != nil:
			c.add(p+".name", "duplicate server name %q", m.Name)
		default:
			if err := srv.Validate(); err != nil {
				c.add(p, "%s", strings.TrimPrefix(err.Error(), "mcp server "+m.Name+": "))
				continue
			}
			servers[m.Name] = m
		}
	}
	return servers
}

func (m *MCPServer) server(env, headers map[string]string) mcptools.Server {
	return mcptools.Server{Name: m.Name, Command: slices.Clone(m.Command), Env: env, URL: m.URL, Headers: headers, Tools: slices.Clone(m.Tools),
		TrustHints: m.TrustHints.All, HintedTools: slices.Clone(m.TrustHints.Tools)}
}

// Servers returns the file's MCP servers to connect to, with each ${NAME}
// in env and headers replaced by the variable's value; a variable that is
// not set is an *Error, since a server started without its secret would
// fail later and less clearly.
func (f *File) Servers() ([]mcptools.Server, error) {
	c := &errs{f: f}
	var out []mcptools.Server
	for i := range f.MCPServers {
		m := &f.MCPServers[i]
		p := fmt.Sprintf("mcp_servers[%d]", i)
		env := expandAll(c, p+".env", m.Env)
		headers := expandAll(c, p+".headers", m.Headers)
		out = append(out, m.server(env, headers))
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func expandAll(c *errs, p string, in map[string]string) map[string]string {
	if in == nil {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = os.Expand(v, func(name string) string {
			val, ok := os.LookupEnv(name)
			if !ok {
				c.add(p+"."+k, "${%s} is not set in the environment", name)
			}
			return val
		})
	}
	return out
}

func knownTools(name string, known []string) string {
	if len(known) == 0 {
		return " (no tools are provided)"
	}
	return suggest(name, known) + " (known: " + strings.Join(known, ", ") + ")"
}

// minContextTokens is the smallest context budget a team file accepts: the
// protocol's own prompts and tools take about a thousand tokens.
const minContextTokens = 1024

func checkContext(c *errs, p string, n int) {
	if n != 0 && n < minContextTokens {
		c.add(p, "%d is too small: the protocol's prompts and tools alone take about a thousand tokens (at least %d, or 0 for the model's window)", n, minContextTokens)
	}
}

func checkBudget(c *errs, p string, b Budget) {
	if b.Steps < 0 {
		c.add(p+".steps", "%d is negative", b.Steps)
	}
	if b.Tokens < 0 {
		c.add(p+".tokens", "%d is negative", b.Tokens)
	}
	if b.WallTime != "" {
		d, err := time.ParseDuration(b.WallTime)
		switch {
		case err != nil:
			c.add(p+".wall_time", "%q is not a duration (e.g. 90s, 5m, 1h30m)", b.WallTime)
		case d < 0:
			c.add(p+".wall_time", "%q is negative", b.WallTime)
		}
	}
}

// checkPersona checks a simulator persona's name wherever it is written, so a
// typo is caught even when a real endpoint would make it unused.
func checkPersona(c *errs, p, name string) {
	if name == "" {
		return
	}
	if _, err := sim.ParsePersona(name); err != nil {
		c.add(p, "unknown persona %q (known: %s)", name, personaNames())
	}
}

func personaNames() string {
	names := make([]string, len(sim.Personas()))
	for i, p := range sim.Personas() {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func checkSupervision(c *errs, p string, s *Supervision) {
	if s == nil {
		return
	}
	if _, ok := levels()[s.Level]; s.Level != "" && !ok {
		c.add(p+".level", "unknown level %q (known: new, low, medium, high)", s.Level)
	}
	if s.ProgressEvery != nil && *s.ProgressEvery < 0 {
		c.add(p+".progress_every", "%d is negative", *s.ProgressEvery)
	}
	if s.MaxRevisions != nil && *s.MaxRevisions < 0 {
		c.add(p+".max_revisions", "%d is negative", *s.MaxRevisions)
	}
}

// suggest returns ` (did you mean "x"?)` for the closest of names within two
// edits of s, or "".
func suggest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := distance(strings.ToLower(s), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Model returns the model of an agent, given its spec with the defaults
	// applied. Required.
	Model func(spec AgentSpec) (model.Model, error)
	// Tools are the tools agents may hold, by name.
	Tools map[string]agents.Tool
	// DefaultModel, when set, replaces Defaults.Model: the model of agents
	// that name none.
	DefaultModel string
}

// Resolve returns the spec of agent i with the defaults applied.
func (f *File) Resolve(i int) AgentSpec {
	a := f.Agents[i]
	a.Tools = slices.Clone(a.Tools)
	a.DelegatesTo = slices.Clone(a.DelegatesTo)
	a.Consults = slices.Clone(a.Consults)
	if a.Model == "" {
		a.Model = f.Defaults.Model
	}
	if a.Persona == "" {
		a.Persona = f.Defaults.Persona
	}
	if a.ContextTokens == 0 {
		a.ContextTokens = f.Defaults.ContextTokens
	}
	if a.Supervision == nil && f.Defaults.Supervision != nil {
		s := *f.Defaults.Supervision
		a.Supervision = &s
	}
	d := f.Defaults.Budget
	if a.Budget.Steps == 0 {
		a.Budget.Steps = d.Steps
	}
	if a.Budget.Tokens == 0 {
		a.Budget.Tokens = d.Tokens
	}
	if a.Budget.WallTime == "" {
		a.Budget.WallTime = d.WallTime
	}
	return a
}

// Build validates f against the tools of opts and returns the team it
// describes, asking opts.Model for each agent's model once everything else
// is known to be valid. Errors are *Error values, as Parse's.
func (f *File) Build(opts *BuildOptions) (orchestrator.Team, error) {
	if opts == nil || opts.Model == nil {
		return orchestrator.Team{}, errors.New("teamfile: BuildOptions.Model is required")
	}
	known := make([]string, 0, len(opts.Tools))
	for n := range opts.Tools {
		known = append(known, n)
	}
	slices.Sort(known)
	if err := f.validate(known, false); err != nil {
		return orchestrator.Team{}, err
	}
	team := orchestrator.Team{Lead: f.Lead, Grants: slices.Clone(f.Grants)}
	c := &errs{f: f}
	for i := range f.Agents {
		spec := f.Resolve(i)
		if f.Agents[i].Model == "" && opts.DefaultModel != "" {
			spec.Model = opts.DefaultModel
		}
		budget, err := spec.Budget.Parse()
		if err != nil {
			c.add(fmt.Sprintf("agents[%d].budget", i), "%v", err)
			continue
		}
		m, err := opts.Model(spec)
		if err != nil {
			c.add(fmt.Sprintf("agents[%d].model", i), "%v", err)
			continue
		}
		if m == nil {
			c.add(fmt.Sprintf("agents[%d].model", i), "no model for %s", spec.Name)
			continue
		}
		ag := &agents.Agent{Name: spec.Name, Role: spec.Role, Model: m, ContextTokens: spec.ContextTokens}
		for _, t := range spec.Tools {
			ag.Tools = append(ag.Tools, opts.Tools[t])
		}
		var sup *orchestrator.Supervision
		if spec.Supervision != nil {
			s := spec.Supervision.Resolve()
			sup = &s
		}
		var checks []agents.CheckSpec
		for _, s := range f.Agents[i].Checks {
			cs, _ := agents.ParseCheck(s) // validated above
			checks = append(checks, cs)
		}
		team.Members = append(team.Members, orchestrator.Member{Agent: ag, DelegatesTo: spec.DelegatesTo,
			Consults: spec.Consults, Budget: budget, Supervision: sup, Checks: checks})
	}
	if err := c.err(); err != nil {
		return orchestrator.Team{}, err
	}
	return team, nil
}

// Filename returns the name the file was parsed under.
func (f *File) Filename() string { return f.filename }

// countFields are the fields that must be whole numbers: the decoder would
// round 0.9 down to 0 (no bound) and accept "3".
var countFields = regexp.MustCompile(`(^|\.)(budget\.(steps|tokens)|supervision\.(progress_every|max_revisions)|context_tokens)$`)

func wholeNumbers(filename string, body ast.Node) error {
	var bad *Error
	ast.Walk(visitFunc(func(n ast.Node) {
		mv, ok := n.(*ast.MappingValueNode)
		if bad != nil || !ok {
			return
		}
		v := mv.Value
		p := yamlloc.Path(v)
		if !countFields.MatchString(p) {
			return
		}
		if _, ok := v.(*ast.IntegerNode); !ok && v.Type() != ast.NullType {
			bad = &Error{File: filename, Line: v.GetToken().Position.Line, Field: p, Msg: fmt.Sprintf("want a whole number, got %q", v.GetToken().Value)}
		}
	}), body)
	if bad != nil {
		return bad
	}
	return nil
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if n != nil {
		f(n)
	}
	return f
}

var agentModel = regexp.MustCompile(`^agents\[(\d+)\]\.model$`)

// modelLists takes the agents' models written as lists out of body, by
// agent index, leaving the first name in their place for the decoder.
func modelLists(filename string, body ast.Node) (map[int][]ModelRef, error) {
	out := map[int][]ModelRef{}
	var bad *Error
	ast.Walk(visitFunc(func(n ast.Node) {
		mv, ok := n.(*ast.MappingValueNode)
		if bad != nil || !ok {
			return
		}
		seq, ok := mv.Value.(*ast.SequenceNode)
		m := agentModel.FindStringSubmatch(yamlloc.Path(mv.Value))
		if !ok || m == nil {
			return
		}
		fail := func(v ast.Node, format string, args ...any) {
			bad = &Error{File: filename, Line: v.GetToken().Position.Line, Field: yamlloc.Path(v), Msg: fmt.Sprintf(format, args...)}
		}
		if len(seq.Values) == 0 {
			fail(seq, "an empty list of models: name one at least")
			return
		}
		var refs []ModelRef
		for _, v := range seq.Values {
			var ref ModelRef
			switch v := v.(type) {
			case *ast.StringNode:
				ref.Name = v.Value
			case *ast.MappingNode:
				if err := yaml.NodeToValue(v, &ref, yaml.Strict()); err != nil {
					if !errors.As(yamlError(filename, body, err), &bad) {
						fail(v, "%v", err)
					}
					return
				}
			default:
				fail(v, "want a model name or a mapping with name, base_url and api_key_env, got %q", v.GetToken().Value)
				return
			}
			switch {
			case strings.TrimSpace(ref.Name) == "":
				fail(v, "a model with no name")
			case ref.BaseURL != "" && !strings.HasPrefix(ref.BaseURL, "http://") && !strings.HasPrefix(ref.BaseURL, "https://"):
				fail(v, "base_url %q is not an http(s) URL", model.RedactURL(ref.BaseURL))
			}
			if bad != nil {
				return
			}
			refs = append(refs, ref)
		}
		node, err := yaml.ValueToNode(refs[0].Name)
		if err != nil {
			fail(seq, "%v", err)
			return
		}
		i, _ := strconv.Atoi(m[1])
		out[i] = refs
		mv.Value = node
	}), body)
	if bad != nil {
		return nil, bad
	}
	return out, nil
}
