package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/cli"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/invariant"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// answering is a model whose answer comes back just as the run is found
// down: its second call (the writer's first working turn, its acceptance
// aligned) gets its answer from the endpoint, then says so (answered) and
// returns it only once the run's context has ended — the answer of a
// sibling delegation that arrived as another's call found the endpoint
// down. Its first call's answer keeps only the acceptance, so that the
// action comes in that working turn.
type answering struct {
	model.Model
	calls    atomic.Int64
	answered chan struct{}
}

func (m *answering) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := m.Model.Generate(ctx, req)
	switch m.calls.Add(1) {
	case 1:
		if err == nil {
			var acts []model.ToolCall
			for _, c := range resp.Message.ToolCalls {
				if agents.IsProtocolTool(c.Name) {
					acts = append(acts, c)
				}
			}
			resp.Message.ToolCalls = acts
		}
	case 2:
		close(m.answered)
		<-ctx.Done()
	}
	return resp, err
}

// failingAfter is a model whose calls wait for answered first: the endpoint
// is found down only once the sibling's call has its answer.
type failingAfter struct {
	model.Model
	answered <-chan struct{}
}

func (m *failingAfter) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	select {
	case <-m.answered:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	return m.Model.Generate(ctx, req)
}

// rewriting is a model whose write_file calls write other content: the
// answer a model called again could give.
type rewriting struct{ model.Model }

func (m rewriting) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := m.Model.Generate(ctx, req)
	if err == nil {
		for i, c := range resp.Message.ToolCalls {
			if c.Name == "write_file" {
				var args map[string]any
				if json.Unmarshal(c.Arguments, &args) == nil {
					args["content"] = "another answer"
					resp.Message.ToolCalls[i].Arguments, _ = json.Marshal(args)
				}
			}
		}
	}
	return resp, err
}

