package orchestrator_test

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/orchestrator"
)

// discard keeps the last events in memory and forgets older ones, so long
// benchmarks measure the journal's cost, not a growing heap.
type discard struct {
	mu     sync.Mutex
	events []*orchestrator.Event
}

func (d *discard) Emit(_ context.Context, e *orchestrator.Event) error {
	d.mu.Lock()
	if len(d.events) == cap(d.events) {
		d.events = d.events[:0]
	}
	d.events = append(d.events, e)
	d.mu.Unlock()
	return nil
}

var benchGoal = agents.Goal{Intent: "measure", Objective: "take steps", Criteria: []string{"steps taken"}, Constraints: []string{"none"}}

var fixedUsage = model.Usage{PromptTokens: 100, CompletionTokens: 10}

// stepper accepts, calls the action tool steps times, then completes.
func stepper(steps int) *model.Scripted {
	// Calls are built up front, each with other arguments (identical calls
	// in a row are a stall), so the model's own cost stays out of the figure.
	turns := make([]model.ToolCall, steps+2)
	turns[0], turns[steps+1] = accept(benchGoal), complete(benchGoal, "done", "c1")
	for i := 1; i <= steps; i++ {
		turns[i] = call("note", map[string]string{"text": strconv.Itoa(i)})
	}
	for i := range turns {
		turns[i].ID = "c" + strconv.Itoa(i)
	}
	m := model.ScriptFunc("bench", func(_ context.Context, req *model.Request) (*model.Response, error) {
		c := turns[min((len(req.Messages)-2)/2, steps+1)]
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}, Usage: fixedUsage}, nil
	})
	m.SetRecording(false)
	return m
}

// BenchmarkAgentStep measures one agent step: a model turn, a validated call
// of an action tool, its result, and the events, in chunks of 200 steps a
// delegation.
func BenchmarkAgentStep(b *testing.B) {
	// file is the journal as it comes, committing in groups (see Journal);
	// file-per-event writes each event as it is emitted; run is cmd/run's
	// default sinks: the journal and the live view (off a terminal, its
	// plain lines, here discarded), which both borrow their events.
	for _, sink := range []string{"memory", "file", "file-per-event", "run"} {
		b.Run(sink, func(b *testing.B) {
			const chunk = 200
			rec := newRecorder(b, "note")
			var s orchestrator.Sink = &discard{events: make([]*orchestrator.Event, 0, 4096)}
			if sink != "memory" {
				j, err := orchestrator.CreateJournal(filepath.Join(b.TempDir(), "j.jsonl"))
				if err != nil {
					b.Fatal(err)
				}
				defer j.Close()
				if sink == "file-per-event" {
					j.SetGroupCommit(false)
				}
				s = j
			}
			sinks := []orchestrator.Sink{s}
			if sink == "run" {
				view := cli.NewLiveView(io.Discard, nil)
				defer view.Close()
				sinks = append(sinks, view)
			}
			rt, err := orchestrator.New(solo(stepper(chunk), rec.tool), &orchestrator.Options{Sinks: sinks,
				Budget: agents.Budget{Steps: chunk + 10}, RunID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				if _, err := rt.Run(context.Background(), benchGoal); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			// Report per step, not per chunk.
			runs := (b.N + chunk - 1) / chunk
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(runs*chunk), "ns/step")
		})
	}
}

// BenchmarkDelegation measures one full delegation on the scripted model:
// offer, accept, align (the delegator's model judges), one tool, complete,
// verify (the delegator's model verifies).
//
// turn-by-turn answers each act in a turn of its own (the lead: accept,
// delegate, complete; the worker: accept, note, complete); pipelined makes
// the first move in the acceptance's turn, as the simulator does (the lead:
// accept and delegate, complete; the worker: accept and note, complete).
func BenchmarkDelegation(b *testing.B) {
	for _, mode := range []string{"turn-by-turn", "pipelined"} {
		b.Run(mode, func(b *testing.B) {
			rt := benchTeam(b, 1, nil, mode == "pipelined")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rt.Run(context.Background(), benchGoal); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchTeam is a lead that delegates benchGoal to n workers at once; each
// accepts, calls note once and completes; the lead judges and verifies.
func benchTeam(b *testing.B, n int, sinks []orchestrator.Sink, pipelined bool) *orchestrator.Runtime {
	rec := newRecorder(b, "note")
	calls := make([]model.ToolCall, n)
	for i := range calls {
		calls[i] = delegateTo("worker", benchGoal)
	}
	// Both models' calls are built once, as stepper's are, so that the
	// model's own cost (encoding its calls) stays out of the figure.
	judgeCall, verifyCall := judge(true), verdict(agents.VerdictAccept, "")
	leadAcc, leadDone := accept(benchGoal), complete(benchGoal, "all done", "d2")
	lead := model.ScriptFunc("lead", func(_ context.Context, req *model.Request) (*model.Response, error) {
		var c []model.ToolCall
		switch {
		case len(req.Tools) == 1 && req.Tools[0].Name == agents.ToolJudgeAlignment:
			c = []model.ToolCall{judgeCall}
		case len(req.Tools) == 1 && req.Tools[0].Name == agents.ToolVerifyReport:
			c = []model.ToolCall{verifyCall}
		case len(req.Messages) == 2 && pipelined:
			c = append([]model.ToolCall{leadAcc}, calls...)
		case len(req.Messages) == 2:
			c = []model.ToolCall{leadAcc}
		case len(req.Messages) == 4 && !pipelined:
			c = calls
		default:
			c = []model.ToolCall{leadDone}
		}
		return &model.Response{Message: model.Message{ToolCalls: c}, Usage: fixedUsage}, nil
	})
	lead.SetRecording(false)
	acc, note, done := accept(benchGoal), withID("n1", call("note", map[string]string{"text": "x"})), complete(benchGoal, "done", "n1")
	worker := model.ScriptFunc("worker", func(_ context.Context, req *model.Request) (*model.Response, error) {
		c := []model.ToolCall{done}
		switch {
		case len(req.Messages) == 2 && pipelined:
			c = []model.ToolCall{acc, note}
		case len(req.Messages) == 2:
			c = []model.ToolCall{acc}
		case len(req.Messages) == 4 && !pipelined:
			c = []model.ToolCall{note}
		}
		return &model.Response{Message: model.Message{ToolCalls: c}, Usage: fixedUsage}, nil
	})
	worker.SetRecording(false)
	if sinks == nil {
		sinks = []orchestrator.Sink{&discard{events: make([]*orchestrator.Event, 0, 1<<16)}}
	}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "leads", Model: lead}, DelegatesTo: []string{"worker"}},
		{Agent: &agents.Agent{Name: "worker", Role: "works", Model: worker, Tools: []agents.Tool{rec.tool}}},
	}}, &orchestrator.Options{Sinks: sinks, RunID: "bench", Limits: orchestrator.Limits{MaxFanOut: n}, Budget: agents.Budget{Steps: 10*n + 10}})
	if err != nil {
		b.Fatal(err)
	}
	return rt
}

