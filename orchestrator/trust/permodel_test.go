package trust_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// on sets the model of goal.offered events.
func on(e *orchestrator.Event, provider, name string) *orchestrator.Event {
	e.Provider, e.Model = provider, name
	return e
}

func TestTrustIsPerModel(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		feed(t, l, fmt.Sprint("sim", i), started(), on(offeredLead(), "sim", "sim"), on(offered(), "sim", "sim"),
			accepted(1), judged(1, true), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, ""), finished())
	}
	if got := l.SupervisionForModel("w", "sim/sim").Level; got != trust.LevelHigh {
		t.Fatalf("on the simulator w is %s, want high", got)
	}
	if got := l.SupervisionForModel("w", "openai/gpt-4o-mini"); got.Level != trust.LevelNew || !got.ModelJudge || !got.ModelVerify {
		t.Errorf("on a real model w starts %+v, want new, judged and verified", got)
	}
}

func TestInfrastructureIsNotTheAgents(t *testing.T) {
	unjudged := judged(1, false)
	unjudged.Alignment = &agents.Alignment{By: "runtime", Unjudged: true}
	unverified := verified(agents.VerdictRevise)
	unverified.Verification.Unjudged = true
	providerFailed := ended(orchestrator.StatusFailed, "model error: HTTP 401")
	providerFailed.Cause = orchestrator.CauseProvider
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	feed(t, l, "r1", started(), offeredLead(), offered(), accepted(1), unjudged, accepted(2), judged(2, true),
		unverified, providerFailed, finished())
	r, _ := l.Record("w", "")
	if r.Reacceptances != 0 || r.RejectedReports != 0 || r.Failures != 0 || r.InfraFailures != 1 {
		t.Errorf("record %+v: the infrastructure's failures count against w", r)
	}
	// The user's correction of the root acceptance is not the lead's fault.
	corrected := &orchestrator.Event{Type: orchestrator.EventAlignmentJudged, Delegation: "d1", Agent: "user", Round: 1,
		Aligned: new(bool), Alignment: &agents.Alignment{By: "user", Gaps: []string{"not what I meant"}}}
	feed(t, l, "r2", started(), offeredLead(),
		&orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: "d1", Agent: "lead", Round: 1}, corrected,
		&orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: "d1", Agent: "lead", Round: 2}, finished())
	if r, _ := l.Record("lead", ""); r.Reacceptances != 0 {
		t.Errorf("lead's record %+v counts the user's correction", r)
	}
}

// TestLedgerSharedByProcesses: runs in several processes that overlap (each
// opens the ledger before any saves) lose no update.
func TestLedgerSharedByProcesses(t *testing.T) {
	if os.Getenv("TRUST_LEDGER_CHILD") != "" {
		return // the helper runs from TestMain
	}
	path := filepath.Join(t.TempDir(), "trust.json")
	const n = 5
	var cmds []*exec.Cmd
	var gates []io.WriteCloser
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "TRUST_LEDGER_CHILD="+path, fmt.Sprintf("TRUST_LEDGER_RUN=r%d", i))
		gate, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child has opened the ledger.
		if b, err := io.ReadAll(io.LimitReader(out, 6)); err != nil || string(b) != "opened" {
			t.Fatalf("child %d: %q, %v", i, b, err)
		}
		cmds, gates = append(cmds, cmd), append(gates, gate)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { gates[i].Close() }) // all save at once
	}
	wg.Wait()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	l, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Record("w", "sim/sim"); r.Runs != n || r.VerifiedCompletions != n {
		t.Errorf("after %d overlapping runs in %d processes: %+v", n, n, r)
	}
}

