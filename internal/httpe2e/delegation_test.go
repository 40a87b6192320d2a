package httpe2e

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

var (
	rootGoal = agents.Goal{Intent: "keep the team informed", Objective: "publish a summary of the incident",
		Criteria: []string{"the summary is published"}, Constraints: []string{"no customer names"}}
	subGoal = agents.Goal{Intent: "the team learns what happened", Objective: "write the incident summary",
		Criteria: []string{"a note holds the summary"}, Constraints: []string{"at most 200 words"}}
)

const (
	leadModel   = "lead-model"
	workerModel = "worker-model"
)

// TestDelegationOverHTTP runs a full delegation with every model behind the
// loopback server, through each provider wrapped in model.WithRetry: the lead
// accepts the user's goal and delegates to the worker; the lead's model
// judges the worker's acceptance, answers its escalation and verifies its
// report; the worker runs one action tool. The server fails the lead's second
// call with a 500, its judgement once with a 503 in plain text, and the
// worker's second call with a 429 whose Retry-After-Ms asks for 2 ms. The run
// must complete, with the retries, the usage the server reported and the
// outcome tree in the journal.
func TestDelegationOverHTTP(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			testDelegation(t, p)
		})
	}
}

func testDelegation(t *testing.T, p provider) {
	esc := agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "Should the summary name the on-call engineer?",
		Options: []string{"name them", "keep it anonymous"}, Recommendation: "keep it anonymous"}
	answer := agents.AnswerArgs{Answer: "Keep it anonymous: name roles, not people.", Decision: "keep it anonymous"}

	lead := &remote{name: leadModel, model: script(leadModel, 1000,
		calls(accept(rootGoal, "entrust the writing to worker", "publish what it reports")),
		calls(delegateTo("worker", subGoal, "note")),
		calls(model.Call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: true})),
		calls(model.Call(agents.ToolAnswerEscalation, answer)),
		calls(model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: agents.VerdictAccept})),
		calls(complete(rootGoal, "published", "d2")),
	), faults: map[int]fault{
		2: func(*openaitest.ChatRequest) openaitest.Reply {
			return openaitest.Error(http.StatusInternalServerError, openaitest.ErrorBody("The server had an error.", "server_error", ""))
		},
		4: func(*openaitest.ChatRequest) openaitest.Reply {
			return openaitest.Error(http.StatusServiceUnavailable, "upstream unavailable")
		},
	}}
	worker := &remote{name: workerModel, model: script(workerModel, 2000,
		calls(accept(subGoal, "write the summary with note")),
		calls(protocoltest.WithID("n1", note("summary: the cache expired; roles on call restored it"))),
		calls(model.Call(agents.ToolEscalate, esc)),
		calls(complete(subGoal, "the summary is in a note", "n1")),
	), faults: map[int]fault{
		2: func(*openaitest.ChatRequest) openaitest.Reply {
			r := openaitest.RateLimited("1")
			r.Header.Set("Retry-After-Ms", "2")
			return r
		},
	}}
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: route(lead, worker), Models: []string{leadModel, workerModel}})

	retrying := func(name string) model.Model {
		return model.WithRetry(p.build(t, srv, srv.Client(), name), &fastRetry)
	}
	var runs atomic.Int64
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads the incident review", Model: retrying(leadModel)}, DelegatesTo: []string{"worker"}},
		{Agent: &agents.Agent{Name: "worker", Role: "writes summaries", Model: retrying(workerModel), Tools: []agents.Tool{noteTool(t, &runs)}}},
	}}, &orchestrator.Options{RunID: "http-" + p.name, Sinks: []orchestrator.Sink{mem}, SupervisionFor: orchestrator.ModelAlways})
	if err != nil {
		t.Fatal(err)
	}

	out, err := rt.Run(t.Context(), rootGoal)
	events := mem.Events()
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, trace(events))
	}
	checkTerminals(t, events)

	// The retries: one per fault, attributed to the agent whose call failed
	// and the delegation it was working in (the lead judges as itself, in
	// its own delegation d1), each waiting what it should.
	type retry struct {
		Delegation, Parent, Agent string
		Attempt                   int
		WaitMS                    float64
		Status                    string
	}
	want := []retry{
		{"d1", "", "lead", 1, 0.5, "HTTP 500"},   // backoff: BaseDelay/2, no jitter
		{"d1", "", "lead", 1, 0.5, "HTTP 503"},   // during the judgement of d2
		{"d2", "d1", "worker", 1, 2, "HTTP 429"}, // Retry-After-Ms: 2 beats Retry-After: 1
	}
	var got []retry
	for _, e := range ofType(events, orchestrator.EventModelRetried) {
		status := ""
		if i := strings.Index(e.Error, "HTTP "); i >= 0 {
			status = e.Error[i : i+8]
		}
		got = append(got, retry{e.Delegation, e.Parent, e.Agent, e.Attempt, e.WaitMS, status})
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("model.retried:\n got %+v\nwant %+v\n%s", got, want, mustJSON(ofType(events, orchestrator.EventModelRetried)))
	}
	if e := ofType(events, orchestrator.EventModelRetried); len(e) == 3 && !strings.Contains(e[1].Error, "upstream unavailable") {
		t.Errorf("the plain-text error body is lost: %q", e[1].Error)
	}

	// Every model call: one model.called each, with the usage the server
	// reported for it, in order, and the provider's name.
	for _, c := range []struct {
		agent    string
		r        *remote
		purposes []string
		delegs   []string
	}{
		{"lead", lead, []string{"turn", "turn", "judge", "answer", "verify", "turn"}, []string{"d1", "d1", "d1", "d1", "d1", "d1"}},
		{"worker", worker, []string{"turn", "turn", "turn", "turn"}, []string{"d2", "d2", "d2", "d2"}},
	} {
		usage, purposes, evs := modelCalls(events, c.agent)
		if reported := c.r.reported(); !reflect.DeepEqual(usage, reported) {
			t.Errorf("%s: model.called usage %+v, the server reported %+v", c.agent, usage, reported)
		}
		if !slices.Equal(purposes, c.purposes) {
			t.Errorf("%s: purposes %v, want %v", c.agent, purposes, c.purposes)
		}
		for i, e := range evs {
			wantProvider := strings.TrimSuffix(p.name, "-stream")
			if e.Error != "" || e.Provider != wantProvider || e.Model != c.r.name || e.ResponseModel != "" || e.Delegation != c.delegs[i] {
				t.Errorf("%s: model.called %d: %s", c.agent, i, mustJSON(e))
			}
		}
	}
	leadUsage, workerUsage := sum(lead.reported()), sum(worker.reported())
	if workerUsage.CachedTokens == 0 {
		t.Error("no cached tokens came through")
	}

	// The outcome tree.
	if out.Status != orchestrator.StatusCompleted || out.Agent != "lead" || out.Delegator != "user" || len(out.Children) != 1 ||
		out.Alignment == nil || out.Alignment.By != "policy" || out.Steps != 3 || out.Usage != leadUsage || out.Report.Result != "published" {
		t.Fatalf("root outcome: %s", mustJSON(out))
	}
	w := out.Children[0]
	if w.Delegation != "d2" || w.Parent != "d1" || w.Agent != "worker" || w.Delegator != "lead" || w.Status != orchestrator.StatusCompleted ||
		w.AlignmentRounds != 1 || w.Alignment == nil || !w.Alignment.Aligned || w.Alignment.By != "lead" ||
		w.Verification == nil || w.Verification.Verdict != agents.VerdictAccept || w.Verification.By != "lead" ||
		w.Steps != 4 || w.Usage != workerUsage || w.Total != workerUsage || w.Violations != 0 {
		t.Fatalf("worker outcome: %s", mustJSON(w))
	}
	if len(w.Escalations) != 1 || w.Escalations[0].Resolution == nil || w.Escalations[0].Resolution.By != "lead" ||
		w.Escalations[0].Resolution.Answer != answer.Answer || w.Escalations[0].Escalation.Question != esc.Question {
		t.Fatalf("escalations: %s", mustJSON(w.Escalations))
	}
	if out.Total != leadUsage.Add(workerUsage) {
		t.Errorf("total %+v, want %+v", out.Total, leadUsage.Add(workerUsage))
	}
	if fin := ofType(events, orchestrator.EventRunFinished)[0]; fin.Total == nil || *fin.Total != out.Total || fin.Result != "published" {
		t.Errorf("run.finished: %s", mustJSON(fin))
	}

	// The journal alone rebuilds the same tree.
	re, err := orchestrator.Rebuild(events)
	if err != nil {
		t.Fatal(err)
	}
	if re.Usage != out.Usage || re.Total != out.Total || re.Steps != out.Steps || len(re.Children) != 1 ||
		re.Children[0].Usage != w.Usage || re.Children[0].Steps != w.Steps || re.Children[0].Status != w.Status ||
		len(re.Children[0].Escalations) != 1 || re.Children[0].Escalations[0].Resolution.By != "lead" {
		t.Errorf("rebuilt tree differs:\n%s\n%s", mustJSON(re), mustJSON(out))
	}

	// The action tool ran once, after the aligned acceptance.
	if runs.Load() != 1 {
		t.Errorf("note ran %d times", runs.Load())
	}
	var alignedAt, toolAt int64
	for _, e := range events {
		switch {
		case e.Type == orchestrator.EventAlignmentJudged && e.Delegation == "d2" && e.Aligned != nil && *e.Aligned:
			alignedAt = e.Seq
		case e.Type == orchestrator.EventToolResult && e.Tool == "note" && !e.IsError:
			toolAt = e.Seq
		}
	}
	if alignedAt == 0 || toolAt < alignedAt {
		t.Errorf("note ran at event %d, the acceptance was aligned at %d", toolAt, alignedAt)
	}

	// What crossed the wire: the judgement was forced to judge_alignment,
	// the worker was offered its action tool with the offer (to pipeline
	// after accept_goal) and again once aligned, and the lead's answer
	// reached it.
	lreq, wreq := lead.model.Requests(), worker.model.Requests()
	if len(lreq) != 6 || len(wreq) != 4 {
		t.Fatalf("the remotes answered %d and %d requests", len(lreq), len(wreq))
	}
	if j := lreq[2]; j.ToolChoice.Name != agents.ToolJudgeAlignment || !slices.Equal(toolNames(j), []string{agents.ToolJudgeAlignment}) {
		t.Errorf("judge request: tool_choice %+v, tools %v", j.ToolChoice, toolNames(j))
	}
	if names := toolNames(wreq[0]); !slices.Contains(names, "note") || !slices.Contains(names, agents.ToolAcceptGoal) {
		t.Errorf("tools offered before acceptance: %v", names)
	}
	if names := toolNames(wreq[1]); !slices.Contains(names, "note") || wreq[1].ToolChoice.Mode != model.ChoiceRequired {
		t.Errorf("second turn: tools %v, tool_choice %+v", names, wreq[1].ToolChoice)
	}
	if got := lastToolMessage(wreq[3]); !strings.Contains(got, "Answer from lead: "+answer.Answer) {
		t.Errorf("the worker was told %q", got)
	}
}
