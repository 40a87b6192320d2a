package orchestrator_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
)

// A goal's Tools narrow the team's grants at the root too.
func TestGoalToolsNarrowTheRoot(t *testing.T) {
	g := readGoal // the goal grants only read: what it did supports a criterion about reading
	read, write := newRecorder(t, "read"), newRecorder(t, "write")
	m := model.NewScripted("m", turn(accept(g)), turn(call("write", map[string]string{"text": "x"})),
		turn(withID("r1", call("read", map[string]string{"text": "x"}))), turn(complete(g, "done", "r1")))
	rt, mem := newRuntime(t, solo(m, read.tool, write.tool), nil)
	g.Tools = []string{"read"}
	if _, err := rt.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if write.runs.Load() != 0 {
		t.Fatal("write ran although the goal grants only read")
	}
	if got := ofType(mem.Events(), orchestrator.EventGoalOffered)[0].Tools; !slices.Equal(got, []string{"read"}) {
		t.Fatalf("offered tools %v", got)
	}
	t.Run("a tool the team does not grant is an invalid goal", func(t *testing.T) {
		g := noteGoal
		g.Tools = []string{"launch"}
		rt, mem := newRuntime(t, solo(model.NewScripted("m"), read.tool), nil)
		out, err := rt.Run(t.Context(), g)
		if !errors.Is(err, orchestrator.ErrFailed) || out.Cause != orchestrator.CauseInvalid {
			t.Fatalf("err %v cause %s", err, out.Cause)
		}
		checkJournal(t, mem.Events())
		if _, err := orchestrator.Rebuild(mem.Events()); err != nil {
			t.Fatalf("an invalid goal's journal does not rebuild: %v", err)
		}
	})
}

// The delegator's act that counts is the call whose validated result ended its
// turn, not an invalid call of the same name beside it.
func TestOnlyAValidDelegatorActCounts(t *testing.T) {
	g := noteGoal
	bogus := model.Call(agents.ToolVerifyReport, `{"verdict":"accept","bogus":true}`)
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)),
		turn(bogus, verdict(agents.VerdictReject, "not good")), turn(complete(g, "done")))
	w := model.NewScripted("w", turn(accept(g)), turn(complete(g, "done")))
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "works", Model: w}, Supervision: &orchestrator.Supervision{ModelVerify: true}},
	}}, nil)
	out, _ := rt.Run(t.Context(), g)
	if c := out.Children[0]; c.Status != orchestrator.StatusFailed || c.Verification.Verdict != agents.VerdictReject {
		t.Fatalf("worker %s with %+v, want rejected\n%s", c.Status, c.Verification, types(mem.Events()))
	}
}

// A sink that panics must not leave the run locked.
func TestPanickingSinkDoesNotHang(t *testing.T) {
	g := noteGoal
	m := model.NewScripted("m", turn(accept(g)), turn(accept(g)), turn(complete(g, "done")))
	boom := orchestrator.SinkFunc(func(ctx context.Context, e *orchestrator.Event) error {
		if e.Type == orchestrator.EventGoalAccepted && e.Round == 1 {
			panic("sink bug")
		}
		return nil
	})
	rt, mem := newRuntime(t, solo(m), &orchestrator.Options{Sinks: []orchestrator.Sink{boom}})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rt.Run(context.Background(), g)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run hangs after a sink panicked")
	}
	// The memory sink missed the event the panicking sink was given: only
	// the terminals are whole.
	for _, v := range invariant.Run(invariant.OneTerminal, mem.Events()) {
		t.Error(v)
	}
}

// A panic in a delegate's model ends that delegation, with its terminal event.
func TestPanicInAChildEndsIt(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)), turn(complete(g, "done")))
	w := model.ScriptFunc("w", func(context.Context, *model.Request) (*model.Response, error) { panic("provider bug") })
	rt, mem := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "works", Model: w}, Supervision: structural},
	}}, nil)
	out, _ := rt.Run(t.Context(), g)
	checkJournal(t, mem.Events())
	if c := out.Children[0]; c.Status != orchestrator.StatusFailed || c.Cause != orchestrator.CauseInternal {
		t.Fatalf("child %s/%s %q, want failed internal", c.Status, c.Cause, c.Reason)
	}
}

// Cancelling with a cause is a cancellation, whatever the cause says.
func TestCancelWithCause(t *testing.T) {
	g := noteGoal
	ctx, cancel := context.WithCancelCause(t.Context())
	m := model.ScriptFunc("m", func(ctx context.Context, _ *model.Request) (*model.Response, error) {
		cancel(errors.New("user pressed ctrl-c"))
		<-ctx.Done()
		return nil, context.Cause(ctx)
	})
	rt, _ := newRuntime(t, solo(m), nil)
	out, err := rt.Run(ctx, g)
	if out.Cause != orchestrator.CauseCancelled || !errors.Is(err, orchestrator.ErrCancelled) {
		t.Fatalf("cause %s err %v, want cancelled", out.Cause, err)
	}
}

// A delegator whose tokens its delegate spent takes no further turn.
func TestNoTurnAfterTheTokensAreSpent(t *testing.T) {
	g := noteGoal
	lead := model.NewScripted("lead", turn(accept(g)), turn(delegateTo("w", g)), turn(complete(g, "done")))
	// More than the budget, but not so far above the request's estimate
	// that the runtime takes it for a lie (model.SaneUsage).
	w := model.NewScripted("w", turn(accept(g)), model.Turn{Calls: []model.ToolCall{complete(g, "done")}, Usage: model.Usage{PromptTokens: 3000}})
	rt, _ := newRuntime(t, orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"w"}},
		{Agent: &agents.Agent{Name: "w", Role: "works", Model: w}, Supervision: structural},
	}}, &orchestrator.Options{Budget: agents.Budget{Tokens: 3000}})
	out, _ := rt.Run(t.Context(), g)
	if lead.Calls() != 2 || out.Cause != orchestrator.CauseBudget {
		t.Fatalf("lead called %d times (want 2), cause %s", lead.Calls(), out.Cause)
	}
}

// ToolChoice is checked when the runtime is built.
func TestToolChoiceOption(t *testing.T) {
	if _, err := orchestrator.New(solo(model.NewScripted("m")), &orchestrator.Options{ToolChoice: "sometimes"}); err == nil {
		t.Fatal("an unknown tool choice was accepted")
	}
	m := model.NewScripted("m", turn(accept(noteGoal)), turn(complete(noteGoal, "x")))
	rt, err := orchestrator.New(solo(m), &orchestrator.Options{ToolChoice: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(t.Context(), noteGoal); err != nil {
		t.Fatal(err)
	}
	if mode := m.Requests()[0].ToolChoice.Mode; mode != model.ChoiceAuto {
		t.Fatalf("tool choice %q, want auto", mode)
	}
}
