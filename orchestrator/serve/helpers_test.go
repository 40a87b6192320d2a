package serve_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/serve"
)

// team runs each goal on a one-agent team played by the simulator with
// persona, in dir/ws/<id> with its journal at dir/runs/<id>.jsonl.
type team struct {
	dir     string
	persona sim.Persona
	mu      sync.Mutex
	ids     []string
}

func newTeam(t *testing.T, persona sim.Persona) *team {
	return &team{dir: t.TempDir(), persona: persona}
}

func (tm *team) run(ctx context.Context, req *serve.Request) (*serve.Result, error) {
	tm.mu.Lock()
	tm.ids = append(tm.ids, req.ID)
	tm.mu.Unlock()
	ws, err := workspace.New(filepath.Join(tm.dir, "ws", req.ID))
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	m := sim.New("sim", &sim.Options{Persona: tm.persona})
	t := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Writes short texts to files.", Model: m, Tools: ws.Tools()}},
	}}
	path := filepath.Join(tm.dir, "runs", req.ID+".jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		return nil, err
	}
	req.SetJournal(path)
	sinks := []orchestrator.Sink{j}
	if req.Sink != nil {
		sinks = append(sinks, req.Sink)
	}
	rt, err := orchestrator.New(t, &orchestrator.Options{Sinks: sinks, Principal: req.Principal, SupervisionFor: orchestrator.StructuralOnly})
	if err != nil {
		j.Close()
		return nil, err
	}
	out, _ := rt.Run(ctx, req.Goal)
	err = j.Close()
	if err != nil {
		return nil, err
	}
	return &serve.Result{Outcome: out, Journal: path}, nil
}

// events reads a journal.
func events(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}

// finished checks that the journal at path ends with run.finished.
func finished(t *testing.T, path string) []map[string]any {
	t.Helper()
	ev := events(t, path)
	if len(ev) == 0 || ev[len(ev)-1]["type"] != "run.finished" {
		t.Fatalf("journal %s does not end with run.finished", path)
	}
	return ev
}

// resolutions returns the answers the journal's escalations got.
func resolutions(ev []map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range ev {
		if e["type"] == "escalation.resolved" {
			out = append(out, e["resolution"].(map[string]any))
		}
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// stuckTeam's lead never answers: its model waits for the run's end. Its
// runs' ids come on started as they call the model, on ended once done.
type stuckTeam struct {
	*team
	started, ended chan string
}

func newStuckTeam(t *testing.T) *stuckTeam {
	return &stuckTeam{team: newTeam(t, sim.Default), started: make(chan string, 4), ended: make(chan string, 4)}
}

func (st *stuckTeam) run(ctx context.Context, req *serve.Request) (*serve.Result, error) {
	path := filepath.Join(st.dir, "runs", req.ID+".jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		return nil, err
	}
	m := model.ScriptFunc("stuck", func(ctx context.Context, _ *model.Request) (*model.Response, error) {
		st.started <- req.ID
		<-ctx.Done()
		return nil, ctx.Err()
	})
	t := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "lead", Role: "Thinks forever.", Model: m}}}}
	rt, err := orchestrator.New(t, &orchestrator.Options{Sinks: []orchestrator.Sink{j}, Principal: req.Principal})
	if err != nil {
		j.Close()
		return nil, err
	}
	out, _ := rt.Run(ctx, req.Goal)
	err = j.Close()
	st.ended <- req.ID
	if err != nil {
		return nil, err
	}
	return &serve.Result{Outcome: out, Journal: path}, nil
}

// tellingEnds runs tm's goals and says on the channel the id of each run
// that ended.
func tellingEnds(tm *team) (serve.Runner, <-chan string) {
	ended := make(chan string, 1)
	return func(ctx context.Context, req *serve.Request) (*serve.Result, error) {
		res, err := tm.run(ctx, req)
		ended <- req.ID
		return res, err
	}, ended
}
