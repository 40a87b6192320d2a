package orchestrator_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// failingJudge is a lead model whose judgements and verifications fail, as a
// judge's request does when a delegate bloats its acts past the context
// window; its other turns follow the script.
func failingJudge(turns ...model.Turn) *model.Scripted {
	var mu sync.Mutex
	return model.ScriptFunc("lead", func(ctx context.Context, req *model.Request) (*model.Response, error) {
		switch req.ToolChoice.Name {
		case agents.ToolJudgeAlignment, agents.ToolVerifyReport:
			return nil, &model.APIError{StatusCode: 400, Code: "context_length_exceeded", Message: "maximum context length is 8192 tokens"}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(turns) == 0 {
			return nil, model.ErrScriptExhausted
		}
		t := turns[0]
		turns = turns[1:]
		return &model.Response{Message: model.Message{Role: model.RoleAssistant, Content: t.Text, ToolCalls: t.Calls}}, nil
	})
}

// approver approves every escalation, and counts them.
type approver struct {
	orchestrator.AutoPrincipal
	mu    sync.Mutex
	asked []string
}

func (a *approver) AnswerEscalation(_ context.Context, e *agents.Escalation) (agents.Resolution, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, e.Question)
	return agents.Resolution{Decision: "approve", Answer: "approved", By: "user"}, nil
}

func TestJudgementFailsClosed(t *testing.T) {
	g := noteGoal
	for _, p := range []string{"policy", "approver"} {
		t.Run(p, func(t *testing.T) {
			act := newRecorder(t, "act")
			lead := failingJudge(turn(accept(g)), turn(delegateTo("w", g)), turn(complete(g, "done")))
			w := model.NewScripted("w", turn(accept(g, "write it")), turn(accept(g, "write it now")), turn(accept(g, "write it at once")),
				turn(call("act", map[string]string{"text": "x"})), turn(complete(g, "done")))
			opts := &orchestrator.Options{}
			var ap *approver
			if p == "approver" {
				ap = &approver{}
				opts.Principal = ap
			}
			rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
				{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
				{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w, Tools: []agents.Tool{act.tool}},
					Supervision: &orchestrator.Supervision{ModelJudge: true}},
			}}, opts)
			out, _ := rt.Run(t.Context(), g)
			events := mem.Events()
			checkJournal(t, events)
			var judged []*orchestrator.Event
			for _, e := range ofType(events, orchestrator.EventAlignmentJudged) {
				if e.Delegation != "d1" {
					judged = append(judged, e)
				}
			}
			raised := ofType(events, orchestrator.EventEscalationRaised)
			if p == "policy" {
				// Never aligned: the recommendation to go up is "reject".
				if act.runs.Load() != 0 || len(judged) != 3 || len(out.Children) != 1 || out.Children[0].Status != orchestrator.StatusFailed {
					t.Fatalf("act ran %d times; %d judgements; children %s\n%s", act.runs.Load(), len(judged), mustJSON(out.Children), types(events))
				}
				for i, e := range judged {
					if *e.Aligned || e.Alignment.By != "runtime" || !strings.Contains(strings.Join(e.Alignment.Gaps, ";"), "could not judge") {
						t.Errorf("judgement %d: %s", i+1, mustJSON(e))
					}
				}
				if len(raised) != 2 || raised[0].Escalation.Recommendation != "reject" || raised[0].Agent != "lead" {
					t.Errorf("escalations: %s", mustJSON(raised))
				}
				return
			}
			// The second failure goes up; the user's explicit approval alone lets it pass.
			if len(judged) != 2 || *judged[0].Aligned || !*judged[1].Aligned || judged[1].Alignment.By != "user" || len(ap.asked) != 1 {
				t.Fatalf("judgements %s, asked %q\n%s", mustJSON(judged), ap.asked, types(events))
			}
		})
	}
}

func TestVerificationFailsClosed(t *testing.T) {
	g := noteGoal
	lead := failingJudge(turn(accept(g)), turn(delegateTo("w", g)), turn(complete(g, "done")))
	w := model.NewScripted("w", turn(accept(g)), turn(complete(g, "done")), turn(complete(g, "done again")), turn(complete(g, "done, really")), turn(complete(g, "done!")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &orchestrator.Supervision{ModelVerify: true, MaxRevisions: 2}},
	}}, nil)
	out, _ := rt.Run(t.Context(), g)
	events := mem.Events()
	checkJournal(t, events)
	if len(out.Children) != 1 || out.Children[0].Status != orchestrator.StatusFailed {
		t.Fatalf("children %s\n%s", mustJSON(out.Children), types(events))
	}
	for _, e := range ofType(events, orchestrator.EventReportVerified) {
		if e.Delegation != "d1" && (e.Verification.Verdict == agents.VerdictAccept || e.Verification.By != "runtime") {
			t.Errorf("verification: %s", mustJSON(e))
		}
	}
	if n := len(ofType(events, orchestrator.EventEscalationRaised)); n == 0 {
		t.Errorf("no escalation after repeated failures to verify\n%s", types(events))
	}
}

