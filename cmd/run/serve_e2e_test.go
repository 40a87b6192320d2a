package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2aclient"
	"github.com/a2aproject/a2a-go/a2aclient/agentcard"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// askingTeam's lead asks before it accepts: "do you really want me to …,
// exactly as written?", options yes or no, yes recommended.
const askingTeam = `lead: lead
agents:
  - name: lead
    role: Writes haiku on request.
    model: sim/over-asker
    tools: [write_file]
`

// serveMCP starts "run serve --mcp" in dir and connects an MCP client to it
// over its stdin and stdout.
func serveMCP(t *testing.T, dir string, copts *mcp.ClientOptions, args ...string) (*mcp.ClientSession, *exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd, _, errb := command(t.Context(), dir, "", append([]string{"serve", "--mcp", "--team", "team.yaml", "--journals", "j"}, args...)...)
	cmd.Stdin, cmd.Stdout = nil, nil
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e"}, copts).Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	return cs, cmd, errb
}

func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	out, ok := res.StructuredContent.(map[string]any)
	if !ok {
		t.Fatalf("structured content %T %v", res.StructuredContent, res.StructuredContent)
	}
	return out
}

// TestE2EServeMCP drives "run serve --mcp" with the SDK's client over stdio:
// run_goal completes, the lead's question answered through elicitation.
func TestE2EServeMCP(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), askingTeam)
	var asked []string
	cs, cmd, errb := serveMCP(t, dir, &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		asked = append(asked, r.Params.Message)
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"choice": "Yes, exactly as written"}}, nil
	}})
	params := &mcp.CallToolParams{Name: "run_goal", Arguments: map[string]any{"goal": "Write a haiku about delegation", "criteria": []string{"a haiku is in the workspace"}}}
	res, err := cs.CallTool(t.Context(), params)
	if err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	out := structured(t, res)
	if res.IsError || out["status"] != "completed" || len(asked) != 1 {
		t.Fatalf("isError %v, out %v, asked %q\n%s", res.IsError, out, asked, errb)
	}
	journal := out["journal"].(string)
	if !strings.HasPrefix(journal, filepath.Join(dir, "j")) {
		t.Errorf("journal %s is not under --journals", journal)
	}
	events := readJournal(t, journal)
	checkComplete(t, events)
	// Its run is in the record of sealed runs: a copy stripped of its
	// seals is not believed as a journal from before seals.
	if err := cli.CheckUnsigned(filepath.Join(dir, "stripped.jsonl"), events[0].Run); !errors.Is(err, orchestrator.ErrNotResumable) {
		t.Errorf("a served run's journal is not in the record of sealed runs: %v", err)
	}
	res0 := ofType(events, orchestrator.EventEscalationResolved)
	if len(res0) == 0 || res0[0].Resolution.Answer != "Yes, exactly as written" || res0[0].Resolution.By != "user" {
		t.Errorf("resolution %+v", res0)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "workspace")); len(entries) == 0 {
		t.Errorf("nothing written in the workspace")
	}
	// The client goes away: the server ends, cleanly.
	cs.Close()
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("the server ended with %v\n%s", cmd.ProcessState, errb)
	}
	if !strings.Contains(errb.String(), "serving MCP on stdio") {
		t.Errorf("stderr:\n%s", errb)
	}
}

// Without elicitation, --escalations answers: auto takes the recommendation.
func TestE2EServeMCPWithoutElicitation(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), askingTeam)
	cs, _, errb := serveMCP(t, dir, nil, "--escalations", "auto")
	defer cs.Close()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "run_goal", Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	out := structured(t, res)
	events := readJournal(t, out["journal"].(string))
	res0 := ofType(events, orchestrator.EventEscalationResolved)
	if out["status"] != "completed" || len(res0) == 0 || res0[0].Resolution.By != "policy" || res0[0].Resolution.Refused {
		t.Errorf("out %v, resolutions %+v", out, res0)
	}
}

