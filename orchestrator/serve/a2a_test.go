package serve_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2aclient"
	"github.com/a2aproject/a2a-go/a2aclient/agentcard"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/orchestrator/serve"
)

// serveA2A serves a team over A2A on loopback and returns a client made
// from its agent card.
func serveA2A(t *testing.T, tm *team) (*serve.A2AServer, *a2aclient.Client, string) {
	t.Helper()
	return serveA2AWith(t, tm.run, &serve.A2AOptions{})
}

// serveA2AWith serves run with o (whose name, description and URL it sets).
func serveA2AWith(t *testing.T, run serve.Runner, o *serve.A2AOptions) (*serve.A2AServer, *a2aclient.Client, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	o.Name, o.Description, o.URL = "haiku team", "Writes haiku.", url+"/"
	s := serve.NewA2AServer(run, o)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	ts.Start()
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	card, err := agentcard.DefaultResolver.Resolve(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a2aclient.NewFromCard(t.Context(), card)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, url
}

func send(t *testing.T, c *a2aclient.Client, msg *a2a.Message) *a2a.Task {
	t.Helper()
	res, err := c.SendMessage(t.Context(), &a2a.MessageSendParams{Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	task, ok := res.(*a2a.Task)
	if !ok {
		t.Fatalf("result = %T %+v, want a task", res, res)
	}
	return task
}

func text(m *a2a.Message) string {
	if m == nil {
		return ""
	}
	var out []string
	for _, p := range m.Parts {
		if tp, ok := p.(a2a.TextPart); ok {
			out = append(out, tp.Text)
		}
	}
	return strings.Join(out, "\n")
}

func dataOf(parts a2a.ContentParts) map[string]any {
	for _, p := range parts {
		if dp, ok := p.(a2a.DataPart); ok {
			return dp.Data
		}
	}
	return nil
}

func TestA2ACard(t *testing.T) {
	_, _, url := serveA2A(t, newTeam(t, sim.Default))
	resp, err := http.Get(url + "/.well-known/agent-card.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var card a2a.AgentCard
	if err := json.NewDecoder(resp.Body).Decode(&card); err != nil {
		t.Fatal(err)
	}
	if card.Name != "haiku team" || card.Description != "Writes haiku." || len(card.Skills) != 1 || !card.Capabilities.Streaming ||
		card.URL != url+"/" || card.PreferredTransport != a2a.TransportProtocolJSONRPC {
		t.Errorf("card = %+v", card)
	}
}

func TestA2ACompletedWithAnArtifact(t *testing.T) {
	tm := newTeam(t, sim.Default)
	_, c, _ := serveA2A(t, tm)
	msg := a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"},
		a2a.DataPart{Data: map[string]any{"criteria": []any{"a haiku about delegation is in the workspace"}}})
	task := send(t, c, msg)
	if task.Status.State != a2a.TaskStateCompleted || len(task.Artifacts) != 1 {
		t.Fatalf("task = %s %+v", task.Status.State, task.Artifacts)
	}
	data := dataOf(task.Artifacts[0].Parts)
	crit, _ := data["criteria"].([]any)
	if data["status"] != "completed" || len(crit) != 1 || crit[0].(map[string]any)["met"] != true {
		t.Errorf("artifact data = %v", data)
	}
	finished(t, data["journal"].(string))
	if tm.ids[0] != string(task.ID) {
		t.Errorf("run id %s, task %s", tm.ids[0], task.ID)
	}
	got, err := c.GetTask(t.Context(), &a2a.TaskQueryParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateCompleted {
		t.Errorf("tasks/get = %+v, %v", got, err)
	}
}

func TestA2ARejectedWhenTheLeadDeclines(t *testing.T) {
	_, c, _ := serveA2A(t, newTeam(t, sim.Default))
	msg := a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"},
		a2a.DataPart{Data: map[string]any{"constraints": []any{"it must be impossible to read"}}})
	task := send(t, c, msg)
	if task.Status.State != a2a.TaskStateRejected {
		t.Fatalf("state = %s", task.Status.State)
	}
	if s := text(task.Status.Message); !strings.Contains(s, "declined") || !strings.Contains(s, "missing") {
		t.Errorf("status message = %q", s)
	}
}

func TestA2AInputRequiredAnsweredByTheNextMessage(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	_, c, _ := serveA2A(t, tm)
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state = %s", task.Status.State)
	}
	q := text(task.Status.Message)
	esc, _ := dataOf(task.Status.Message.Parts)["escalation"].(map[string]any)
	if !strings.Contains(q, "exactly as written") || esc == nil || esc["recommendation"] != "Yes, exactly as written" {
		t.Fatalf("question = %q %v", q, esc)
	}
	answer := a2a.NewMessageForTask(a2a.MessageRoleUser, task, a2a.TextPart{Text: "1"})
	task = send(t, c, answer)
	if task.Status.State != a2a.TaskStateCompleted {
		t.Fatalf("state after the answer = %s: %s", task.Status.State, text(task.Status.Message))
	}
	rs := resolutions(finished(t, filepath.Join(tm.dir, "runs", tm.ids[0]+".jsonl")))
	if len(rs) == 0 || rs[0]["answer"] != "Yes, exactly as written" || rs[0]["by"] != "user" {
		t.Errorf("resolutions = %v", rs)
	}
}

func TestA2ACancel(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	_, c, _ := serveA2A(t, tm)
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state = %s", task.Status.State)
	}
	got, err := c.CancelTask(t.Context(), &a2a.TaskIDParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateCanceled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	finished(t, filepath.Join(tm.dir, "runs", tm.ids[0]+".jsonl"))
}

func TestA2AStream(t *testing.T) {
	_, c, _ := serveA2A(t, newTeam(t, sim.Default))
	var states, progress []string
	artifacts := 0
	for ev, err := range c.SendStreamingMessage(t.Context(), &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"})}) {
		if err != nil {
			t.Fatal(err)
		}
		switch ev := ev.(type) {
		case *a2a.Task:
			states = append(states, string(ev.Status.State))
		case *a2a.TaskStatusUpdateEvent:
			states = append(states, string(ev.Status.State))
			progress = append(progress, text(ev.Status.Message))
		case *a2a.TaskArtifactUpdateEvent:
			artifacts++
		}
	}
	if got := strings.Join(states, " "); !strings.HasPrefix(got, "submitted working") || !strings.HasSuffix(got, "working completed") || artifacts != 1 {
		t.Errorf("states %q, artifacts %d", got, artifacts)
	}
	if got := strings.Join(progress, "\n"); !strings.Contains(got, "d1 lead: goal.accepted") || !strings.Contains(got, "d1 lead: goal.completed") {
		t.Errorf("progress messages:\n%s", got)
	}
}

func TestA2AConcurrentTasksHaveTheirOwnRuns(t *testing.T) {
	tm := newTeam(t, sim.Default)
	_, c, _ := serveA2A(t, tm)
	var wg sync.WaitGroup
	journals := make([]string, 3)
	for i := range journals {
		wg.Go(func() {
			task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
			if task.Status.State == a2a.TaskStateCompleted {
				journals[i], _ = dataOf(task.Artifacts[0].Parts)["journal"].(string)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, j := range journals {
		if j == "" || seen[j] {
			t.Fatalf("journals = %v", journals)
		}
		seen[j] = true
		finished(t, j)
	}
}

// Close cancels a task that waits for an answer: its journal ends.
func TestA2ACloseEndsRuns(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	s, c, _ := serveA2A(t, tm)
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state = %s", task.Status.State)
	}
	s.Close()
	finished(t, filepath.Join(tm.dir, "runs", tm.ids[0]+".jsonl"))
}

// tasks/cancel of a task at work cancels its run, whose journal ends.
func TestA2ACancelWhileWorking(t *testing.T) {
	st := newStuckTeam(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := serve.NewA2AServer(st.run, nil)
	ts := &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	ts.Start()
	defer ts.Close()
	defer s.Close()
	c, err := a2aclient.NewFromEndpoints(t.Context(), []a2a.AgentInterface{{URL: ts.URL, Transport: a2a.TransportProtocolJSONRPC}})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	res, err := c.SendMessage(t.Context(), &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Think"}),
		Config: &a2a.MessageSendConfig{Blocking: &no}})
	if err != nil {
		t.Fatal(err)
	}
	task := res.(*a2a.Task)
	id := <-st.started
	got, err := c.CancelTask(t.Context(), &a2a.TaskIDParams{ID: task.ID})
	if err != nil || got.Status.State != a2a.TaskStateCanceled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	ev := finished(t, filepath.Join(st.dir, "runs", id+".jsonl"))
	if last := ev[len(ev)-1]; last["status"] != "failed" || !contains(last["reason"].(string), "cancel") {
		t.Errorf("run.finished = %v", last)
	}
}

// A server runs at most MaxRuns tasks at once; more are rejected.
func TestA2AMaxRuns(t *testing.T) {
	st := newStuckTeam(t)
	s := serve.NewA2AServer(st.run, &serve.A2AOptions{MaxRuns: 1})
	ts := httptest.NewServer(s)
	defer ts.Close()
	defer s.Close()
	c, err := a2aclient.NewFromEndpoints(t.Context(), []a2a.AgentInterface{{URL: ts.URL, Transport: a2a.TransportProtocolJSONRPC}})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	if _, err := c.SendMessage(t.Context(), &a2a.MessageSendParams{Message: a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Think"}),
		Config: &a2a.MessageSendConfig{Blocking: &no}}); err != nil {
		t.Fatal(err)
	}
	<-st.started
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Think again"}))
	if task.Status.State != a2a.TaskStateRejected || !strings.Contains(text(task.Status.Message), "try again later") {
		t.Errorf("second task: %s %q", task.Status.State, text(task.Status.Message))
	}
}

// A message without text is no goal: the task is rejected, nothing runs.
func TestA2ARejectsAMessageWithoutAGoal(t *testing.T) {
	tm := newTeam(t, sim.Default)
	_, c, _ := serveA2A(t, tm)
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.DataPart{Data: map[string]any{"criteria": []any{"x"}}}))
	if task.Status.State != a2a.TaskStateRejected || !strings.Contains(text(task.Status.Message), "no goal") {
		t.Errorf("task: %s %q", task.Status.State, text(task.Status.Message))
	}
	task = send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write"}, a2a.DataPart{Data: map[string]any{"criteria": "not a list"}}))
	if task.Status.State != a2a.TaskStateRejected || !strings.Contains(text(task.Status.Message), "list of strings") {
		t.Errorf("task: %s %q", task.Status.State, text(task.Status.Message))
	}
	if len(tm.ids) != 0 {
		t.Errorf("runs started: %v", tm.ids)
	}
}

// With ConfirmAcceptance the lead's acceptance is a question of kind
// acceptance; the lead starts once the client says yes.
func TestA2AConfirmAcceptance(t *testing.T) {
	tm := newTeam(t, sim.Default)
	_, c, _ := serveA2AWith(t, tm.run, &serve.A2AOptions{ConfirmAcceptance: true})
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	esc, _ := dataOf(task.Status.Message.Parts)["escalation"].(map[string]any)
	if task.Status.State != a2a.TaskStateInputRequired || esc == nil || esc["kind"] != "acceptance" || !strings.Contains(text(task.Status.Message), "accepted your goal as") {
		t.Fatalf("state %s, question %q %v", task.Status.State, text(task.Status.Message), esc)
	}
	task = send(t, c, a2a.NewMessageForTask(a2a.MessageRoleUser, task, a2a.TextPart{Text: "1"}))
	if task.Status.State != a2a.TaskStateCompleted {
		t.Fatalf("state after the confirmation = %s: %s", task.Status.State, text(task.Status.Message))
	}
	for _, e := range finished(t, filepath.Join(tm.dir, "runs", tm.ids[0]+".jsonl")) {
		if e["type"] == "alignment.judged" && e["parent"] == nil {
			if al := e["alignment"].(map[string]any); al["by"] != "user" || al["aligned"] != true {
				t.Errorf("alignment.judged = %v", e)
			}
		}
	}
}

// A task left input-required past the idle timeout ends its run, whose
// journal says why; a later answer finds no run.
func TestA2AIdleTaskExpires(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	run, ended := tellingEnds(tm)
	_, c, _ := serveA2AWith(t, run, &serve.A2AOptions{IdleTimeout: time.Millisecond})
	task := send(t, c, a2a.NewMessage(a2a.MessageRoleUser, a2a.TextPart{Text: "Write a haiku about delegation"}))
	if task.Status.State != a2a.TaskStateInputRequired {
		t.Fatalf("state = %s", task.Status.State)
	}
	id := <-ended
	ev := finished(t, filepath.Join(tm.dir, "runs", id+".jsonl"))
	if last := ev[len(ev)-1]; !contains(last["reason"].(string), "did not answer the team's question in time") {
		t.Errorf("run.finished = %v", last)
	}
}
