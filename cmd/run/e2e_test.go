package main

// End-to-end tests of the built binary, run as a user would run it: in a
// directory of its own, with flags, piped stdin and signals, against the
// loopback OpenAI-compatible server.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/internal/mcptest"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// binary is the run command built once for the package's tests, and
// mcpServer the MCP test server (internal/mcptest).
var binary, mcpServer string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entrust-run-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The journals' key is made in the tests' own configuration directory,
	// never the user's; the binaries the tests run inherit it.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Unsetenv(orchestrator.EnvJournalKey)
	binary = filepath.Join(dir, "run")
	if runtime.GOOS == "windows" {
		binary += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the run command: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	if mcpServer, err = mcptest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the binary left.
type result struct {
	code           int
	stdout, stderr string
	dir            string
}

// command prepares the binary in dir with a clean environment: no endpoint,
// no telemetry, no colour.
func command(ctx context.Context, dir, stdin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENAI_") && !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

func runBinary(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, out, errb := command(ctx, dir, stdin, args...)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String(), dir: dir}
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// journal reads the run's journal at path (relative to the run's directory).
func (r result) journal(t *testing.T, path string) []*orchestrator.Event {
	t.Helper()
	return readJournal(t, filepath.Join(r.dir, path))
}

func readJournal(t *testing.T, path string) []*orchestrator.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, truncated, err := orchestrator.ReadJournal(f)
	if err != nil || truncated {
		t.Fatalf("journal %s: %v (truncated %v)", path, err, truncated)
	}
	return events
}

// checkComplete asserts every delegation ended once and the journal ends with
// run.finished.
var checkComplete = protocoltest.CheckJournal

func ofType(events []*orchestrator.Event, typ orchestrator.EventType) []*orchestrator.Event {
	var out []*orchestrator.Event
	for _, e := range events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// byModel serves each model name with its own model.
func byModel(t *testing.T, models map[string]model.Model) func(*openaitest.ChatRequest) openaitest.Reply {
	return func(req *openaitest.ChatRequest) openaitest.Reply {
		m, ok := models[req.Model]
		if !ok {
			t.Errorf("request for unknown model %q", req.Model)
			return openaitest.Error(400, openaitest.ErrorBody("no model "+req.Model, "invalid_request_error", ""))
		}
		return openaitest.FromModel(m)(req)
	}
}

const threeTeam = `lead: lead
agents:
  - name: lead
    role: Leads the work and delegates the writing.
    model: lead-model
    delegates_to: [writer]
    consults: [reviewer]
  - name: writer
    role: Writes files in the workspace.
    model: writer-model
    tools: [write_file, read_file, list_files]
  - name: reviewer
    role: Reviews drafts.
    model: reviewer-model
`

// TestE2ETeamOfThreeCompletes runs a team of three, each on its own model
// served by the loopback server, to a verified completion.
func TestE2ETeamOfThreeCompletes(t *testing.T) {
	dir := t.TempDir()
	models := map[string]model.Model{}
	for _, n := range []string{"lead-model", "writer-model", "reviewer-model"} {
		models[n] = caching{sim.New(n, nil)}
	}
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, models)})
	writeFile(t, filepath.Join(dir, "team.yaml"), threeTeam)

	r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--journal", "run.jsonl",
		"--criteria", "a note about delegation is in the workspace", "Write a short note about delegation")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "workspace"))
	if err != nil || len(entries) == 0 {
		t.Fatalf("the workspace holds %v (%v)\n%s", entries, err, r)
	}
	events := r.journal(t, "run.jsonl")
	checkComplete(t, events)
	if fin := events[len(events)-1]; fin.Status != orchestrator.StatusCompleted {
		t.Errorf("run finished %s: %s", fin.Status, fin.Reason)
	}
	if n := len(ofType(events, orchestrator.EventGoalOffered)); n < 2 {
		t.Errorf("%d delegations, want the lead's and the writer's at least", n)
	}
	seen := map[string]bool{}
	for _, req := range srv.Requests() {
		seen[req.Model] = true
	}
	if !seen["lead-model"] || !seen["writer-model"] {
		t.Errorf("models asked: %v", seen)
	}
	if !strings.Contains(r.stderr, "journal: run.jsonl") || strings.Contains(r.stderr, "offline simulator") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	// The provider's cached prompt tokens come through to the journal, the
	// live view and the replay.
	cached := 0
	for _, e := range ofType(events, orchestrator.EventModelCalled) {
		if e.Usage != nil {
			cached += e.Usage.CachedTokens
		}
	}
	if !strings.Contains(r.stdout, "completed and verified") || cached == 0 || !strings.Contains(r.stdout, cli.Thousands(cached)+" cached)") {
		t.Errorf("%d cached tokens in the journal; stdout:\n%s", cached, r.stdout)
	}

	// The journal replays.
	rr := runBinary(t, dir, "", "replay", "run.jsonl")
	if rr.code != 0 || !strings.Contains(rr.stdout, "d2 writer ← lead") || !strings.Contains(rr.stdout, "usage by agent") ||
		!regexp.MustCompile(`calls +prompt +cached +completion`).MatchString(rr.stdout) {
		t.Errorf("replay:\n%s", rr)
	}
}