// A server whose goals' journals cannot go in the record of sealed runs
// does not start (exit 2), rather than fail every goal.
func TestServeRefusedWithoutTheRecord(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	// A directory where the record's file should be: it cannot be written.
	if err := os.MkdirAll(filepath.Join(dir, "config", "entrust", "sealed"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := mainIn(t, "", "serve", "--mcp", "--journals", filepath.Join(dir, "j"), "--workspace", filepath.Join(dir, "ws"), "--trust", "")
	if code != exitUsage || !strings.Contains(stderr, "sealed record") {
		t.Errorf("exit %d, want %d saying the sealed record cannot be written: %s", code, exitUsage, stderr)
	}
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--mcp", "--a2a", ":0"},
		{"serve", "--mcp", "--escalations", "terminal"},
		{"serve", "--mcp", "--public-url", "http://x/"},
		{"serve", "--mcp", "--max-runs", "0"},
		{"serve", "--mcp", "--call-timeout", "-1s"},
	} {
		code, _, stderr := mainIn(t, "", args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, stderr %s", args, code, stderr)
		}
	}
}

// TestE2EServeA2A drives "run serve --a2a" with a2a-go's client: a task asks
// (input-required) and the next message answers it; Ctrl-C ends a task
// still waiting, its journal complete, and the server exits.
func TestE2EServeA2A(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on Windows")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), askingTeam)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, _, _ := command(ctx, dir, "", "serve", "--a2a", "127.0.0.1:0", "--team", "team.yaml", "--journals", "j")
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	lines := bufio.NewScanner(pr)
	url := ""
	for url == "" && lines.Scan() {
		stderr.WriteString(lines.Text() + "\n")
		if _, after, ok := strings.Cut(lines.Text(), "serving A2A at "); ok {
			url, _, _ = strings.Cut(after, " ")
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no URL in stderr:\n%s", stderr.String())
	}
	card, err := agentcard.DefaultResolver.Resolve(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if card.Description != "Writes haiku on request." || len(card.Skills) != 1 || !card.Capabilities.Streaming {
		t.Errorf("card %+v", card)
	}
	client, err := a2aclient.NewFromCard(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	send := func(m *a2a.Message) *a2a.Task {
		res, err := client.SendMessage(ctx, &a2a.MessageSendParams{Message: m})
		if err != nil {
			t.Fatal(err)
		}
		task, ok := res.(*a2a.Task)
		if !ok {
			t.Fatalf("result %T", res)
		}
		return task
	}
	task := send(a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state %s", task.Status.State)
	}
	task = send(a2a.NewMessageForTask(a2a.MessageRoleUser, task, a2a.TextPart{Text: "Yes, exactly as written"}))
	if task.Status.State != a2a.TaskStateCompleted || len(task.Artifacts) != 1 {
		t.Fatalf("state %s", task.Status.State)
	}
	var data map[string]any
	for _, p := range task.Artifacts[0].Parts {
		if dp, ok := p.(a2a.DataPart); ok {
			data = dp.Data
		}
	}
	checkComplete(t, readJournal(t, data["journal"].(string)))
	if entries, err := os.ReadDir(filepath.Join(dir, "workspace", string(task.ID))); err != nil || len(entries) == 0 {
		t.Errorf("the task's workspace %s: %v %v", task.ID, entries, err)
	}

	// A second task waits for an answer when the server is interrupted.
	waiting := send(a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about trust"}))
	if waiting.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state %s", waiting.Status.State)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the server did not exit cleanly: %v\n%s", err, stderr.String())
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "j", "*.jsonl"))
	if len(journals) != 2 {
		t.Fatalf("journals %v", journals)
	}
	interrupted := 0
	for _, j := range journals {
		events := readJournal(t, j)
		checkComplete(t, events)
		if fin := events[len(events)-1]; fin.Status != orchestrator.StatusCompleted {
			interrupted++
			if !strings.Contains(fin.Reason, "cancel") {
				t.Errorf("the interrupted run ended %s: %s", fin.Status, fin.Reason)
			}
		}
	}
	if interrupted != 1 {
		t.Errorf("%d runs interrupted, want the waiting one", interrupted)
	}
}

// A served run checks files in its workspace, as run does: a team member's
// file check runs there (without one it could not run, and failed every
// report), and a file there before proves nothing.
func TestE2EServeChecksTheWorkspace(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), `lead: lead
agents:
  - name: lead
    role: Writes haiku on request.
    model: sim
    tools: [write_file]
    checks: ["absent:secrets.env"]
`)
	cs, _, errb := serveMCP(t, dir, nil)
	defer cs.Close()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "run_goal", Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb)
	}
	if out := structured(t, res); res.IsError || out["status"] != "completed" {
		t.Fatalf("isError %v, out %v\n%s", res.IsError, out, errb)
	}
}
