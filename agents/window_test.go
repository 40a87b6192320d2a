package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
)

type readArgs struct {
	Path string `json:"path"`
	Pad  string `json:"pad,omitempty"`
}

// longRun is a loop whose model reads n times (each result 2 KB, the
// arguments padded with pad bytes), pins the result of the call named in pin,
// then calls done.
func longRun(t *testing.T, n, pad int, w *agents.Window, pin int) (*agents.Loop, *model.Scripted) {
	t.Helper()
	read, err := agents.DefineTool(agents.ToolSpec{Name: "read"}, func(_ context.Context, a readArgs) (agents.Result, error) {
		if a.Path == "pinned" {
			return agents.Result{Content: "PINNED ANSWER: keep the margins at 2 cm", Pin: true}, nil
		}
		return agents.Result{Content: strings.Repeat("x", 2048)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := mustToolset(t, read, counting(t, "done", map[string]int{}, true))
	step := 0
	m := model.ScriptFunc("long", func(_ context.Context, req *model.Request) (*model.Response, error) {
		step++
		var c model.ToolCall
		switch {
		case step > n:
			c = model.Call("done", nil)
		case step == pin:
			c = model.Call("read", readArgs{Path: "pinned"})
		default:
			c = model.Call("read", readArgs{Path: "f" + strconv.Itoa(step), Pad: strings.Repeat("é", pad)})
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
	l := &agents.Loop{
		Model: m,
		Messages: []model.Message{{Role: model.RoleSystem, Content: "SYSTEM: constraints: never use red."},
			{Role: model.RoleUser, Content: "OFFER"}},
		Tools:  func() *agents.Toolset { return ts },
		Window: w,
	}
	return l, m
}

// checkPairs fails when a tool message does not answer a call of the
// assistant message before it, as providers require.
func checkPairs(t *testing.T, msgs []model.Message) {
	t.Helper()
	var open map[string]bool
	for i, m := range msgs {
		switch m.Role {
		case model.RoleAssistant:
			open = map[string]bool{}
			for _, c := range m.ToolCalls {
				open[c.ID] = true
				if !json.Valid(c.Arguments) {
					t.Fatalf("message %d: call arguments are not JSON: %s", i, c.Arguments)
				}
			}
		case model.RoleTool:
			if !open[m.ToolCallID] {
				t.Fatalf("message %d answers %s, not a call of the assistant message before it", i, m.ToolCallID)
			}
		default:
			open = nil
		}
	}
}

func TestWindowKeepsEveryRequestWithinBudget(t *testing.T) {
	const budget = 4000
	var compactions []*agents.Compaction
	summaries := 0
	w := &agents.Window{Tokens: budget, Summarize: func(_ context.Context, prev string, folded []model.Message, maxTokens int) (string, error) {
		summaries++
		if model.EstimateMessages(folded) > budget {
			t.Errorf("a chunk of %d tokens was sent to summarize", model.EstimateMessages(folded))
		}
		return "read " + strconv.Itoa(len(folded)) + " messages; before: " + prev, nil
	}}
	l, m := longRun(t, 120, 200, w, 3)
	l.Hooks.Compacted = func(_ context.Context, c *agents.Compaction) { compactions = append(compactions, c) }
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := m.Requests()
	if len(reqs) != 121 {
		t.Fatalf("%d requests, want 121", len(reqs))
	}
	for i, r := range reqs {
		if n := model.EstimatePrompt(r); n > budget {
			t.Fatalf("request %d: %d tokens, over the budget of %d", i+1, n, budget)
		}
		checkPairs(t, r.Messages)
	}
	last := reqs[len(reqs)-1]
	if last.Messages[0].Content != "SYSTEM: constraints: never use red." || last.Messages[1].Content != "OFFER" {
		t.Fatalf("the pinned head changed: %q, %q", last.Messages[0].Content, last.Messages[1].Content)
	}
	var pinned, summary bool
	for _, msg := range last.Messages {
		pinned = pinned || msg.Content == "PINNED ANSWER: keep the margins at 2 cm"
		summary = summary || strings.HasPrefix(msg.Content, agents.SummaryHeader)
	}
	if !pinned || !summary {
		t.Fatalf("last request: pinned result kept %v, summary present %v", pinned, summary)
	}
	if len(compactions) == 0 || summaries == 0 {
		t.Fatalf("%d compactions, %d summaries: want some", len(compactions), summaries)
	}
	clipped := 0
	for _, c := range compactions {
		if c.After > budget || c.Before <= budget || c.Folded > 0 && c.By != "model" {
			t.Fatalf("compaction %+v", c)
		}
		clipped += c.Clipped
	}
	// What was clipped once is never clipped again: at most each call's
	// arguments and each result.
	if clipped > 2*120 {
		t.Fatalf("%d clips for 120 calls", clipped)
	}
	for _, msg := range last.Messages {
		if strings.Count(msg.Content, "[clipped to fit") > 1 {
			t.Fatalf("clipped twice: %q", msg.Content)
		}
	}
	// Compaction is rare: the prompt goes down to the target, leaving room.
	t.Logf("%d compactions, %d summaries, %d requests", len(compactions), summaries, len(reqs))
	if len(compactions) > len(reqs)/2 || summaries > len(reqs)/8 {
		t.Fatalf("%d compactions in %d requests", len(compactions), len(reqs))
	}
}

// Between compactions, each request extends the one before it: the prefix
// providers cache is stable.
func TestWindowPrefixIsStableBetweenCompactions(t *testing.T) {
	w := &agents.Window{Tokens: 3000, Summarize: func(context.Context, string, []model.Message, int) (string, error) {
		return "summary", nil
	}}
	l, m := longRun(t, 60, 0, w, 0)
	compacted := map[int]bool{}
	l.Hooks.Compacted = func(context.Context, *agents.Compaction) { compacted[m.Calls()+1] = true }
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := m.Requests()
	for i := 1; i < len(reqs); i++ {
		prev, cur := reqs[i-1].Messages, reqs[i].Messages
		if compacted[i+1] {
			// The pinned head and everything pinned before the summary stay.
			if cur[0].Content != prev[0].Content || cur[1].Content != prev[1].Content {
				t.Fatalf("request %d: the head changed", i+1)
			}
			continue
		}
		if len(cur) < len(prev) {
			t.Fatalf("request %d is shorter than the one before without a compaction", i+1)
		}
		for j := range prev {
			if cur[j].Content != prev[j].Content || len(cur[j].ToolCalls) != len(prev[j].ToolCalls) {
				t.Fatalf("request %d changed message %d without a compaction", i+1, j)
			}
		}
	}
	if len(compacted) == 0 {
		t.Fatal("no compaction")
	}
}

func TestWindowFailsClosedWhenThePinnedPartDoesNotFit(t *testing.T) {
	l, m := longRun(t, 3, 0, &agents.Window{Tokens: 10}, 0)
	err := l.Run(t.Context())
	var be *agents.BudgetError
	if !errors.As(err, &be) || be.Kind != "context" || be.Limit != 10 || be.Used <= 10 {
		t.Fatalf("err = %v, want a context budget error", err)
	}
	if m.Calls() != 0 {
		t.Fatalf("the model was called %d times with a request over budget", m.Calls())
	}
}

func TestWindowFallsBackToTheRuntimesListWhenTheSummaryFails(t *testing.T) {
	var got []*agents.Compaction
	w := &agents.Window{Tokens: 2500, Summarize: func(context.Context, string, []model.Message, int) (string, error) {
		return "", errors.New("provider down")
	}}
	l, m := longRun(t, 40, 0, w, 0)
	l.Hooks.Compacted = func(_ context.Context, c *agents.Compaction) { got = append(got, c) }
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var folded *agents.Compaction
	for _, c := range got {
		if c.Folded > 0 {
			folded = c
		}
	}
	if folded == nil || folded.By != "runtime" || folded.Error != "provider down" || !strings.Contains(folded.Summary, "- read ") {
		t.Fatalf("compactions: %+v", got)
	}
	for i, r := range m.Requests() {
		if n := model.EstimatePrompt(r); n > 2500 {
			t.Fatalf("request %d: %d tokens", i+1, n)
		}
	}
}

func TestWindowStopsOnABudgetErrorOfTheSummary(t *testing.T) {
	spent := &agents.BudgetError{Kind: "tokens", Limit: 10, Used: 11}
	w := &agents.Window{Tokens: 2500, Summarize: func(context.Context, string, []model.Message, int) (string, error) {
		return "", spent
	}}
	l, _ := longRun(t, 40, 0, w, 0)
	if err := l.Run(t.Context()); !errors.Is(err, spent) {
		t.Fatalf("err = %v, want the summary's budget error", err)
	}
}

// A provider that counts more tokens than the estimate tightens the window.
func TestWindowLearnsFromTheProvidersCount(t *testing.T) {
	l, m := longRun(t, 40, 0, &agents.Window{Tokens: 3000}, 0)
	inner := l.Model
	l.Model = model.Func(func(ctx context.Context, req *model.Request) (*model.Response, error) {
		resp, err := inner.Generate(ctx, req)
		if err == nil {
			resp.Usage.PromptTokens = 2 * model.EstimatePrompt(req)
		}
		return resp, err
	})
	if err := l.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, r := range m.Requests()[1:] {
		if n := 2 * model.EstimatePrompt(r); n > 3000 {
			t.Fatalf("request %d: %d tokens as the provider counts them", i+2, n)
		}
	}
}

func TestAgentContextBudget(t *testing.T) {
	a := &agents.Agent{Name: "a", Model: model.NewScripted("gpt-4o-mini")}
	if got := a.ContextBudget(); got != 128_000 {
		t.Fatalf("default budget %d, want the model's window", got)
	}
	a.ContextTokens = 8000
	if got := a.ContextBudget(); got != 8000 {
		t.Fatalf("budget %d, want 8000", got)
	}
	a.ContextTokens = -1
	if err := a.Validate(); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("Validate = %v, want a negative budget refused", err)
	}
	if got := (&agents.Agent{Name: "b", Model: model.NewScripted("local")}).ContextBudget(); got != 0 {
		t.Fatalf("unknown model: budget %d, want 0 (no bound)", got)
	}
}
