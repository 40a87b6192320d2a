package orchestrator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
)

// toolNames returns the names of the tools offered in one request.
func toolNames(req *model.Request) []string {
	var s []string
	for _, d := range req.Tools {
		s = append(s, d.Name)
	}
	return s
}

// Invariant 1, at the root: the user's (Principal's) judgement is what unlocks
// the tools, not the structural checks alone.
func TestInvariant1_RootMisalignmentKeepsToolsLocked(t *testing.T) {
	g := noteGoal
	rec := newRecorder(t, "note")
	note := withID("n1", call("note", map[string]string{"text": "x"}))
	m := model.NewScripted("m", turn(accept(g)), turn(note), turn(accept(g)), turn(note), turn(complete(g, "done", "n1")))
	var judged atomic.Int64
	rt, mem := newRuntime(t, solo(m, rec.tool), &orchestrator.Options{Principal: orchestrator.PrincipalFuncs{
		Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
			if judged.Add(1) == 1 {
				return agents.Alignment{Aligned: false, Gaps: []string{"not what I meant"}}, nil
			}
			return agents.Alignment{Aligned: true}, nil
		}}})
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	if bad := actionBeforeAlignment(mem.Events()); len(bad) > 0 || rec.runs.Load() != 1 {
		t.Fatalf("ran before the user's alignment: %v, runs %d\n%s", bad, rec.runs.Load(), types(mem.Events()))
	}
	if judged.Load() != 2 {
		t.Fatalf("the user judged %d acceptances, want 2", judged.Load())
	}
	j := ofType(mem.Events(), orchestrator.EventAlignmentJudged)
	if len(j) != 2 || *j[0].Aligned || j[0].Alignment.By != "user" || !*j[1].Aligned {
		t.Fatalf("alignment judgements: %s", mustJSON(j))
	}
	if got := lastToolMessage(m.Requests()[1]); !strings.Contains(got, "not what I meant") {
		t.Fatalf("the user's gap did not reach the delegate: %q", got)
	}
}

// Invariant 2, first lock: what is offered to the model after alignment is
// already narrowed — an ungranted tool is not offered, and delegate is not
// offered at the depth limit. (The second locks, gated and onDelegate, are
// pinned in guards_internal_test.go.)
func TestInvariant2_OfferedToolsNarrowToAuthority(t *testing.T) {
	g := readGoal // the worker may only read: what it did supports a criterion about reading
	t.Run("an ungranted tool is not offered", func(t *testing.T) {
		read, write := newRecorder(t, "read"), newRecorder(t, "write")
		lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("worker", g)), turn(complete(g, "done", "d2")))
		worker := model.NewScripted("worker", turn(accept(g)), turn(withID("r1", call("read", map[string]string{"text": "x"}))), turn(complete(g, "done", "r1")))
		rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Grants: []string{"read"}, Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"worker"}},
			{Agent: &agents.Agent{Name: "worker", Role: "works", Model: worker, Tools: []agents.Tool{read.tool, write.tool}}, Supervision: structural},
		}}, nil)
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
		}
		got := toolNames(worker.Requests()[1])
		if !slices.Contains(got, "read") || slices.Contains(got, "write") {
			t.Fatalf("worker offered %v after alignment, want read and not write", got)
		}
	})
	t.Run("delegate is not offered at the depth limit", func(t *testing.T) {
		ma := model.NewScripted("a", turn(accept(g)), turn(delegateTo("b", g)), turn(complete(g, "done", "d2")))
		mb := model.NewScripted("b", turn(accept(g)), turn(complete(g, "done")))
		mc := model.NewScripted("c")
		rt, mem := newRuntime(t, orchestrator.Team{Lead: "a", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "a", Role: "a", Model: ma}, DelegatesTo: []string{"b"}},
			{Agent: &agents.Agent{Name: "b", Role: "b", Model: mb}, DelegatesTo: []string{"c"}, Supervision: structural},
			{Agent: &agents.Agent{Name: "c", Role: "c", Model: mc}, Supervision: structural},
		}}, &orchestrator.Options{Limits: orchestrator.Limits{MaxDepth: 1}})
		if _, err := rt.Run(t.Context(), g); err != nil {
			t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
		}
		if got := toolNames(ma.Requests()[1]); !slices.Contains(got, agents.ToolDelegate) {
			t.Fatalf("a (depth 0) was not offered delegate: %v", got)
		}
		if got := toolNames(mb.Requests()[1]); slices.Contains(got, agents.ToolDelegate) {
			t.Fatalf("b (depth 1 = MaxDepth) was offered delegate: %v", got)
		}
		// The prompt says what the tools say.
		if sys := mb.Requests()[0].Messages[0].Content; strings.Contains(sys, "You may delegate") {
			t.Fatalf("b's prompt offers delegation at the depth limit:\n%s", sys)
		}
		if sys := ma.Requests()[0].Messages[0].Content; !strings.Contains(sys, "You may delegate (delegate) to:\n- b: b") {
			t.Fatalf("a's prompt does not offer its delegate:\n%s", sys)
		}
	})
}