// caching is a model whose provider says it served half of each prompt
// from its prompt cache.
type caching struct{ model.Model }

func (c caching) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := c.Model.Generate(ctx, req)
	if err == nil {
		resp.Usage.CachedTokens = resp.Usage.PromptTokens / 2
	}
	return resp, err
}

// bot is a scripted protocol player for the e2e tests: it accepts, judges,
// verifies and passes escalations up by the book, and works through plan,
// one call a turn, then completes.
type bot struct {
	criteria int                                       // criteria of the goal it will be offered
	plan     []func(req *model.Request) model.ToolCall // its work, once aligned
	passUp   bool                                      // answers escalations by passing them up
}

func (b *bot) model(name string) *model.Scripted {
	return model.ScriptFunc(name, func(_ context.Context, req *model.Request) (*model.Response, error) {
		call, err := b.next(req)
		if err != nil {
			return nil, &model.APIError{StatusCode: 400, Message: err.Error()}
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{call}}}, nil
	})
}

func offers(req *model.Request, name string) bool {
	for _, t := range req.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// turns counts the assistant messages of the conversation.
func turns(req *model.Request) int {
	n := 0
	for _, m := range req.Messages {
		if m.Role == model.RoleAssistant {
			n++
		}
	}
	return n
}

// lastToolResult is the content of the conversation's last tool message.
func lastToolResult(req *model.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == model.RoleTool {
			return req.Messages[i].Content
		}
	}
	return ""
}

// offered is the text of req's system and user messages, where the goal is
// offered.
func offered(req *model.Request) string {
	var b strings.Builder
	for _, m := range req.Messages {
		if m.Role == model.RoleUser || m.Role == model.RoleSystem {
			b.WriteString(m.Content + " ")
		}
	}
	return b.String()
}

var question = agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "Which file should the note go to?",
	Options: []string{"haiku.txt", "poem.md"}, Recommendation: "haiku.txt"}

func (b *bot) next(req *model.Request) (model.ToolCall, error) {
	switch {
	case offers(req, agents.ToolJudgeAlignment):
		return model.Call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: true}), nil
	case offers(req, agents.ToolVerifyReport):
		return model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept}), nil
	case offers(req, agents.ToolAnswerEscalation):
		if b.passUp {
			return model.Call(agents.ToolEscalate, question), nil
		}
		return model.Call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "haiku.txt"}), nil
	case offers(req, agents.ToolAcceptGoal):
		a := agents.Acceptance{RestatedIntent: "I will do what is asked, for the purpose it serves: " + cli.Clip(offered(req), 4000), Plan: []string{"do the work", "report"},
			AcknowledgedCriteria: make([]string, b.criteria), AcknowledgedConstraints: []string{}, Confidence: 0.9}
		for i := range a.AcknowledgedCriteria {
			a.AcknowledgedCriteria[i] = "I will meet it"
		}
		return model.Call(agents.ToolAcceptGoal, a), nil
	case offers(req, agents.ToolCompleteGoal):
		i := turns(req) - 1 // the first turn was the acceptance
		if i >= 0 && i < len(b.plan) {
			return b.plan[i](req), nil
		}
		rep := agents.Report{Result: "done: " + cli.Clip(lastToolResult(req), 80), Criteria: []agents.CriterionResult{}}
		for range b.criteria {
			rep.Criteria = append(rep.Criteria, agents.CriterionResult{Criterion: "the note is written", Met: true, Evidence: "see the workspace", Cites: cites(req)})
		}
		return model.Call(agents.ToolCompleteGoal, rep), nil
	}
	return model.ToolCall{}, fmt.Errorf("bot: nothing to do with tools %v", req.Tools)
}

