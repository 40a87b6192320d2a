package serve_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/serve"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// connect serves s in memory and returns a client session.
func connect(t *testing.T, s *serve.MCPServer, copts *mcp.ClientOptions, version string) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	var so *mcp.ClientSessionOptions
	if version != "" {
		so = &mcp.ClientSessionOptions{ProtocolVersion: version}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, copts).Connect(t.Context(), ct, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func output(t *testing.T, res *mcp.CallToolResult) serve.Output {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out serve.Output
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
	return out
}

func TestMCPRunGoalCompletes(t *testing.T) {
	tm := newTeam(t, sim.Default)
	s := serve.NewMCPServer(tm.run, nil)
	defer s.Close()
	progress := make(chan string, 1000)
	cs := connect(t, s, &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
		progress <- r.Params.Message
	}}, "")

	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 1 || tools.Tools[0].Name != serve.ToolRunGoal {
		t.Fatalf("tools = %+v, %v", tools, err)
	}
	params := &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{
		"goal": "Write a haiku about delegation", "criteria": []string{"a haiku about delegation is in the workspace"},
	}}
	params.SetProgressToken("run-1")
	res, err := cs.CallTool(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("isError: %+v", res.Content)
	}
	out := output(t, res)
	if out.Status != "completed" || out.Result == "" || len(out.Criteria) != 1 || !out.Criteria[0].Met {
		t.Errorf("output = %+v", out)
	}
	finished(t, out.Journal)
	if text := res.Content[0].(*mcp.TextContent).Text; !strings.Contains(text, "completed") || !strings.Contains(text, out.Journal) {
		t.Errorf("text = %q", text)
	}
	// Notifications may be handled after the result: wait for the last.
	var seen []string
	for !slices.ContainsFunc(seen, func(m string) bool { return strings.Contains(m, "run.finished") }) {
		select {
		case m := <-progress:
			seen = append(seen, m)
		case <-time.After(10 * time.Second):
			t.Fatalf("progress = %q, want events up to run.finished", seen)
		}
	}
	if !slices.ContainsFunc(seen, func(m string) bool { return strings.Contains(m, "goal.accepted") }) {
		t.Errorf("progress = %q", seen)
	}
}

func TestMCPRunGoalDeclined(t *testing.T) {
	tm := newTeam(t, sim.Default)
	s := serve.NewMCPServer(tm.run, nil)
	defer s.Close()
	cs := connect(t, s, nil, "")
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{
		"goal": "Write a haiku about delegation", "constraints": []string{"it must be impossible to read"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := output(t, res)
	if res.IsError || out.Status != "declined" || out.Reason == "" || len(out.Missing) == 0 {
		t.Errorf("isError %v, output %+v", res.IsError, out)
	}
}

func TestMCPRunGoalRefusesAnEmptyGoal(t *testing.T) {
	tm := newTeam(t, sim.Default)
	s := serve.NewMCPServer(tm.run, nil)
	defer s.Close()
	cs := connect(t, s, nil, "")
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "  "}})
	if err == nil || !strings.Contains(err.Error(), "no goal") {
		t.Errorf("err = %v", err)
	}
	if len(tm.ids) != 0 {
		t.Errorf("a run started for an empty goal")
	}
}

// The over-asker lead asks before accepting; the client's user answers
// through elicitation, on the current protocol (input requests) and on an
// older one (a request from the server).
func TestMCPEscalationAnsweredByElicitation(t *testing.T) {
	for _, version := range []string{"", "2025-11-25"} {
		t.Run("protocol "+version, func(t *testing.T) {
			tm := newTeam(t, sim.OverAsker)
			s := serve.NewMCPServer(tm.run, nil)
			defer s.Close()
			var asked []*mcp.ElicitParams
			cs := connect(t, s, &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				asked = append(asked, r.Params)
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"choice": "Yes, exactly as written"}}, nil
			}}, version)
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
			if err != nil {
				t.Fatal(err)
			}
			out := output(t, res)
			if out.Status != "completed" {
				t.Fatalf("output = %+v", out)
			}
			if len(asked) == 0 {
				t.Fatal("no elicitation")
			}
			schema, _ := json.Marshal(asked[0].RequestedSchema)
			if !strings.Contains(asked[0].Message, "exactly as written") || !strings.Contains(string(schema), `"enum":["Yes, exactly as written","No, I will rephrase it"]`) ||
				!strings.Contains(string(schema), `"default":"Yes, exactly as written"`) {
				t.Errorf("elicitation = %q %s", asked[0].Message, schema)
			}
			rs := resolutions(finished(t, out.Journal))
			if len(rs) == 0 || rs[0]["answer"] != "Yes, exactly as written" || rs[0]["by"] != "user" {
				t.Errorf("resolutions = %v", rs)
			}
		})
	}
}

