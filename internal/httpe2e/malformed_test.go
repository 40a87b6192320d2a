package httpe2e

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// The malformed answers of a 200: a body cut short (the connection dropped
// mid-answer), and JSON that does not parse, in either mode.
var malformed = []struct {
	name  string
	reply fault
}{
	{"truncated", func(*openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Reply{Text: "The summary is written and the note holds it.", TruncateAfter: 25}
	}},
	{"malformed-json", func(req *openaitest.ChatRequest) openaitest.Reply {
		if req.Stream {
			return openaitest.Reply{Body: "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\": ok}}]}\n\ndata: [DONE]\n\n"}
		}
		return openaitest.Reply{Body: `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content": ok}}]}`}
	}},
}

// TestMalformedResponse answers a turn with a malformed 200 on every attempt
// WithRetry makes: the delegation whose turn it was fails with cause
// "provider" and a reason that says what happened, its one terminal event is
// in the journal, and the run still ends with run.finished (invariant 4 over
// HTTP). When the failing turn is the worker's, the lead learns the failure
// but cannot claim the goal done without it (it holds no tools of its own):
// its reports are sent back, then rejected; when it is the lead's, the run
// fails on the provider's error.
func TestMalformedResponse(t *testing.T) {
	for _, p := range providers {
		for _, f := range malformed {
			for _, who := range []string{"worker", "lead"} {
				t.Run(p.name+"/"+f.name+"/"+who, func(t *testing.T) {
					t.Parallel()
					testMalformed(t, p, f.reply, who)
				})
			}
		}
	}
}

func testMalformed(t *testing.T, p provider, bad fault, who string) {
	// Every attempt at the victim's second call is malformed.
	faults := map[int]fault{}
	for i := 2; i < 2+fastRetry.MaxAttempts; i++ {
		faults[i] = bad
	}
	lead := &remote{name: leadModel, model: script(leadModel, 1000,
		calls(accept(rootGoal, "entrust the writing to worker")),
		calls(delegateTo("worker", subGoal, "note")),
		calls(model.Call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: true})),
		calls(complete(rootGoal, "published without the worker")),
		calls(complete(rootGoal, "published, really")),
		calls(complete(rootGoal, "published, truly")),
	)}
	worker := &remote{name: workerModel, model: script(workerModel, 2000,
		calls(accept(subGoal, "write the summary with note")),
		calls(note("never written")),
	)}
	victim, victimDeleg := worker, "d2"
	if who == "lead" {
		victim, victimDeleg = lead, "d1"
	}
	victim.faults = faults
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: route(lead, worker)})
	var runs atomic.Int64
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: model.WithRetry(p.build(t, srv, srv.Client(), leadModel), &fastRetry)},
			DelegatesTo: []string{"worker"}},
		{Agent: &agents.Agent{Name: "worker", Role: "writes", Model: model.WithRetry(p.build(t, srv, srv.Client(), workerModel), &fastRetry),
			Tools: []agents.Tool{noteTool(t, &runs)}}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{mem}, SupervisionFor: orchestrator.ModelAlways})
	if err != nil {
		t.Fatal(err)
	}

	out, runErr := rt.Run(t.Context(), rootGoal)
	events := mem.Events()
	checkTerminals(t, events)

	var failed *orchestrator.Outcome
	out.Walk(func(o *orchestrator.Outcome) {
		if o.Delegation == victimDeleg {
			failed = o
		}
	})
	if failed == nil {
		t.Fatalf("no outcome for %s:\n%s", victimDeleg, trace(events))
	}
	if failed.Status != orchestrator.StatusFailed || failed.Cause != orchestrator.CauseProvider {
		t.Fatalf("%s: status %s, cause %q, reason %q\n%s", victimDeleg, failed.Status, failed.Cause, failed.Reason, trace(events))
	}
	// The reason names the failure and the attempts; the error matches.
	if r := failed.Reason; !strings.Contains(r, "malformed response") || !strings.Contains(r, "gave up after 3 attempts") {
		t.Errorf("reason %q", r)
	}
	var re *model.RetryError
	if !errors.Is(failed.Failure, model.ErrMalformed) || !errors.As(failed.Failure, &re) || re.Attempts != fastRetry.MaxAttempts {
		t.Errorf("err %v", failed.Failure)
	}
	var term []*orchestrator.Event // the victim's terminal event (the lead's own failure follows the worker's)
	for _, e := range ofType(events, orchestrator.EventGoalFailed) {
		if e.Delegation == victimDeleg {
			term = append(term, e)
		}
	}
	if len(term) != 1 || term[0].Delegation != victimDeleg || term[0].Cause != orchestrator.CauseProvider ||
		term[0].Reason != failed.Reason || term[0].Error == "" {
		t.Errorf("goal.failed: %s", mustJSON(term))
	}

	// Retried twice, then one model.called carrying the error.
	retried := ofType(events, orchestrator.EventModelRetried)
	if len(retried) != fastRetry.MaxAttempts-1 {
		t.Fatalf("%d model.retried events:\n%s", len(retried), trace(events))
	}
	for i, e := range retried {
		if e.Agent != who || e.Delegation != victimDeleg || e.Attempt != i+1 || !strings.Contains(e.Error, "malformed response") {
			t.Errorf("model.retried %d: %s", i, mustJSON(e))
		}
	}
	usage, _, evs := modelCalls(events, who)
	if len(evs) != 2 || evs[0].Error != "" || evs[1].Error == "" || evs[1].Usage != nil {
		t.Errorf("%s's model.called: %s", who, mustJSON(evs))
	}
	if reported := victim.reported(); len(reported) != 1 || usage[0] != reported[0] {
		t.Errorf("usage %+v, the server reported %+v", usage, reported)
	}

	fin := ofType(events, orchestrator.EventRunFinished)[0]
	switch who {
	case "worker":
		// The lead learnt the failure as its delegate call's result; with
		// nothing completed under it, its claims were sent back and
		// rejected. Nothing ran, nobody else was offered it.
		if !errors.Is(runErr, orchestrator.ErrFailed) || out.Cause != orchestrator.CauseRejected || fin.Status != orchestrator.StatusFailed ||
			!strings.Contains(out.Reason, "none of your delegations completed") {
			t.Fatalf("Run: %v, root %s (%s)\n%s", runErr, out.Status, out.Reason, trace(events))
		}
		reqs := lead.model.Requests()
		if got := lastToolMessage(reqs[3]); !strings.Contains(got, `"status":"failed"`) || !strings.Contains(got, "malformed response") {
			t.Errorf("the lead was told %q", got)
		}
		if n := len(ofType(events, orchestrator.EventGoalOffered)); n != 2 {
			t.Errorf("%d delegations offered", n)
		}
	case "lead":
		var ge *orchestrator.GoalError
		if !errors.Is(runErr, orchestrator.ErrFailed) || !errors.Is(runErr, model.ErrMalformed) || !errors.As(runErr, &ge) ||
			ge.Cause != orchestrator.CauseProvider {
			t.Errorf("Run: %v", runErr)
		}
		if fin.Status != orchestrator.StatusFailed || fin.Cause != orchestrator.CauseProvider || fin.Reason != out.Reason {
			t.Errorf("run.finished: %s", mustJSON(fin))
		}
	}
	if runs.Load() != 0 {
		t.Errorf("note ran %d times", runs.Load())
	}
}