func TestMain(m *testing.M) {
	if path := os.Getenv("TRUST_LEDGER_CHILD"); path != "" {
		if err := childRun(path, os.Getenv("TRUST_LEDGER_RUN")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childRun opens the ledger, says so, records one clean run and saves once
// its stdin closes.
func childRun(path, run string) error {
	l, err := trust.Open(path)
	if err != nil {
		return err
	}
	fmt.Print("opened")
	for i, e := range []*orchestrator.Event{started(), on(offeredLead(), "sim", "sim"), on(offered(), "sim", "sim"),
		accepted(1), judged(1, true), ended(orchestrator.StatusCompleted, ""), finished()} {
		e.Run, e.Seq, e.Time = run, int64(i+1), t0
		l.Emit(context.Background(), e)
	}
	io.Copy(io.Discard, os.Stdin)
	return l.Save()
}

// TestRealModelAfterSimulatorRunsIsJudged: after simulator runs that made the
// writer highly trusted on the simulator, the same team on an endpoint (the
// simulator served over HTTP, so the model is another) still has its
// acceptance judged by the lead's model.
func TestRealModelAfterSimulatorRunsIsJudged(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	goal := agents.Goal{Intent: "thank the volunteers", Objective: "Write a thank-you note", Criteria: []string{"the note thanks them"}}
	team := func(lead, writer model.Model) orchestrator.Team {
		return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
			{Agent: &agents.Agent{Name: "lead", Role: "Leads.", Model: lead}, DelegatesTo: []string{"writer"}},
			{Agent: &agents.Agent{Name: "writer", Role: "Writes notes.", Model: writer, Tools: []agents.Tool{noteTool(t)}}},
		}}
	}
	run := func(tm orchestrator.Team) {
		rt, err := orchestrator.New(tm, &orchestrator.Options{Sinks: []orchestrator.Sink{l}, SupervisionForModel: l.SupervisionForModel})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Run(t.Context(), goal); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		run(team(sim.New("sim", nil), sim.New("sim", nil)))
	}
	if got := l.SupervisionForModel("writer", orchestrator.ModelID(sim.New("sim", nil))).Level; got != trust.LevelHigh {
		t.Fatalf("after simulator runs the writer is %s on the simulator, want high", got)
	}
	var mu sync.Mutex
	var judges int
	serve := openaitest.FromModel(sim.New("sim", nil))
	srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(r *openaitest.ChatRequest) openaitest.Reply {
		if strings.Contains(string(r.ToolChoice), agents.ToolJudgeAlignment) {
			mu.Lock()
			judges++
			mu.Unlock()
		}
		return serve(r)
	}})
	m, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "sim", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	run(team(m, m))
	if judges == 0 {
		t.Error("the lead's model was never asked to judge the writer's acceptance on the real endpoint")
	}
}

// noteTool is the writer's write_file in a fresh workspace.
func noteTool(t *testing.T) agents.Tool {
	ws, err := workspace.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	for _, tl := range ws.Tools() {
		if tl.Def().Name == workspace.ToolWriteFile {
			return tl
		}
	}
	t.Fatal("no write_file")
	return nil
}

// After a failover, what the agent does is counted on the model that
// produced its turn, not on the one it was offered the goal on.
func TestTrustFollowsTheModelThatAnswered(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	turnOn := func(name string) *orchestrator.Event {
		return &orchestrator.Event{Type: orchestrator.EventModelCalled, Delegation: "d2", Parent: "d1", Agent: "w",
			Provider: "openai", Model: name, Purpose: model.PurposeTurn}
	}
	feed(t, l, "r1", started(), offeredLead(), on(offered(), "openai", "primary"), turnOn("primary"), accepted(1), judged(1, true),
		turnOn("local"), violated(), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, ""), finished())
	primary, _ := l.Record("w", "openai/primary")
	local, ok := l.Record("w", "openai/local")
	if !ok {
		t.Fatal("no record of w on the fallback")
	}
	if primary.AlignedFirstTry != 1 || primary.Violations != 0 || primary.VerifiedCompletions != 0 {
		t.Errorf("on the primary: %+v", primary)
	}
	if local.Violations != 1 || local.VerifiedCompletions != 1 || local.Runs != 1 || local.Delegations != 1 {
		t.Errorf("on the fallback: %+v", local)
	}
}