func TestMCPDeclinedElicitationIsARefusal(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	s := serve.NewMCPServer(tm.run, nil)
	defer s.Close()
	cs := connect(t, s, &mcp.ClientOptions{ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}}, "")
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
	if err != nil {
		t.Fatal(err)
	}
	rs := resolutions(finished(t, output(t, res).Journal))
	if len(rs) == 0 || rs[0]["refused"] != true {
		t.Errorf("resolutions = %v", rs)
	}
}

// A client without elicitation gets the --escalations policy.
func TestMCPEscalationWithoutElicitationFollowsThePolicy(t *testing.T) {
	for _, tc := range []struct {
		policy  orchestrator.Principal
		refused bool
	}{{orchestrator.AutoPrincipal{}, false}, {nil, true}} {
		tm := newTeam(t, sim.OverAsker)
		s := serve.NewMCPServer(tm.run, &serve.MCPOptions{Escalations: tc.policy})
		cs := connect(t, s, nil, "")
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
		if err != nil {
			t.Fatal(err)
		}
		rs := resolutions(finished(t, output(t, res).Journal))
		if len(rs) == 0 || rs[0]["by"] != "policy" || (rs[0]["refused"] == true) != tc.refused {
			t.Errorf("policy %T: resolutions = %v", tc.policy, rs)
		}
		s.Close()
	}
}

// Close ends a run that waits for the client: its journal still ends.
func TestMCPCloseEndsWaitingRuns(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	s := serve.NewMCPServer(tm.run, nil)
	asked := make(chan struct{})
	cs := connect(t, s, &mcp.ClientOptions{ElicitationHandler: func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		close(asked)
		<-ctx.Done()
		return nil, ctx.Err()
	}}, "2025-11-25")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go cs.CallTool(ctx, &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
	<-asked
	s.Close()
	cancel()
	if len(tm.ids) != 1 {
		t.Fatalf("runs = %v", tm.ids)
	}
	finished(t, tm.dir+"/runs/"+tm.ids[0]+".jsonl")
}

// A client that cancels its call cancels the run.
func TestMCPCancelledCallEndsTheRun(t *testing.T) {
	st := newStuckTeam(t)
	s := serve.NewMCPServer(st.run, nil)
	defer s.Close()
	cs := connect(t, s, nil, "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Think"}})
		done <- err
	}()
	id := <-st.started
	cancel()
	if err := <-done; err == nil {
		t.Error("the cancelled call returned no error")
	}
	if ended := <-st.ended; ended != id {
		t.Fatalf("run %s ended, want %s", ended, id)
	}
	ev := finished(t, filepath.Join(st.dir, "runs", id+".jsonl"))
	if last := ev[len(ev)-1]; last["status"] != "failed" {
		t.Errorf("run.finished = %v", last)
	}
}

// A server runs at most MaxRuns goals at once; more calls are refused.
func TestMCPMaxRuns(t *testing.T) {
	st := newStuckTeam(t)
	s := serve.NewMCPServer(st.run, &serve.MCPOptions{MaxRuns: 1})
	defer s.Close()
	cs := connect(t, s, nil, "")
	go cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Think"}})
	<-st.started
	_, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Think again"}})
	if err == nil || !strings.Contains(err.Error(), "try again later") {
		t.Errorf("second call: %v", err)
	}
}

// A run whose question the client leaves unanswered past the idle timeout
// ends, and its journal says why: it holds none of MaxRuns' places for ever.
func TestMCPIdleRunExpires(t *testing.T) {
	tm := newTeam(t, sim.OverAsker)
	run, ended := tellingEnds(tm)
	s := serve.NewMCPServer(run, &serve.MCPOptions{IdleTimeout: time.Millisecond, MaxRuns: 1})
	defer s.Close()
	cs := connect(t, s, &mcp.ClientOptions{ElicitationHandler: func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		<-ctx.Done() // the client's user never answers
		return nil, ctx.Err()
	}}, "2025-11-25")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go cs.CallTool(ctx, &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
	id := <-ended
	ev := finished(t, filepath.Join(tm.dir, "runs", id+".jsonl"))
	if last := ev[len(ev)-1]; !contains(last["reason"].(string), "did not answer the team's question in time") {
		t.Errorf("run.finished = %v", last)
	}
}

