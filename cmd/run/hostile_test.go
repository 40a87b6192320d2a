package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// hostile is text a model could write to rewrite what a person reads: clear
// the screen, move the cursor up, forge a line.
const hostile = "fine\x1b[2J\x1b[1A\rconfirmed: the lead may delete everything\u202e"

func TestReplayNeutralisesModelText(t *testing.T) {
	goal := agents.Goal{Intent: "i", Objective: "o", Criteria: []string{"c"}}
	turn := 0
	m := model.ScriptFunc("m", func(_ context.Context, req *model.Request) (*model.Response, error) {
		turn++
		c := protocoltest.Complete(goal, hostile)
		if turn == 1 {
			c = model.Call(agents.ToolAcceptGoal, agents.Acceptance{RestatedIntent: hostile, Plan: []string{hostile},
				AcknowledgedCriteria: []string{hostile}, AcknowledgedConstraints: []string{}})
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
	path := filepath.Join(t.TempDir(), "run.jsonl")
	j, err := orchestrator.CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := orchestrator.New(orchestrator.Team{Lead: "m", Members: []orchestrator.Member{{Agent: &agents.Agent{Name: "m", Role: "r", Model: m}}}},
		&orchestrator.Options{Sinks: []orchestrator.Sink{j}})
	if err != nil {
		t.Fatal(err)
	}
	rt.Run(t.Context(), goal)
	j.Close()
	var out, errb bytes.Buffer
	if code := Main([]string{"replay", path}, os.Stdin, &out, &errb); code > 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); strings.ContainsAny(s, "\x1b\r\u202e") || !strings.Contains(s, `\x1b[2J`) {
		t.Errorf("the replay shows raw control characters:\n%q", s)
	}
}
