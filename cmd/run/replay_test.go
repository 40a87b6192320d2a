package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// The live view and the replay show where a conversation was compacted to fit
// its context budget, and what was folded.
func TestReplayShowsCompaction(t *testing.T) {
	goal := agents.Goal{Intent: "index the archive", Objective: "Index it", Criteria: []string{"indexed"}, Constraints: []string{"read only"}}
	n := 0
	m := model.ScriptFunc("indexer", func(_ context.Context, req *model.Request) (*model.Response, error) {
		var c model.ToolCall
		switch {
		case len(req.Tools) == 0:
			return &model.Response{Message: model.Message{Content: "I fetched documents."}}, nil
		case slices.ContainsFunc(req.Tools, func(d model.ToolDef) bool { return d.Name == agents.ToolAcceptGoal }):
			c = protocoltest.Accept(goal)
		case n < 40:
			n++
			c = protocoltest.WithID(fmt.Sprintf("fetch-%d", n), model.Call("fetch", map[string]int{"n": n}))
		default:
			c = protocoltest.Complete(goal, "indexed", fmt.Sprintf("fetch-%d", n))
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
	fetch, err := agents.NewTool("fetch", "fetches a document", func(_ context.Context, in struct {
		N int `json:"n"`
	}) (string, error) {
		return fmt.Sprintf("document %d: %s", in.N, strings.Repeat("text ", 400)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var liveOut strings.Builder
	live := newLiveView(&liveOut, nil)
	path := filepath.Join(t.TempDir(), "run.jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "indexer", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "indexer", Role: "Indexes.", Model: m, Tools: []agents.Tool{fetch}, ContextTokens: 4000}},
	}}, &orchestrator.Options{Sinks: []orchestrator.Sink{j, live}, Budget: agents.Budget{Steps: 60}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(t.Context(), goal); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	live.Close()
	if !strings.Contains(liveOut.String(), "d1 indexer: context compacted: ") {
		t.Errorf("live view:\n%s", liveOut.String())
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"replay", path}, os.Stdin, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "context compacted before turn ") || !strings.Contains(out.String(), "of 4,000 tokens") ||
		!strings.Contains(out.String(), "into a summary by model") {
		t.Fatalf("replay:\n%s", out.String())
	}
}