func TestOversizedActIsASchemaError(t *testing.T) {
	g := noteGoal
	bloated := agents.Acceptance{RestatedIntent: strings.Repeat("pad ", agents.MaxText), Plan: []string{"do it"},
		AcknowledgedCriteria: []string{"yes"}, AcknowledgedConstraints: []string{"yes"}}
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)), turn(judge(true)), turn(complete(g, "done", "d2")))
	w := model.NewScripted("w", turn(call(agents.ToolAcceptGoal, bloated)), turn(accept(g)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "writes", Model: w}, Supervision: &orchestrator.Supervision{ModelJudge: true}},
	}}, nil)
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	events := mem.Events()
	var first *orchestrator.Event
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		if e.Delegation == "d2" && e.Tool == agents.ToolAcceptGoal {
			first = e
			break
		}
	}
	if first == nil || !first.IsError || !strings.Contains(first.Result, "restated_intent") {
		t.Fatalf("first acceptance: %s", mustJSON(first))
	}
	if n := len(ofType(events, orchestrator.EventGoalAccepted)); n != 2 { // the lead's and w's valid one
		t.Errorf("%d acceptances recorded, want 2\n%s", n, types(events))
	}
	// The judge saw one acceptance: the valid one.
	if lead.Calls() != 4 {
		t.Errorf("lead called %d times, want 4", lead.Calls())
	}
}

func TestLyingUsageCannotBypassATokenBudget(t *testing.T) {
	g := noteGoal
	g.Budget.Tokens = 20_000
	act := newRecorder(t, "act")
	turns := 0
	m := model.ScriptFunc("m", func(_ context.Context, req *model.Request) (*model.Response, error) {
		turns++
		c := call("act", map[string]string{"text": "again"})
		if turns == 1 {
			c = accept(g)
		}
		// One token a call, whatever was sent.
		return &model.Response{Message: model.Message{Role: model.RoleAssistant, ToolCalls: []model.ToolCall{c}},
			Usage: model.Usage{PromptTokens: 1, CompletionTokens: 1}}, nil
	})
	rt, mem := newRuntime(t, solo(m, act.tool), &orchestrator.Options{Limits: orchestrator.Limits{RepeatLimit: -1}})
	out, _ := rt.Run(t.Context(), g)
	if out.Cause != orchestrator.CauseBudget || !strings.Contains(out.Reason, "tokens") {
		t.Fatalf("outcome %s after %d turns", mustJSON(out), turns)
	}
	var replaced int
	for _, e := range ofType(mem.Events(), orchestrator.EventModelCalled) {
		if strings.Contains(e.UsageReplaced, "far below") {
			replaced++
		}
	}
	if replaced == 0 {
		t.Error("no model.called records the replaced usage")
	}
}

// hangs is an action tool that ignores its context until released.
type hangs struct{ release chan struct{} }

func (h *hangs) Def() model.ToolDef { return model.ToolDef{Name: "hang"} }
func (h *hangs) Call(context.Context, json.RawMessage) agents.Result {
	<-h.release
	return agents.Result{Content: "done at last"}
}

func TestToolStillRunningAtTheDeadlineIsAbandoned(t *testing.T) {
	g := noteGoal
	g.Budget.WallTime = 50 * time.Millisecond
	h := &hangs{release: make(chan struct{})}
	defer close(h.release)
	m := model.NewScripted("m", turn(accept(g)), turn(call("hang", nil)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, solo(m, h), nil)
	out, _ := rt.Run(t.Context(), g)
	events := mem.Events()
	checkJournal(t, events)
	if out.Status != orchestrator.StatusFailed || out.Cause != orchestrator.CauseBudget || !strings.Contains(out.Reason, "wall_time") {
		t.Fatalf("outcome %s", mustJSON(out))
	}
	var abandoned bool
	for _, e := range ofType(events, orchestrator.EventToolResult) {
		abandoned = abandoned || (e.Tool == "hang" && e.IsError && strings.Contains(e.Result, "abandoned"))
	}
	if !abandoned {
		t.Errorf("no tool.result says the call was abandoned\n%s", types(events))
	}
}
