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
	"github.com/entrust-dev/entrust/internal/cli"
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
	fetch = protocoltest.Declared(fetch, agents.KindActs) // it indexes what it fetches
	var liveOut strings.Builder
	live := cli.NewLiveView(&liveOut, nil)
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

// TestReplayExitsOnBreach: a journal that breaks an invariant still replays
// in full, then exits 1 and says why on stderr, as text and as JSON, so a
// script can tell it from one that holds (exit 0).
func TestReplayExitsOnBreach(t *testing.T) {
	data, err := os.ReadFile("testdata/haiku.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		// The writer acts without its alignment on record.
		if !strings.Contains(l, `"type":"alignment.judged","delegation":"d2"`) {
			kept = append(kept, l)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	writeFile(t, bad, strings.Join(kept, ""))
	for _, args := range [][]string{{"replay", bad}, {"replay", "--json", bad}} {
		code, out, errs := mainIn(t, "", args...)
		if code != exitFailed || !strings.Contains(errs, "run replay: "+bad+": 2 invariant breach(es)") {
			t.Errorf("%v: exit %d, want 1 naming the breaches: %s", args, code, errs)
		}
		if !strings.Contains(out, "aligned_before_action") || !strings.Contains(out, "Wrote write-a-haiku-about-delegation.md") {
			t.Errorf("%v: not replayed in full:\n%s", args, out)
		}
	}
	if code, _, errs := mainIn(t, "", "replay", "testdata/haiku.jsonl"); code != exitOK {
		t.Errorf("a journal that keeps every invariant: exit %d: %s", code, errs)
	}
}

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.jsonl")
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	var out, errb strings.Builder
	if code := Main([]string{"--quiet", "--escalations", "auto", "--trust", "", "--workspace", filepath.Join(dir, "ws"), "--journal", path,
		"--criteria", "a haiku is written", "Write a haiku about delegation"}, nil, &out, &errb); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"replay", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"goal: Write a haiku about delegation", "criterion:  a haiku is written",
		"✓ d1 lead ← user · completed", "accepted (round 1):", "aligned (judged by the policy)",
		"└─ ✓ d2 writer ← lead · completed", "aligned (judged by lead)", "verified by lead: accept",
		"usage by agent", "lead", "writer", "total", "result:"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %s", errb.String())
	}

	// A torn last line is tolerated with a warning.
	b, _ := os.ReadFile(path)
	torn := filepath.Join(dir, "torn.jsonl")
	lines := strings.SplitAfter(strings.TrimSpace(string(b)), "\n")
	writeFile(t, torn, strings.Join(lines[:len(lines)-1], "")+lines[len(lines)-1][:20])
	out.Reset()
	errb.Reset()
	if code := Main([]string{"replay", torn}, nil, &out, &errb); code != 0 {
		t.Fatalf("torn: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "torn") || !strings.Contains(errb.String(), "never finished") {
		t.Errorf("torn: stderr %s", errb.String())
	}
	// A run cut off is held to what it shows, not to the ends it never
	// reached: no breach for them.
	if got := out.String(); !strings.Contains(got, "invariants: all 8 hold so far (the run never finished)") || strings.Contains(got, "breach") {
		t.Errorf("torn: the invariants of a run cut off:\n%s", got)
	}

	// Malformed journals are a clear error, exit 2.
	for name, content := range map[string]string{
		"garbage in the middle": lines[0] + "not json\n" + lines[1],
		"not events":            `{"hello":"world"}` + "\n",
		"empty":                 "",
		"out of order":          lines[1] + lines[0],
		"inconsistent":          lines[0] + lines[3],
	} {
		p := filepath.Join(dir, "bad.jsonl")
		writeFile(t, p, content)
		errb.Reset()
		if code := Main([]string{"replay", p}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "bad.jsonl") {
			t.Errorf("%s: exit %d, stderr %s", name, code, errb.String())
		}
	}
	for _, args := range [][]string{{}, {filepath.Join(dir, "missing.jsonl")}, {path, path}} {
		errb.Reset()
		if code := Main(append([]string{"replay"}, args...), nil, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
