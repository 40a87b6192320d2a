package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// mcpTeam is a lead and a worker that holds two tools of the MCP test
// server; the team grants the worker's and the lead attenuates further.
func mcpTeam() string {
	return `lead: lead
mcp_servers:
  - name: calc
    command: [` + mcpServer + `]
    env: {GREETING: hello}
    trust_hints: [add, echo]
agents:
  - name: lead
    role: Leads.
    model: lead-model
    delegates_to: [worker]
  - name: worker
    role: Computes.
    model: worker-model
    tools: [calc__add, calc__echo, calc__pid, calc__slow]
`
}

func TestE2ERunToolsListsMCPTools(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), mcpTeam())
	r := runBinary(t, dir, "", "tools", "--team", "team.yaml")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{"write_file", "built-in (workspace)", "calc__add", "mcp calc (" + mcpServer + ")", "idempotent", "Add two numbers.", "worker",
		"server's hints not trusted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run tools lacks %q:\n%s", want, r.stdout)
		}
	}
	// Each tool's kind: declared (the workspace's), by trusted hints (echo
	// only reads), or none (pid's hints are not trusted, and its name says
	// nothing).
	for tool, kind := range map[string]string{"write_file": "writes files", "read_file": "reads", "calc__echo": "reads",
		"calc__pid": "unknown (its calls prove nothing)"} {
		if !regexp.MustCompile(`(?m)^` + tool + ` .*  ` + regexp.QuoteMeta(kind) + `  `).MatchString(r.stdout) {
			t.Errorf("run tools does not show %s as %q:\n%s", tool, kind, r.stdout)
		}
	}
	// A tool the server does not have is a configuration error.
	writeFile(t, filepath.Join(dir, "bad.yaml"), strings.Replace(mcpTeam(), "calc__slow]", "calc__slo]", 1))
	r = runBinary(t, dir, "", "--team", "bad.yaml", "--escalations", "auto", "Add two numbers")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown tool "calc__slo" (did you mean "calc__slow"?)`) {
		t.Errorf("bad tool: %s", r)
	}
}

// TestE2EMCPToolsGrantedAttenuatedCalled: the lead sees the MCP tools in its
// delegate tool's enum, grants the worker only calc__add, and the worker's
// calls reach the server — or are refused when not granted.
func TestE2EMCPToolsGrantedAttenuatedCalled(t *testing.T) {
	dir := t.TempDir()
	lead := &bot{plan: []func(*model.Request) model.ToolCall{func(*model.Request) model.ToolCall {
		return model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: "worker", Intent: "the user wants a sum",
			Objective: "Add 2 and 3", Criteria: []string{"the sum is known"}, Tools: []string{"calc__add"}})
	}}}
	worker := &bot{criteria: 1, plan: []func(*model.Request) model.ToolCall{
		func(*model.Request) model.ToolCall { return model.Call("calc__echo", map[string]string{"text": "hi"}) },
		func(*model.Request) model.ToolCall {
			return model.Call("calc__add", map[string]any{"a": "two", "b": 3})
		},
		func(*model.Request) model.ToolCall { return model.Call("calc__add", map[string]any{"a": 2, "b": 3}) },
	}}
	models := map[string]model.Model{"lead-model": lead.model("lead-model"), "worker-model": worker.model("worker-model")}
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, models)})
	writeFile(t, filepath.Join(dir, "team.yaml"), mcpTeam())
	r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--journal", "run.jsonl", "--escalations", "auto", "Add 2 and 3")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	if !strings.Contains(r.stderr, "mcp calc (9 tools)") {
		t.Errorf("the banner does not list the server:\n%s", r.stderr)
	}
	// The lead may grant the worker's MCP tools.
	var enum []any
	for _, req := range srv.Requests() {
		for _, tl := range req.Tools {
			if req.Model == "lead-model" && tl.Function.Name == agents.ToolDelegate {
				var schema map[string]any
				json.Unmarshal(tl.Function.Parameters, &schema)
				enum, _ = schema["properties"].(map[string]any)["tools"].(map[string]any)["items"].(map[string]any)["enum"].([]any)
			}
		}
	}
	if !slices.Contains(enum, any("calc__add")) || !slices.Contains(enum, any("calc__echo")) {
		t.Errorf("delegate's tools enum = %v", enum)
	}
	events := r.journal(t, "run.jsonl")
	checkComplete(t, events)
	var results []string
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		if strings.HasPrefix(e.Tool, "calc__") {
			results = append(results, e.Tool+": "+jsonString(e))
		}
	}
	all := strings.Join(results, "\n")
	switch {
	case len(results) != 2:
		t.Fatalf("calc results:\n%s", all)
	case !strings.Contains(results[0], "invalid arguments for calc__add"):
		t.Errorf("invalid arguments were not refused before the call:\n%s", results[0])
	case !strings.Contains(results[1], `{\"sum\":5}`):
		t.Errorf("calc__add did not reach the server:\n%s", results[1])
	}
	// calc__echo, held by the worker but not granted by the lead, was refused.
	refused := false
	for _, e := range ofType(events, orchestrator.EventProtocolViolation) {
		refused = refused || strings.Contains(jsonString(e), "calc__echo")
	}
	if !refused {
		t.Errorf("calc__echo was not refused")
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestE2EMCPServerStoppedOnInterrupt: Ctrl-C during an MCP call cancels
// it, the run ends with exit 130 and a complete journal, and the server's
// process is gone.
func TestE2EMCPServerStoppedOnInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on Windows")
	}
	dir := t.TempDir()
	lead := &bot{plan: []func(*model.Request) model.ToolCall{func(*model.Request) model.ToolCall {
		return model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: "worker", Intent: "wait", Objective: "Wait", Criteria: []string{"waited"}})
	}}}
	worker := &bot{criteria: 1, plan: []func(*model.Request) model.ToolCall{
		func(*model.Request) model.ToolCall { return model.Call("calc__pid", map[string]any{}) },
		func(*model.Request) model.ToolCall { return model.Call("calc__slow", map[string]any{"seconds": 60}) },
	}}
	models := map[string]model.Model{"lead-model": lead.model("lead-model"), "worker-model": worker.model("worker-model")}
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, models)})
	writeFile(t, filepath.Join(dir, "team.yaml"), mcpTeam())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, out, errb := command(ctx, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--journal", "run.jsonl", "--escalations", "auto", "Wait a minute")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until calc__slow is under way.
	journal := filepath.Join(dir, "run.jsonl")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(journal); strings.Contains(string(b), `"tool":"calc__slow"`) {
			break
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n--- stdout\n%s--- stderr\n%s", err, out, errb)
	}
	events := readJournal(t, journal)
	checkComplete(t, events)
	pid := 0
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		if e.Tool == "calc__pid" {
			pid, _ = strconv.Atoi(strings.TrimSpace(e.Result))
		}
	}
	if pid == 0 {
		t.Fatalf("no pid in the journal")
	}
	if mcptest.Alive(pid) {
		t.Errorf("the MCP server (pid %d) outlived the run", pid)
	}
}