// cites are what a report can rest on in req's conversation: the delegations
// that completed, and the last call of an action tool (the bots' plans end
// with the call that works).
func cites(req *model.Request) []string {
	var out []string
	last := ""
	for _, m := range req.Messages {
		var o struct{ Delegation, Status string }
		switch {
		case m.Role != model.RoleTool:
		case m.Name == agents.ToolDelegate:
			if json.Unmarshal([]byte(m.Content), &o) == nil && o.Status == "completed" {
				out = append(out, o.Delegation)
			}
		case !agents.IsProtocolTool(m.Name):
			last = m.ToolCallID
		}
	}
	if last != "" {
		out = append(out, last)
	}
	return out
}

func delegateNote(*model.Request) model.ToolCall {
	return model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: "worker", Intent: "the user wants a note",
		Objective: "Write the note", Criteria: []string{"the note is written"}})
}

const twoTeam = `lead: lead
agents:
  - name: lead
    role: Leads.
    model: lead-model
    delegates_to: [worker]
  - name: worker
    role: Writes.
    model: worker-model
    tools: [write_file]
`

// TestE2EEscalationAnsweredOnPipedStdin: the worker escalates, the lead
// passes the question up, and the user answers it on piped stdin in terminal
// mode; the answer reaches the worker.
func TestE2EEscalationAnsweredOnPipedStdin(t *testing.T) {
	dir := t.TempDir()
	worker := (&bot{criteria: 1, plan: []func(*model.Request) model.ToolCall{
		func(*model.Request) model.ToolCall { return model.Call(agents.ToolEscalate, question) },
		func(req *model.Request) model.ToolCall {
			path := "haiku.txt"
			if strings.Contains(lastToolResult(req), "poem.md") {
				path = "poem.md"
			}
			return model.Call("write_file", map[string]string{"path": path, "content": "a note\n"})
		},
	}}).model("worker-model")
	lead := (&bot{passUp: true, plan: []func(*model.Request) model.ToolCall{delegateNote}}).model("lead-model")
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, map[string]model.Model{"lead-model": lead, "worker-model": worker})})
	writeFile(t, filepath.Join(dir, "team.yaml"), twoTeam)

	// y confirms the lead's acceptance; 2 picks the second option.
	r := runBinary(t, dir, "y\n2\n", "--team", "team.yaml", "--base-url", srv.URL, "--escalations", "terminal",
		"--journal", "run.jsonl", "Write a note")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{"This is what lead understood", "Is this right?", "Which file should the note go to?", "1. haiku.txt", "2. poem.md", "Recommendation: haiku.txt"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the terminal did not show %q:\n%s", want, r.stderr)
		}
	}
	events := r.journal(t, "run.jsonl")
	checkComplete(t, events)
	var byUser *orchestrator.Event
	for _, e := range ofType(events, orchestrator.EventEscalationResolved) {
		if e.Resolution != nil && e.Resolution.By == "user" {
			byUser = e
		}
	}
	if byUser == nil || byUser.Resolution.Answer != "poem.md" || byUser.Resolution.Decision != "poem.md" {
		t.Fatalf("no escalation resolved by the user with poem.md: %+v", byUser)
	}
	if n := len(ofType(events, orchestrator.EventEscalationResolved)); n != 2 {
		t.Errorf("%d escalations resolved, want the worker's and the lead's", n)
	}
	// What the worker was shown after its escalation.
	shown := false
	for _, req := range worker.Requests() {
		for _, m := range req.Messages {
			if m.Role == model.RoleTool && strings.Contains(m.Content, "Answer from user: poem.md") {
				shown = true
			}
		}
	}
	if !shown {
		t.Error("the worker was never shown the user's answer")
	}
	if _, err := os.Stat(filepath.Join(dir, "workspace", "poem.md")); err != nil {
		t.Errorf("the worker did not act on the answer: %v", err)
	}
	for _, e := range ofType(events, orchestrator.EventAlignmentJudged) {
		if e.Parent == "" && (e.Alignment == nil || e.Alignment.By != "user") {
			t.Errorf("the lead's acceptance was judged by %+v, want the user", e.Alignment)
		}
	}
}