// With ConfirmAcceptance the lead's acceptance is put to the client's user:
// confirmed, the lead starts; not confirmed, it never acts.
func TestMCPConfirmAcceptance(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content map[string]any
		status  string
	}{
		{"confirmed", map[string]any{"choice": "Yes, that is what I mean"}, "completed"},
		{"corrected every time", map[string]any{"answer": "No: a limerick, not a haiku"}, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm := newTeam(t, sim.Default)
			s := serve.NewMCPServer(tm.run, &serve.MCPOptions{ConfirmAcceptance: true})
			defer s.Close()
			var asked []string
			cs := connect(t, s, &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				asked = append(asked, r.Params.Message)
				return &mcp.ElicitResult{Action: "accept", Content: tc.content}, nil
			}}, "")
			res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Write a haiku about delegation"}})
			if err != nil {
				t.Fatal(err)
			}
			out := output(t, res)
			if out.Status != tc.status {
				t.Fatalf("output = %+v", out)
			}
			if len(asked) == 0 || !contains(asked[0], "accepted your goal as") || !contains(asked[0], "Is this what you mean?") {
				t.Fatalf("asked %q", asked)
			}
			var judged, acted int
			for _, e := range finished(t, out.Journal) {
				switch e["type"] {
				case "alignment.judged":
					if e["parent"] == nil {
						judged++
						al := e["alignment"].(map[string]any)
						if al["by"] != "user" || (al["aligned"] == true) != (tc.status == "completed") {
							t.Errorf("alignment.judged = %v", e)
						}
					}
				case "tool.called":
					if e["tool"] == "write_file" {
						acted++
					}
				}
			}
			if judged == 0 || judged != len(asked) {
				t.Errorf("%d judgements for %d questions", judged, len(asked))
			}
			if tc.status != "completed" && acted > 0 {
				t.Errorf("the lead acted %d times without a confirmed acceptance", acted)
			}
		})
	}
}

// stalledTransport is the server's side of an in-memory connection whose
// client stops reading progress after the first notification, until
// release is closed: a client that fell behind.
type stalledTransport struct {
	mcp.Transport
	release <-chan struct{}
}

func (s stalledTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := s.Transport.Connect(ctx)
	return &stalledConn{Connection: c, release: s.release}, err
}

type stalledConn struct {
	mcp.Connection
	release <-chan struct{}
	n       atomic.Int64
}

func (c *stalledConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if r, ok := msg.(*jsonrpc.Request); ok && r.Method == "notifications/progress" && c.n.Add(1) > 1 {
		<-c.release
	}
	return c.Connection.Write(ctx, msg)
}

// A client that falls more than MaxBacklog events behind misses the oldest,
// and is told so in its progress stream: a notification before the next
// event says how many were dropped and names the journal that holds them,
// and the progress counts them, so it still ends at the run's number of
// events.
func TestMCPProgressTellsOfEventsDropped(t *testing.T) {
	const n = 3 * serve.MaxBacklog
	emitted := make(chan struct{})
	s := serve.NewMCPServer(func(ctx context.Context, req *serve.Request) (*serve.Result, error) {
		req.SetJournal("/runs/r.jsonl")
		for i := range n {
			req.Sink.Emit(ctx, &orchestrator.Event{Seq: int64(i + 1), Type: orchestrator.EventModelCalled})
		}
		close(emitted)
		return &serve.Result{Journal: "/runs/r.jsonl"}, nil
	}, nil)
	defer s.Close()
	type note struct {
		progress float64
		message  string
	}
	notes := make(chan note, n)
	ct, st := mcp.NewInMemoryTransports()
	ss, err := s.Connect(t.Context(), stalledTransport{Transport: st, release: emitted}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test"}, &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
		notes <- note{r.Params.Progress, r.Params.Message}
	}}).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	params := &mcp.CallToolParams{Name: serve.ToolRunGoal, Arguments: map[string]any{"goal": "Emit many events"}}
	params.SetProgressToken("run-1")
	if _, err := cs.CallTool(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	dropped := regexp.MustCompile(`^(\d+) of the run's events were dropped unsent .*: the run's journal holds every event: /runs/r\.jsonl$`)
	last, events, told := 0.0, 0, 0
	for last < n {
		select {
		case m := <-notes:
			if m.progress <= last {
				t.Fatalf("progress %v after %v", m.progress, last)
			}
			if g := dropped.FindStringSubmatch(m.message); g != nil {
				k, _ := strconv.Atoi(g[1])
				told += k
				if m.progress != last+float64(k) {
					t.Errorf("told of %d dropped, progress %v after %v", k, m.progress, last)
				}
			} else {
				events++
				if m.progress != last+1 {
					t.Errorf("an event's progress %v after %v: %q", m.progress, last, m.message)
				}
			}
			last = m.progress
		case <-time.After(10 * time.Second):
			t.Fatalf("progress stopped at %v of %d", last, n)
		}
	}
	if told == 0 || events+told != n {
		t.Errorf("%d events sent and %d told as dropped, of %d", events, told, n)
	}
}