// downRun runs crashTeam with run on models served at url (through the
// models of the model flags, so an unavailable endpoint ends the run as in
// run), each wrapped by wrap, into the journal rj.
func downRun(t *testing.T, ctx context.Context, url string, ws *workspace.Workspace, rj *runJournal, wrap func(name string, m model.Model) model.Model,
	run func(context.Context, *orchestrator.Runtime) (*orchestrator.Outcome, error)) *orchestrator.Outcome {
	t.Helper()
	team, err := teamfile.Parse("team.yaml", []byte(crashTeam))
	if err != nil {
		t.Fatal(err)
	}
	models, err := cli.NewModels(cli.ModelOptions{BaseURL: url, APIKey: "key", CallTimeout: time.Minute}, team)
	if err != nil {
		t.Fatal(err)
	}
	ctx, endRun := context.WithCancelCause(ctx)
	defer endRun(nil)
	models.SetStop(endRun)
	rj.down = func() bool { return endpointDown(ctx) }
	built, err := team.Build(&teamfile.BuildOptions{Tools: toolRegistry(ws, nil), Model: func(spec teamfile.AgentSpec) (model.Model, error) {
		m, err := models.Model(spec)
		if err != nil {
			return nil, err
		}
		return wrap(spec.Name, m), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := orchestrator.New(built, &orchestrator.Options{RunID: "down-run", Sinks: []orchestrator.Sink{rj}, Principal: orchestrator.AutoPrincipal{},
		Workspace: ws.FS(), WorkspaceDir: ws.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := run(ctx, rt)
	return out
}

// The race of a sibling delegation with a dying endpoint, made
// deterministic: the writer's model answers with a write_file call just as
// the notes' call finds the endpoint refusing the key. The journal keeps
// that answer with the call it asked for, numbered without a gap, so a
// resume reconciles the call the journal holds — not one a new answer
// asks for — and the whole journal keeps every invariant.
func TestSiblingAnswerKeptWhenDown(t *testing.T) {
	dir := t.TempDir()
	ws, err := workspace.New(filepath.Join(dir, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	t.Cleanup(func() { clearMark("down-run") })
	sims := map[string]model.Model{
		"lead-model": sim.New("lead-model", nil), "writer-model": sim.New("writer-model", nil), "notes-model": sim.New("notes-model", nil),
	}
	serve := func(refuse string) *openaitest.Server {
		return openaitest.NewServer(t, &openaitest.Options{Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
			if req.Model == refuse {
				return openaitest.Error(401, openaitest.ErrorBody("revoked", "invalid_request_error", "invalid_api_key"))
			}
			return openaitest.FromModel(sims[req.Model])(req)
		}})
	}
	path := filepath.Join(dir, "run.jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rj := &runJournal{j: j}
	answered := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	downRun(t, ctx, serve("notes-model").URL, ws, rj, func(name string, m model.Model) model.Model {
		switch name {
		case "writer":
			return &answering{Model: m, answered: answered}
		case "notes":
			return &failingAfter{Model: m, answered: answered}
		}
		return m
	}, func(ctx context.Context, rt *orchestrator.Runtime) (*orchestrator.Outcome, error) {
		return rt.Run(ctx, agents.Goal{Objective: "Write notes about delegation"})
	})
	if !rj.down() {
		t.Fatalf("the endpoint was not found down: %v", ctx.Err())
	}
	if err := rj.close(); err != nil {
		t.Fatal(err)
	}
	events := readJournal(t, path)
	// The race happened: the writer's call is in the journal.
	var call *orchestrator.Event
	for _, e := range events {
		if e.Type == orchestrator.EventToolCalled && e.Tool == "write_file" {
			call = e
		}
	}
	if call == nil {
		t.Fatal("the journal holds no write_file call: the writer's answer did not come back as the endpoint was found down")
	}
	// The answer that asked for it is kept beside it.
	asked := false
	for _, e := range events {
		if e.Type == orchestrator.EventModelCalled && e.Delegation == call.Delegation && e.Conversation == call.Conversation && e.Turn == call.Turn && e.Message != nil {
			for _, c := range e.Message.ToolCalls {
				asked = asked || c.ID == call.CallID
			}
		}
	}
	if !asked {
		t.Errorf("the journal keeps the writer's %s call (event %d) but not the model.called that asked for it", call.Tool, call.Seq)
	}
	if v := invariant.CheckUnfinished(events); len(v) > 0 {
		t.Errorf("the journal of the run found down breaks invariants: %v", v)
	}
	var args struct{ Path, Content string }
	if err := json.Unmarshal(call.Arguments, &args); err != nil || args.Path == "" {
		t.Fatalf("write_file's arguments %s: %v", call.Arguments, err)
	}

	// Resumed once the endpoint serves every model: a model called again
	// for the writer's turn would write other content.
	j, err = orchestrator.AppendJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rj = &runJournal{j: j, last: events[len(events)-1].Seq}
	out := downRun(t, ctx, serve("").URL, ws, rj, func(name string, m model.Model) model.Model {
		if name == "writer" {
			return rewriting{m}
		}
		return m
	}, func(ctx context.Context, rt *orchestrator.Runtime) (*orchestrator.Outcome, error) {
		return rt.Resume(ctx, events, nil)
	})
	if err := rj.close(); err != nil {
		t.Fatal(err)
	}
	if out == nil || out.Status != orchestrator.StatusCompleted {
		t.Fatalf("the resumed run: %+v", out)
	}
	all := readJournal(t, path)
	for _, e := range all[len(events):] {
		if e.Type == orchestrator.EventModelCalled && e.Delegation == call.Delegation && e.Conversation == call.Conversation && e.Turn == call.Turn {
			t.Errorf("the writer's model was called again for turn %d (event %d): the journal held its answer", e.Turn, e.Seq)
		}
	}
	if v := invariant.CheckJournal(all); len(v) > 0 {
		t.Errorf("the resumed journal breaks invariants: %v", v)
	}
	got, err := os.ReadFile(filepath.Join(ws.Dir(), args.Path))
	if err != nil || string(got) != args.Content {
		t.Errorf("%s holds %q (%v), want what the journaled call wrote, %q", args.Path, got, err, args.Content)
	}
	if strings.Contains(string(got), "another answer") {
		t.Error("the call reconciled was the new answer's, not the journaled one")
	}
}
