package trust_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

var (
	leadGoal = agents.Goal{Intent: "ship the release notes", Objective: "write the release notes", Criteria: []string{"notes written"}}
	subGoal  = agents.Goal{Intent: "cover one area", Objective: "write one section", Criteria: []string{"section written"}}
)

func acceptCall(g agents.Goal, plan string) model.ToolCall {
	a := agents.Acceptance{RestatedIntent: protocoltest.Restated(g.Intent), Plan: []string{plan},
		AcknowledgedCriteria: make([]string, len(g.Criteria)), AcknowledgedConstraints: []string{}}
	for i, c := range g.Criteria {
		a.AcknowledgedCriteria[i] = "I will make sure: " + c
	}
	return model.Call(agents.ToolAcceptGoal, a)
}

// completeCall reports every criterion met, citing the notes written and the
// delegations completed so far in req's conversation.
func completeCall(g agents.Goal, result string, req *model.Request) model.ToolCall {
	var cites []string
	for _, m := range req.Messages {
		var out struct{ Delegation, Status string }
		switch {
		case m.Role == model.RoleTool && m.Name == "note" && strings.HasPrefix(m.Content, "noted"):
			cites = append(cites, m.ToolCallID)
		case m.Role == model.RoleTool && m.Name == agents.ToolDelegate && json.Unmarshal([]byte(m.Content), &out) == nil && out.Status == "completed":
			cites = append(cites, out.Delegation)
		}
	}
	r := agents.Report{Result: result}
	for _, c := range g.Criteria {
		r.Criteria = append(r.Criteria, agents.CriterionResult{Criterion: c, Met: true, Evidence: "done", Cites: cites})
	}
	return model.Call(agents.ToolCompleteGoal, r)
}

func answer(calls ...model.ToolCall) (*model.Response, error) {
	return &model.Response{Message: model.Message{ToolCalls: calls}}, nil
}

func offers(req *model.Request, tool string) bool {
	return slices.ContainsFunc(req.Tools, func(d model.ToolDef) bool { return d.Name == tool })
}

// firstUser is the question of a delegator's ask: it opens with the
// delegate's name.
func firstUser(req *model.Request) string {
	for _, m := range req.Messages {
		if m.Role == model.RoleUser {
			return m.Content
		}
	}
	return ""
}

// worker is a scripted delegate. A flaky one first calls its tool before
// accepting (a protocol violation). After an aligned acceptance each writes
// notes, then reports.
func worker(name string, flaky bool, notes int) *model.Scripted {
	return model.ScriptFunc(name+"-model", func(_ context.Context, req *model.Request) (*model.Response, error) {
		assistant, written := 0, 0
		for _, m := range req.Messages {
			switch {
			case m.Role == model.RoleAssistant:
				assistant++
			case m.Role == model.RoleTool && m.Name == "note" && strings.HasPrefix(m.Content, "noted"):
				written++
			}
		}
		switch {
		case offers(req, agents.ToolAcceptGoal) && flaky && assistant == 0:
			return answer(model.Call("note", map[string]string{"text": "eager"}))
		case offers(req, agents.ToolAcceptGoal):
			return answer(acceptCall(subGoal, "use note"))
		case written < notes:
			return answer(model.Call("note", map[string]string{"text": fmt.Sprint(written)}))
		}
		return answer(completeCall(subGoal, name+" done", req))
	})
}

// lead delegates to its workers at once and reports. As a delegator it
// misjudges a flaky worker's first acceptance and rejects its report, unless
// lenient.
func lead(lenient *atomic.Bool, workers ...string) *model.Scripted {
	var judged atomic.Int64
	return model.ScriptFunc("lead-model", func(_ context.Context, req *model.Request) (*model.Response, error) {
		about := firstUser(req)
		flaky := strings.HasPrefix(about, "flaky ") && !lenient.Load()
		switch req.ToolChoice.Name {
		case agents.ToolJudgeAlignment:
			aligned := !flaky || judged.Add(1)%2 == 0
			return answer(model.Call(agents.ToolJudgeAlignment, agents.Alignment{Aligned: aligned, Gaps: map[bool][]string{false: {"the plan is vague"}}[aligned]}))
		case agents.ToolVerifyReport:
			v := agents.VerdictAccept
			if flaky {
				v = agents.VerdictReject
			}
			return answer(model.Call(agents.ToolVerifyReport, agents.Verification{Verdict: v, Feedback: "checked"}))
		}
		if offers(req, agents.ToolAcceptGoal) {
			return answer(acceptCall(leadGoal, "delegate the sections"))
		}
		if !slices.ContainsFunc(req.Messages, func(m model.Message) bool { return m.Name == agents.ToolDelegate }) {
			var calls []model.ToolCall
			for _, w := range workers {
				calls = append(calls, model.Call(agents.ToolDelegate, agents.DelegateArgs{Agent: w, Intent: subGoal.Intent,
					Objective: subGoal.Objective, Criteria: subGoal.Criteria}))
			}
			return answer(calls...)
		}
		return answer(completeCall(leadGoal, "notes written", req))
	})
}

type team struct {
	lead    *model.Scripted
	workers map[string]*model.Scripted
}