// TestE2EBadTeamFile: a typo in the team file is a configuration error,
// named by file, line and field, before any model is called.
func TestE2EBadTeamFile(t *testing.T) {
	dir := t.TempDir()
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Text("should not be called")
	}})
	writeFile(t, filepath.Join(dir, "team.yaml"), strings.Replace(twoTeam, "delegates_to: [worker]", "delegates_to: [wrker]", 1))
	r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "Write a note")
	if r.code != 2 {
		t.Fatalf("%s", r)
	}
	if !strings.Contains(r.stderr, `team.yaml:6: agents[0].delegates_to: unknown agent "wrker"`) {
		t.Errorf("stderr does not name the file, line and field:\n%s", r.stderr)
	}
	if srv.Count() != 0 {
		t.Errorf("%d model calls before the error", srv.Count())
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Error("a journal was started for a run that never began")
	}

	// An unknown field, too.
	writeFile(t, filepath.Join(dir, "team.yaml"), twoTeam+"    colour: red\n")
	r = runBinary(t, dir, "", "--team", "team.yaml", "Write a note")
	if r.code != 2 || !strings.Contains(r.stderr, `team.yaml:11: agents[1].colour: unknown field "colour"`) {
		t.Errorf("%s", r)
	}
}

// TestE2EInterrupt: SIGINT mid-run cancels cleanly: exit 130, and the journal
// is complete, ending with run.finished.
func TestE2EInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on Windows")
	}
	dir := t.TempDir()
	models := map[string]model.Model{}
	for _, n := range []string{"lead-model", "writer-model", "reviewer-model"} {
		models[n] = sim.New(n, nil)
	}
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, models), Latency: 400 * time.Millisecond})
	writeFile(t, filepath.Join(dir, "team.yaml"), threeTeam)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, out, errb := command(ctx, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--journal", "run.jsonl", "Write a note")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the run is mid-flight: a model call is in progress.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Count() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n--- stdout\n%s--- stderr\n%s", err, out, errb)
	}
	events := readJournal(t, filepath.Join(dir, "run.jsonl"))
	checkComplete(t, events)
	fin := events[len(events)-1]
	if fin.Status != orchestrator.StatusFailed || !strings.Contains(fin.Reason, "cancel") {
		t.Errorf("run finished %s: %s", fin.Status, fin.Reason)
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("stdout:\n%s", out)
	}
}

// TestE2EPathEscapeRefused: a write outside the workspace is refused as a
// tool error the model sees, and nothing is written outside.
func TestE2EPathEscapeRefused(t *testing.T) {
	dir := t.TempDir()
	worker := (&bot{criteria: 1, plan: []func(*model.Request) model.ToolCall{
		func(*model.Request) model.ToolCall {
			return model.Call("write_file", map[string]string{"path": "../x", "content": "escaped"})
		},
		func(*model.Request) model.ToolCall {
			return model.Call("write_file", map[string]string{"path": "inside.txt", "content": "fine"})
		},
	}}).model("worker-model")
	lead := (&bot{plan: []func(*model.Request) model.ToolCall{delegateNote}}).model("lead-model")
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, map[string]model.Model{"lead-model": lead, "worker-model": worker})})
	writeFile(t, filepath.Join(dir, "team.yaml"), twoTeam)

	r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", srv.URL, "--workspace", "ws", "--journal", "run.jsonl", "Write a note")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	events := r.journal(t, "run.jsonl")
	checkComplete(t, events)
	refused := false
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		if e.Tool == "write_file" && e.IsError && strings.Contains(e.Result, "escapes the workspace") {
			refused = true
		}
	}
	if !refused {
		t.Error("no tool.result refusing ../x")
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a file was written outside the workspace")
	}
	if _, err := os.Stat(filepath.Join(dir, "ws", "inside.txt")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(r.stdout, "tool write_file failed: path \"../x\" escapes the workspace") {
		t.Errorf("the view did not show the refusal:\n%s", r.stdout)
	}
}