// BenchmarkSiblings measures 1,000 sibling delegations running at once under
// one lead, each judged and verified by it.
func BenchmarkSiblings(b *testing.B) {
	rt := benchTeam(b, 1000, nil, false)
	b.ReportAllocs()
	for b.Loop() {
		out, err := rt.Run(context.Background(), benchGoal)
		if err != nil {
			b.Fatal(err)
		}
		if len(out.Children) != 1000 {
			b.Fatalf("%d children", len(out.Children))
		}
	}
}

// BenchmarkResume1000Steps measures the resume of a run killed after 1,000
// steps of one agent (a model turn and an action tool call each): the
// journal's 4,000-odd events are replayed through the effect seam, no model
// or tool is called for them, and the one turn left is made live.
func BenchmarkResume1000Steps(b *testing.B) {
	const steps = 1000
	rec := newRecorder(b, "note")
	mem := &orchestrator.Memory{}
	opts := &orchestrator.Options{Sinks: []orchestrator.Sink{mem}, Budget: agents.Budget{Steps: steps + 10}, RunID: "bench",
		SupervisionFor: orchestrator.StructuralOnly}
	rt, err := orchestrator.New(solo(stepper(steps), rec.tool), opts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rt.Run(context.Background(), benchGoal); err != nil {
		b.Fatal(err)
	}
	events := journalOf(b, mem.Events())
	// Killed while the last turn's model call was in flight.
	last := slices.IndexFunc(events, func(e *orchestrator.Event) bool {
		return e.Type == orchestrator.EventModelCalled && e.Turn == steps+2
	})
	killed := events[:last]
	opts.Sinks = []orchestrator.Sink{&discard{events: make([]*orchestrator.Event, 0, 64)}}
	m := stepper(steps)
	rt, err = orchestrator.New(solo(m, rec.tool), opts)
	if err != nil {
		b.Fatal(err)
	}
	rec.runs.Store(0)
	b.ReportAllocs()
	for b.Loop() {
		out, err := rt.Resume(context.Background(), killed, nil)
		if err != nil || out.Steps != steps+2 {
			b.Fatalf("resume: %v, %d steps", err, out.Steps)
		}
	}
	b.StopTimer()
	if rec.runs.Load() != 0 {
		b.Fatalf("the resume ran the tool %d times", rec.runs.Load())
	}
	b.ReportMetric(float64(len(killed)), "events")
}