// runWith runs one goal on a lead and the named workers, supervised by the
// ledger's trust and recorded in it.
func runWith(t *testing.T, l *trust.Ledger, lenient *atomic.Bool, notes int, workers ...string) team {
	t.Helper()
	note, err := agents.NewTool("note", "writes a note", func(_ context.Context, in struct {
		Text string `json:"text"`
	}) (string, error) {
		return "noted " + in.Text, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	note = protocoltest.Declared(note, agents.KindActs)
	tm := team{lead: lead(lenient, workers...), workers: map[string]*model.Scripted{}}
	members := []orchestrator.Member{{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: tm.lead}, DelegatesTo: workers}}
	for _, w := range workers {
		tm.workers[w] = worker(w, w == "flaky" && !lenient.Load(), notes)
		members = append(members, orchestrator.Member{Agent: &agents.Agent{Name: w, Role: "writes", Model: tm.workers[w], Tools: []agents.Tool{note}}})
	}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "lead", Members: members},
		&orchestrator.Options{Sinks: []orchestrator.Sink{l}, SupervisionFor: l.SupervisionFor})
	if err != nil {
		t.Fatal(err)
	}
	// With its one worker's report rejected, the lead has nothing to show for
	// the goal: its own report is refused, and the run fails.
	rejected := slices.Contains(workers, "flaky") && !lenient.Load() && len(workers) == 1
	if _, err := rt.Run(t.Context(), leadGoal); (err != nil) != rejected {
		t.Fatalf("run: %v", err)
	}
	return tm
}

// asks counts the lead's requests that ask it to use tool about agent.
func asks(m *model.Scripted, tool, agent string) int {
	n := 0
	for _, r := range m.Requests() {
		if r.ToolChoice.Name == tool && strings.HasPrefix(firstUser(r), agent+" ") {
			n++
		}
	}
	return n
}

// TestTrustMovesWithOutcomesAndSetsSupervision builds two track records
// through real runs (steady completes cleanly; flaky violates the protocol,
// is misaligned and has its report rejected), then runs both under the
// ledger's supervision: the lead's model judges and verifies flaky, and
// never steady; flaky is asked for progress, steady is not.
func TestTrustMovesWithOutcomesAndSetsSupervision(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lenient atomic.Bool

	levels := []orchestrator.Level{l.SupervisionFor("steady").Level}
	prev, _ := l.Score("steady")
	for i := range 3 {
		runWith(t, l, &lenient, 1, "steady")
		mean, _ := l.Score("steady")
		if mean <= prev {
			t.Errorf("after clean run %d steady's trust went from %.3f to %.3f", i+1, prev, mean)
		}
		prev = mean
		levels = append(levels, l.SupervisionFor("steady").Level)
	}
	if got := fmt.Sprint(levels); got != "[new medium medium high]" {
		t.Errorf("steady's levels over three clean runs: %s", got)
	}

	runWith(t, l, &lenient, 1, "flaky")
	r, _ := l.Record("flaky", "scripted/flaky-model")
	if r.Violations != 1 || r.Reacceptances != 1 || r.RejectedReports != 1 || r.Failures != 1 {
		t.Errorf("flaky's record: %+v", r)
	}
	if mean, _ := l.Score("flaky"); mean >= 0.5 {
		t.Errorf("flaky's trust %.3f after a bad run, want < 0.5", mean)
	}
	low, high := l.SupervisionFor("flaky"), l.SupervisionFor("steady")
	if low.Level != trust.LevelLow || high.Level != trust.LevelHigh {
		t.Fatalf("levels: flaky %s, steady %s", low.Level, high.Level)
	}
	if !low.ModelJudge || high.ModelJudge || low.ProgressEvery == 0 || high.ProgressEvery != 0 {
		t.Fatalf("low %+v, high %+v", low, high)
	}

	// Both behave this time; supervision still follows their records.
	before, _ := l.Score("flaky")
	lenient.Store(true)
	tm := runWith(t, l, &lenient, 2, "steady", "flaky")
	if n := asks(tm.lead, agents.ToolJudgeAlignment, "flaky"); n != 1 {
		t.Errorf("the lead judged flaky's acceptance %d times, want 1", n)
	}
	if n := asks(tm.lead, agents.ToolJudgeAlignment, "steady"); n != 0 {
		t.Errorf("the lead judged steady's acceptance %d times, want 0 (structural checks suffice)", n)
	}
	if n := asks(tm.lead, agents.ToolVerifyReport, "flaky"); n != 1 {
		t.Errorf("the lead verified flaky's report %d times, want 1", n)
	}
	if n := asks(tm.lead, agents.ToolVerifyReport, "steady"); n != 0 {
		t.Errorf("the lead verified steady's report %d times, want 0", n)
	}
	reminded := func(m *model.Scripted) bool {
		for _, r := range m.Requests() {
			for _, msg := range r.Messages {
				if msg.Role == model.RoleUser && strings.Contains(msg.Content, "Report your progress") {
					return true
				}
			}
		}
		return false
	}
	if !reminded(tm.workers["flaky"]) {
		t.Errorf("flaky (progress every %d steps) was never asked for progress", low.ProgressEvery)
	}
	if reminded(tm.workers["steady"]) {
		t.Error("steady (high trust) was asked for progress")
	}
	if mean, _ := l.Score("flaky"); mean <= before {
		t.Errorf("flaky's trust went from %.3f to %.3f with a clean run", before, mean)
	}
}