// TestE2EOfflineDefault: no flags, no endpoint, a fresh directory: the
// built-in team runs on the simulator, says so, and completes.
func TestE2EOfflineDefault(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, "", "Write a haiku about delegation")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	if !strings.Contains(r.stderr, "offline simulator") || !strings.Contains(r.stderr, "--base-url") {
		t.Errorf("the simulator is not announced:\n%s", r.stderr)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "workspace"))
	if len(entries) == 0 {
		t.Errorf("nothing written to ./workspace\n%s", r)
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "runs", "*.jsonl"))
	if len(journals) != 1 {
		t.Fatalf("journals %v", journals)
	}
	checkComplete(t, readJournal(t, journals[0]))
	if !strings.Contains(r.stderr, "journal: "+filepath.Join("runs", filepath.Base(journals[0]))) {
		t.Errorf("the journal path is not printed:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs", "trust.json")); err != nil {
		t.Errorf("the trust ledger was not saved: %v", err)
	}
	// run trust shows each agent beside the model it earned its trust on.
	tr := runBinary(t, dir, "", "trust")
	if tr.code != 0 || !strings.Contains(tr.stdout, "MODEL") || !strings.Contains(tr.stdout, " sim/sim ") {
		t.Errorf("run trust:\n%s", tr)
	}
}

// TestE2EJSONStream: --json streams the events on stdout, one a line.
func TestE2EJSONStream(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, "", "--json", "--journal", "j.jsonl", "Write a haiku")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, l := range lines {
		var e orchestrator.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Type == "" {
			t.Fatalf("stdout line is not an event: %q (%v)", l, err)
		}
	}
	if got, want := len(lines), len(r.journal(t, "j.jsonl")); got != want {
		t.Errorf("%d events on stdout, %d in the journal", got, want)
	}
}

// TestE2ESecretsNeverPrinted: an endpoint that echoes the credential in its
// error bodies, with a key in --api-key and a password in --base-url, leaves
// neither in the journal, the log (at debug), stdout, stderr or the replay.
func TestE2ESecretsNeverPrinted(t *testing.T) {
	const key, pw = "sk-e2e-KEY-0123456789", "sk-e2e-PASSWORD-0123456789"
	dir := t.TempDir()
	n := 0
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
		n++
		if n%2 == 1 {
			return openaitest.Error(500, "upstream said: "+r.Header.Get("Authorization")+" via "+pw)
		}
		return openaitest.Error(401, openaitest.ErrorBody("Incorrect API key provided: "+key+" ("+pw+")", "invalid_request_error", key))
	}})
	base := strings.Replace(srv.URL, "://", "://user:"+pw+"@", 1)
	r := runBinary(t, dir, "", "--base-url", base, "--api-key", key, "--model", "m", "--log-level", "debug",
		"--journal", "run.jsonl", "Write a note")
	journal, err := os.ReadFile(filepath.Join(dir, "run.jsonl"))
	if err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	replay := runBinary(t, dir, "", "replay", "run.jsonl")
	for name, text := range map[string]string{"stdout": r.stdout, "stderr": r.stderr, "journal": string(journal),
		"replay": replay.stdout + replay.stderr} {
		if strings.Contains(text, key) || strings.Contains(text, pw) {
			t.Errorf("%s shows a secret:\n%s", name, text)
		}
	}
	if !strings.Contains(string(journal), "[REDACTED]") {
		t.Errorf("the journal does not show the server's errors, redacted:\n%s", journal)
	}
}

