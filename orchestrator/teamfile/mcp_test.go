package teamfile_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/mcptools"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const mcpTeam = `lead: lead
mcp_servers:
  - name: calc
    command: [calc-server, --quiet]
    env: {TOKEN: "${CALC_TOKEN}", MODE: fast}
    tools: [add, echo]
    trust_hints: [echo]
  - name: web
    url: https://example.invalid/mcp
    headers: {Authorization: "Bearer ${WEB_TOKEN}"}
    trust_hints: true
agents:
  - name: lead
    delegates_to: [worker]
  - name: worker
    tools: [read_file, calc__add, web__search]
grants: [read_file, calc__add]
`

func TestParseMCPServers(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(mcpTeam))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.MCPServers) != 2 || f.MCPServers[0].Command[0] != "calc-server" || f.MCPServers[1].URL == "" {
		t.Fatalf("servers %+v", f.MCPServers)
	}
	t.Setenv("CALC_TOKEN", "s3cret")
	t.Setenv("WEB_TOKEN", "w3b")
	servers, err := f.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if servers[0].Env["TOKEN"] != "s3cret" || servers[0].Env["MODE"] != "fast" || servers[1].Headers["Authorization"] != "Bearer w3b" ||
		strings.Join(servers[0].Tools, ",") != "add,echo" ||
		servers[0].TrustHints || strings.Join(servers[0].HintedTools, ",") != "echo" || !servers[1].TrustHints {
		t.Errorf("servers %+v", servers)
	}
	// The file keeps the reference, not the secret.
	if f.MCPServers[0].Env["TOKEN"] != "${CALC_TOKEN}" {
		t.Errorf("the file's env changed: %v", f.MCPServers[0].Env)
	}
}

func TestServersNeedTheirVariables(t *testing.T) {
	f, err := teamfile.Parse("team.yaml", []byte(mcpTeam))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WEB_TOKEN", "w3b")
	_, err = f.Servers()
	var e *teamfile.Error
	if !errors.As(err, &e) || e.Line != 5 || e.Field != "mcp_servers[0].env.TOKEN" || !strings.Contains(e.Msg, "${CALC_TOKEN} is not set") {
		t.Errorf("err = %v", err)
	}
}

func TestParseMCPErrors(t *testing.T) {
	head := "lead: a\nagents:\n  - name: a\n"
	tests := []struct {
		name, src   string
		line        int
		field, want string
	}{
		{"bad server name", "lead: a\nmcp_servers:\n  - name: My-FS\n    command: [x]\nagents:\n  - name: a\n", 3, "mcp_servers[0].name", "not a valid server name"},
		{"no command or url", "lead: a\nmcp_servers:\n  - name: fs\nagents:\n  - name: a\n", 3, "mcp_servers[0]", "give a command"},
		{"both", "lead: a\nmcp_servers:\n  - name: fs\n    command: [x]\n    url: http://h\nagents:\n  - name: a\n", 3, "mcp_servers[0]", "not both"},
		{"duplicate", "lead: a\nmcp_servers:\n  - {name: fs, command: [x]}\n  - {name: fs, command: [y]}\nagents:\n  - name: a\n", 4, "mcp_servers[1].name", "duplicate server name"},
		{"unknown field", "lead: a\nmcp_servers:\n  - name: fs\n    comand: [x]\nagents:\n  - name: a\n", 4, "mcp_servers[0].comand", "known: name, command, env, url, headers, tools, trust_hints"},
		{"trust_hints of a tool not allowed", "lead: a\nmcp_servers:\n  - {name: fs, command: [x], tools: [read_file], trust_hints: [write_file]}\nagents:\n  - name: a\n", 3, "mcp_servers[0]", `the hints of tool "write_file" are trusted, but the tool is not allowed`},
		{"trust_hints neither true nor a list", "lead: a\nmcp_servers:\n  - name: fs\n    command: [x]\n    trust_hints: yes please\nagents:\n  - name: a\n", 5, "mcp_servers[0].trust_hints", "want true, false or a list"},
		{"undeclared server", head + "    tools: [fs__read_file]\n", 4, "agents[0].tools", `no MCP server is named "fs"`},
		{"tool outside the allow-list", "lead: a\nmcp_servers:\n  - {name: fs, command: [x], tools: [read_file]}\nagents:\n  - name: a\n    tools: [fs__write_file]\n", 6, "agents[0].tools", "server fs allows only read_file"},
		{"grant of an undeclared server", head + "    tools: [read_file]\ngrants: [git__log]\n", 5, "grants", `no MCP server is named "git"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := teamfile.Parse("team.yaml", []byte(tt.src))
			var e *teamfile.Error
			if !errors.As(err, &e) || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.want) {
				t.Errorf("err = %v (line %d, field %q), want line %d field %q %q", err, e.Line, e.Field, tt.line, tt.field, tt.want)
			}
		})
	}
}

// Build checks MCP tool names against the tools the servers gave: a name
// the server does not have is an error even without an allow-list.
func TestBuildWithMCPTools(t *testing.T) {
	src := `lead: lead
mcp_servers:
  - {name: calc, command: [unused]}
agents:
  - name: lead
    delegates_to: [worker]
  - name: worker
    tools: [calc__add, calc__ech]
`
	f, err := teamfile.Parse("team.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tools := workspaceTools(t)
	conn := memoryServer(t)
	for _, tl := range conn.Tools() {
		tools[tl.Def().Name] = tl
	}
	mk := func(s teamfile.AgentSpec) (model.Model, error) { return model.NewScripted(s.Name), nil }
	_, err = f.Build(&teamfile.BuildOptions{Tools: tools, Model: mk})
	var e *teamfile.Error
	if !errors.As(err, &e) || e.Field != "agents[1].tools" || !strings.Contains(e.Msg, `unknown tool "calc__ech" (did you mean "calc__echo"?)`) {
		t.Fatalf("err = %v", err)
	}
	f.Agents[1].Tools = []string{"calc__add", "calc__echo"}
	team, err := f.Build(&teamfile.BuildOptions{Tools: tools, Model: mk})
	if err != nil {
		t.Fatal(err)
	}
	w := team.Members[1].Agent
	if len(w.Tools) != 2 || w.Tools[0].Def().Name != "calc__add" {
		t.Fatalf("worker tools %v", w.Tools)
	}
	if res := w.Tools[0].Call(t.Context(), []byte(`{"a":2,"b":3}`)); res.IsError || res.Content != `{"sum":5}` {
		t.Errorf("calc__add = %+v", res)
	}
}

func memoryServer(t *testing.T) *mcptools.Conn {
	t.Helper()
	server := mcptest.NewServer(nil)
	conn, err := mcptools.Connect(t.Context(), mcptools.Server{Name: "calc", Transport: func(ctx context.Context) (mcp.Transport, error) {
		ct, st := mcp.NewInMemoryTransports()
		if _, err := server.Connect(ctx, st, nil); err != nil {
			return nil, err
		}
		return ct, nil
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestREADMEMCPTeamFile keeps the README's team file with MCP servers valid.
func TestREADMEMCPTeamFile(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Skip("no README:", err)
	}
	s := string(b)
	start := "## MCP servers' tools\n"
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatal("the README has no section on MCP servers")
	}
	s = s[i:]
	s = s[strings.Index(s, "```yaml\n")+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	f, err := teamfile.Parse("README.md", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.MCPServers) != 2 {
		t.Errorf("servers %+v", f.MCPServers)
	}
}
