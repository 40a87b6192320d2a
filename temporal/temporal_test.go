package temporal_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
)

func guideGoal() agents.Goal {
	return agents.Goal{
		Intent:      "Help new contributors get productive in their first week",
		Objective:   "Write an onboarding guide for the repository",
		Criteria:    []string{"The guide explains how to build and test", "The guide lists who to ask for help"},
		Constraints: []string{"Do not include secrets", "Keep it under two pages"},
	}
}

// counts counts a team's model calls and tool runs.
type counts struct{ calls, runs atomic.Int64 }

// leadWriter is a lead that delegates to a writer with a workspace in dir,
// both simulators.
func leadWriter(t testing.TB, dir string, c *counts) orchestrator.Team {
	t.Helper()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var tools []agents.Tool
	for _, tl := range ws.Tools() {
		tools = append(tools, protocoltest.CountedTool{Tool: tl, N: &c.runs})
	}
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Leads the team and delegates the writing.",
			Model: protocoltest.CountedModel{Model: sim.New("lead", nil), N: &c.calls}}, DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "Writes guides and notes for contributors.",
			Model: protocoltest.CountedModel{Model: sim.New("writer", nil), N: &c.calls}, Tools: tools}},
	}}
}

// types lists the events' types, with the tool of tool events.
func types(events []*orchestrator.Event) []string {
	var out []string
	for _, e := range events {
		s := string(e.Type)
		if e.Tool != "" {
			s += "(" + e.Tool + ")"
		}
		out = append(out, s)
	}
	return out
}

// The tests share one in-process server (its start and stop are most of a
// short test's time); each test has task queues of its own.
var shared struct {
	once sync.Once
	ts   *temporaltest.TestServer
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.ts != nil {
		shared.ts.Stop()
	}
	os.Exit(code)
}

// newServer returns the tests' server and a task queue of t's own.
func newServer(t *testing.T) (*temporaltest.TestServer, string) {
	t.Helper()
	shared.once.Do(func() { shared.ts = temporaltest.NewServer() })
	return shared.ts, strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
}

// startWorker starts a worker of w on queue, stopped when t ends.
func startWorker(t *testing.T, ts *temporaltest.TestServer, queue string, w *entrusttemporal.Worker) worker.Worker {
	t.Helper()
	return startWorkerWith(t, ts, queue, w, worker.Options{})
}

// startWorkerWith is startWorker with the worker's options (a panicking
// workflow fails, whatever opts say).
func startWorkerWith(t *testing.T, ts *temporaltest.TestServer, queue string, w *entrusttemporal.Worker, opts worker.Options) worker.Worker {
	t.Helper()
	opts.WorkflowPanicPolicy = worker.FailWorkflow
	wk := worker.New(ts.GetDefaultClient(), queue, opts)
	w.Register(wk)
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Stop)
	return wk
}

func TestLeadWriterMatchesInProcess(t *testing.T) {
	// In process.
	var local counts
	dir := t.TempDir()
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(leadWriter(t, dir, &local), &orchestrator.Options{Sinks: []orchestrator.Sink{mem}})
	if err != nil {
		t.Fatal(err)
	}
	want, err := rt.Run(t.Context(), guideGoal())
	if err != nil {
		t.Fatalf("in process: %v", err)
	}

	// On Temporal.
	ts, q := newServer(t)
	var remote counts
	rdir := t.TempDir()
	startWorker(t, ts, q, &entrusttemporal.Worker{Team: leadWriter(t, rdir, &remote)})
	run, err := entrusttemporal.Start(t.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: q})
	if err != nil {
		t.Fatal(err)
	}
	rmem := &orchestrator.Memory{}
	got, err := run.Follow(t.Context(), entrusttemporal.FollowOptions{Sinks: []orchestrator.Sink{rmem}, Every: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("on Temporal: %v", err)
	}
	if got.Status != want.Status || got.Status != orchestrator.StatusCompleted {
		t.Fatalf("status %s, in process %s (%s)", got.Status, want.Status, got.Reason)
	}
	if w, g := types(mem.Events()), types(rmem.Events()); !slices.Equal(w, g) {
		t.Errorf("event types differ:\nin process %v\non Temporal %v", w, g)
	}
	protocoltest.CheckJournal(t, rmem.Events())
	if w, g := local.calls.Load(), remote.calls.Load(); w != g {
		t.Errorf("model calls: %d on Temporal, %d in process", g, w)
	}
	if w, g := local.runs.Load(), remote.runs.Load(); w != g {
		t.Errorf("tool runs: %d on Temporal, %d in process", g, w)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "write-an-onboarding-guide-for-the-repository.md"))
	b, _ := os.ReadFile(filepath.Join(rdir, "write-an-onboarding-guide-for-the-repository.md"))
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("the guide differs:\n%s\n---\n%s", a, b)
	}
	// The journal the client followed is the run's journal: Rebuild gives
	// the outcome the workflow returned.
	o, err := orchestrator.Rebuild(rmem.Events())
	if err != nil || o.Status != got.Status {
		t.Errorf("rebuilt %v, %v", o, err)
	}
	if !strings.HasPrefix(rmem.Events()[0].Run, "entrust-") {
		t.Errorf("run id %q", rmem.Events()[0].Run)
	}
}