// TestE2ECallTimeout: an endpoint that accepts the connection and never
// answers cannot hang the run: each attempt ends at --call-timeout, and
// when the last one does the run stops as when the endpoint is down (exit
// 2, a journal left to resume).
func TestE2ECallTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	dir := t.TempDir()
	r := runBinary(t, dir, "", "--base-url", "http://"+ln.Addr().String()+"/v1", "--model", "m", "--call-timeout", "20ms",
		"--journal", "run.jsonl", "Write a note")
	if r.code != 2 || !strings.Contains(r.stderr, "kept failing model m's call: model: attempt timed out after 20ms, 4 attempts") ||
		!strings.Contains(r.stderr, "run resume run.jsonl once it answers again") {
		t.Fatalf("%s", r)
	}
	for _, e := range r.journal(t, "run.jsonl") {
		if e.Type == orchestrator.EventRunFinished || e.Type.Terminal() {
			t.Fatalf("the journal records %s: the run cannot be resumed from it", e.Type)
		}
	}
}

// TestE2EVerifyAndNamedFiles: offline, the simulator writes the file the
// criterion names, so "notes.md sums up the meeting" and --verify
// exists:notes.md pass; a --verify on a file no one writes fails the run;
// a malformed --verify is a usage error before anything runs.
func TestE2EVerifyAndNamedFiles(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, "", "--escalations", "auto", "--criteria", "notes.md sums up the meeting",
		"--verify", "exists:notes.md", "--verify", `matches:notes.md:sums up the meeting`, "Write notes.md")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "completed and verified") {
		t.Fatalf("%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "workspace", "notes.md")); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, dir, "", "--escalations", "auto", "--verify", "exists:minutes.md", "--journal", "two.jsonl", "Write notes.md")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "minutes.md does not exist") {
		t.Fatalf("%s", r)
	}
	r = runBinary(t, dir, "", "--verify", "matches:notes.md", "Write notes.md")
	if r.code != 2 || !strings.Contains(r.stderr, "--verify") {
		t.Fatalf("%s", r)
	}
	// The simulator writes the first file the criterion names; the second
	// is missing, which fails the run unless the named-file checks are off.
	linked := []string{"--escalations", "auto", "--criteria", "toc.md links to chapter-one.md", "Write the table of contents"}
	r = runBinary(t, dir, "", append([]string{"--journal", "three.jsonl"}, linked...)...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "chapter-one.md does not exist") {
		t.Fatalf("%s", r)
	}
	r = runBinary(t, dir, "", append([]string{"--journal", "four.jsonl", "--no-file-checks"}, linked...)...)
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
}

// An agent whose first model's endpoint is down fails over to the next,
// each at its own endpoint: the run completes on the healthy one, and the
// journal says so.
func TestE2EModelFailover(t *testing.T) {
	dir := t.TempDir()
	healthy := openaitest.NewServer(t, &openaitest.Options{Handler: byModel(t, map[string]model.Model{"lead-model": sim.New("lead-model", nil)})})
	down := openaitest.NewServer(t, nil)
	down.Close() // connection refused
	writeFile(t, filepath.Join(dir, "team.yaml"), `lead: lead
agents:
  - name: lead
    role: Writes short notes in the workspace.
    model:
      - {name: down-model, base_url: "`+down.URL+`"}
      - {name: lead-model, base_url: "`+healthy.URL+`"}
    tools: [write_file, read_file, list_files]
`)
	r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", healthy.URL, "--journal", "run.jsonl",
		"--criteria", "a note about delegation is in the workspace", "Write a short note about delegation")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	events := r.journal(t, "run.jsonl")
	checkComplete(t, events)
	fos := ofType(events, orchestrator.EventModelFailover)
	calls := ofType(events, orchestrator.EventModelCalled)
	if len(fos) == 0 || len(fos) != len(calls) {
		t.Fatalf("%d failovers for %d model calls", len(fos), len(calls))
	}
	for _, e := range fos {
		if e.Model != "down-model" || e.Fallback != "lead-model" {
			t.Errorf("failover %s → %s", e.Model, e.Fallback)
		}
	}
	for _, e := range calls {
		if e.Model != "lead-model" || e.Error != "" {
			t.Errorf("model.called names %s (error %q)", e.Model, e.Error)
		}
	}
	if !strings.Contains(r.stdout, "failed over to lead-model") {
		t.Errorf("stdout does not show the failover:\n%s", r.stdout)
	}
}