// Invariant 5: every kind of budget stops a model that ignores it, fast. The
// models give up on their own long after the budget, so a budget the runtime
// does not enforce fails the test by name instead of hanging the suite.
func TestInvariant5_EveryBudgetStopsAModelThatIgnoresIt(t *testing.T) {
	g := noteGoal
	const runaway = 50
	busy := func(calls *atomic.Int64) model.Model {
		return model.ScriptFunc("m", func(ctx context.Context, req *model.Request) (*model.Response, error) {
			if calls.Add(1) > runaway {
				return nil, errors.New("runaway: the budget was not enforced")
			}
			if len(req.Messages) == 2 {
				return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{accept(g)}}}, nil
			}
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{call(agents.ToolReportProgress,
				agents.ProgressReport{Summary: fmt.Sprintf("step %d", len(req.Messages))})}}}, nil
		})
	}
	slow := func(calls *atomic.Int64) model.Model {
		return model.ScriptFunc("m", func(ctx context.Context, req *model.Request) (*model.Response, error) {
			calls.Add(1)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(2 * time.Second):
				return nil, errors.New("runaway: the wall time was not enforced")
			}
		})
	}
	cases := []struct {
		kind     string
		budget   agents.Budget
		model    func(*atomic.Int64) model.Model
		maxCalls int64
	}{
		{kind: "steps", budget: agents.Budget{Steps: 5}, model: busy, maxCalls: 5},
		{kind: "tokens", budget: agents.Budget{Tokens: 2000}, model: busy, maxCalls: runaway - 1},
		{kind: "wall_time", budget: agents.Budget{WallTime: 20 * time.Millisecond}, model: slow, maxCalls: 1},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			var calls atomic.Int64
			rt, mem := newRuntime(t, solo(tc.model(&calls)), &orchestrator.Options{Budget: tc.budget})
			out, _ := rt.Run(t.Context(), g)
			if out.Status != orchestrator.StatusFailed || out.Cause != orchestrator.CauseBudget || !strings.HasPrefix(out.Reason, "budget exceeded: "+tc.kind+" (") {
				t.Fatalf("outcome %s/%s %q, want failed by the %s budget", out.Status, out.Cause, out.Reason, tc.kind)
			}
			ex := ofType(mem.Events(), orchestrator.EventBudgetExceeded)
			if len(ex) != 1 || ex[0].Reason != tc.kind {
				t.Fatalf("budget.exceeded events: %s", mustJSON(ex))
			}
			// The reason gives the figures: what was used, of the bound.
			want := fmt.Sprintf(" (%d of %d)", ex[0].Used, ex[0].Limit)
			if tc.kind == string(agents.BudgetWallTime) {
				want = fmt.Sprintf(" (%s of %s)", time.Duration(ex[0].Used)*time.Millisecond, time.Duration(ex[0].Limit)*time.Millisecond)
			}
			if !strings.HasSuffix(out.Reason, want) {
				t.Errorf("reason %q, want it to end %q", out.Reason, want)
			}
			if calls.Load() > tc.maxCalls {
				t.Fatalf("the model was called %d times, want at most %d", calls.Load(), tc.maxCalls)
			}
		})
	}
}

// Invariant 6 under concurrency: siblings emit at once, and the journal is
// still one total order (seq 1..n, times non-decreasing) that rebuilds the
// tree. Run with -race as well: an unsynchronised emit is a data race.
func TestInvariant6_JournalOrderedUnderConcurrentSiblings(t *testing.T) {
	g := noteGoal
	const n = 8
	w := model.ScriptFunc("w", func(ctx context.Context, req *model.Request) (*model.Response, error) {
		switch {
		case len(req.Messages) == 2:
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{accept(g)}}}, nil
		case len(req.Messages) < 14:
			return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{call(agents.ToolReportProgress,
				agents.ProgressReport{Summary: fmt.Sprintf("step %d", len(req.Messages))})}}}, nil
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{complete(g, "ok")}}}, nil
	})
	calls := make([]model.ToolCall, n)
	for i := range calls {
		calls[i] = delegateTo("w", g)
	}
	lead := model.NewScripted("lead", turn(accept(g)), turn(calls...), turn(complete(g, "all", "d2")))
	var buf bytes.Buffer
	j := orchestrator.NewJournal(&buf)
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "works", Model: w}, Supervision: structural},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{j}, Budget: agents.Budget{Steps: 500}})
	out, err := rt.Run(t.Context(), g)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, types(mem.Events()))
	}
	journal, torn, err := orchestrator.ReadJournal(&buf)
	if err != nil || torn {
		t.Fatalf("ReadJournal: %v torn=%v", err, torn)
	}
	for name, events := range map[string][]*orchestrator.Event{"journal": journal, "memory": mem.Events()} {
		for i, e := range events {
			if e.Seq != int64(i+1) || (i > 0 && e.Time.Before(events[i-1].Time)) {
				t.Fatalf("%s event %d (%s): seq %d, not one total order", name, i, e.Type, e.Seq)
			}
		}
	}
	got, err := orchestrator.Rebuild(journal)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Children) != n || len(out.Children) != n {
		t.Fatalf("rebuilt %d children, the run made %d, want %d", len(got.Children), len(out.Children), n)
	}
	checkJournal(t, journal)
}
