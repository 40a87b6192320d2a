package orchestrator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

var (
	longRoot = agents.Goal{Intent: "keep the archive searchable for the auditors", Objective: "Index the archive",
		Criteria: []string{"the index is reported"}, Constraints: []string{"touch nothing outside the archive"}}
	longGoal = agents.Goal{Intent: "give the auditors one index of every document", Objective: "Read every document and index it",
		Criteria:    []string{"every document is indexed", "the index is sorted by date"},
		Constraints: []string{"never quote a document marked CONFIDENTIAL", "write dates as YYYY-MM-DD"}}
)

// longWriter is a scripted writer that accepts g, fetches n documents one call
// at a time, then reports; asked for a summary (a request without tools) it
// sums up the fetches it is shown.
func longWriter(g agents.Goal, n int) *model.Scripted {
	fetched := 0
	return model.ScriptFunc("writer-model", func(_ context.Context, req *model.Request) (*model.Response, error) {
		var c model.ToolCall
		switch {
		case len(req.Tools) == 0:
			last := req.Messages[len(req.Messages)-1].Content
			return &model.Response{Message: model.Message{Content: fmt.Sprintf("I fetched %d more documents and indexed them.",
				strings.Count(last, "you called fetch"))}}, nil
		case hasTool(req, agents.ToolAcceptGoal):
			c = protocoltest.Accept(g, "fetch every document", "complete_goal with the index")
		case fetched < n:
			fetched++
			c = protocoltest.WithID(fmt.Sprintf("fetch-%d", fetched), model.Call("fetch", map[string]int{"n": fetched}))
		default:
			c = protocoltest.Complete(g, fmt.Sprintf("indexed %d documents", fetched), fmt.Sprintf("fetch-%d", fetched))
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
}

func hasTool(req *model.Request, name string) bool {
	for _, t := range req.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// fetchTool returns a document of size bytes, and files it in the index the
// goal asks for: its calls are the work (agents.KindActs).
func fetchTool(t testing.TB, size int) agents.Tool {
	t.Helper()
	tool, err := agents.NewTool("fetch", "fetches document n", func(_ context.Context, in struct {
		N int `json:"n"`
	}) (string, error) {
		head := fmt.Sprintf("document %d, dated 2024-01-%02d: ", in.N, in.N%28+1)
		return head + strings.Repeat("lorem ipsum ", (size-len(head))/12+1)[:size-len(head)], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return acts(tool)
}

// longTeam is a lead that entrusts longGoal to a writer that fetches n
// documents of size bytes within a context budget of contextTokens.
func longTeam(t testing.TB, n, size, contextTokens int) (orchestrator.Team, *model.Scripted) {
	lead := model.NewScripted("lead-model",
		turn(protocoltest.Accept(longRoot)),
		turn(protocoltest.DelegateTo("writer", longGoal)),
		turn(protocoltest.Complete(longRoot, "the writer indexed the archive", "d2")))
	writer := longWriter(longGoal, n)
	return orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Leads.", Model: lead}, DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "Indexes documents.", Model: writer, Tools: []agents.Tool{fetchTool(t, size)},
			ContextTokens: contextTokens}, Supervision: structural, Budget: agents.Budget{Steps: 2*n + 10}},
	}}, writer
}

// The proof of the context budget: 300 calls with 2 KB results each under a
// budget of 8000 tokens. Every request fits; the last one still holds the
// goal's constraints, its parent's intent and the acceptance verbatim; the
// prompt tokens grow linearly with the steps; the run completes.
func TestLongRunKeepsTheContractWithinTheContextBudget(t *testing.T) {
	const steps, budget = 300, 8000
	team, writer := longTeam(t, steps, 2048, budget)
	rt, mem := newRuntime(t, team, &orchestrator.Options{Budget: agents.Budget{Steps: 2 * steps}})
	out, err := rt.Run(t.Context(), longRoot)
	if err != nil {
		t.Fatalf("%v\n%s", err, protocoltest.Trace(mem.Events()))
	}
	events := mem.Events()
	protocoltest.CheckJournal(t, events)

	if w := out.Children[0]; w.Status != orchestrator.StatusCompleted {
		t.Fatalf("the writer: %s %q\n%s", w.Status, w.Reason, protocoltest.Trace(events))
	}
	var turns []*model.Request
	for i, req := range writer.Requests() {
		if n := model.EstimatePrompt(req); n > budget {
			t.Fatalf("request %d: %d tokens, over the budget of %d", i+1, n, budget)
		}
		if len(req.Tools) > 0 {
			turns = append(turns, req)
		} else if md := req.Metadata; md == nil || md.Purpose != model.PurposeCompact || md.Delegation != "d2" {
			t.Fatalf("request %d asks for a summary with metadata %+v", i+1, md)
		}
	}
	if len(turns) != steps+2 {
		t.Fatalf("%d turns, want %d", len(turns), steps+2)
	}
	last := turns[len(turns)-1]
	var text strings.Builder
	var acceptance string
	for _, m := range last.Messages {
		text.WriteString(m.Content + "\n")
		for _, c := range m.ToolCalls {
			if c.Name == agents.ToolAcceptGoal {
				acceptance = string(c.Arguments)
			}
		}
	}
	for _, want := range append(longGoal.Constraints, longGoal.Criteria...) {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the last request lost %q", want)
		}
	}
	if !strings.Contains(text.String(), longRoot.Intent) {
		t.Errorf("the last request lost the parent's intent %q", longRoot.Intent)
	}
	// The acceptance is pinned in its short form (its plan: the goal it
	// restates is in the system prompt), the journal keeps it whole.
	if want := `{"plan":["fetch every document","complete_goal with the index"]}`; acceptance != want {
		t.Errorf("the last request's acceptance is %s, want its short form: %s", acceptance, want)
	}
	if want := string(protocoltest.Accept(longGoal, "fetch every document", "complete_goal with the index").Arguments); !slices.ContainsFunc(ofType(events, orchestrator.EventGoalAccepted), func(e *orchestrator.Event) bool {
		b, _ := json.Marshal(e.Acceptance)
		return e.Delegation == "d2" && string(b) == want
	}) {
		t.Errorf("the journal lost the whole acceptance %s", want)
	}
	if !strings.Contains(text.String(), agents.SummaryHeader) || !strings.Contains(text.String(), "read_file") {
		t.Errorf("the writer was not told what was compacted")
	}

	// Compactions are journaled, and the summaries are the writer's own
	// model calls, charged to its delegation.
	compactions := protocoltest.OfType(events, orchestrator.EventContextCompacted)
	var prompt []int
	var charged model.Usage
	summaries := 0
	for _, e := range events {
		if e.Type != orchestrator.EventModelCalled || e.Agent != "writer" {
			continue
		}
		charged = charged.Add(*e.Usage)
		switch e.Purpose {
		case "turn":
			prompt = append(prompt, e.Usage.PromptTokens)
		case "compact":
			summaries++
		}
	}
	w := out.Children[0]
	if len(compactions) == 0 || summaries == 0 || w.Compactions != len(compactions) || w.Usage != charged {
		t.Fatalf("%d compactions (outcome says %d), %d summaries; writer charged %+v, its calls used %+v",
			len(compactions), w.Compactions, summaries, w.Usage, charged)
	}
	for _, e := range compactions {
		if c := e.Compaction; c == nil || c.After > budget || e.Agent != "writer" {
			t.Fatalf("compaction event %+v", e)
		}
	}

	// A replay of the journal compacts at the same turns, with the
	// recorded summaries, calling no model.
	team2, writer2 := longTeam(t, steps, 2048, budget)
	rt2, _ := newRuntime(t, team2, &orchestrator.Options{Budget: agents.Budget{Steps: 2 * steps}})
	recorded := journalOf(t, events)
	replayed, _, err := rt2.Replay(t.Context(), recorded)
	if err != nil || writer2.Calls() != 0 || len(replayed) != len(recorded) {
		t.Fatalf("replay: %v; %d model calls; %d events, the journal holds %d", err, writer2.Calls(), len(replayed), len(recorded))
	}
	for i := range replayed {
		if a, b := timeless(t, replayed[i]), timeless(t, recorded[i]); a != b {
			t.Fatalf("replayed event %d differs:\nreplay  %s\njournal %s", i+1, a, b)
		}
	}

	// Total prompt tokens grow linearly: fit cumulative tokens to a·steps+b.
	a, b, r2 := linearFit(prompt)
	half := cumulative(prompt[:len(prompt)/2])
	ratio := float64(cumulative(prompt)) / float64(half)
	t.Logf("%d turns, %d compactions, %d summaries; total prompt tokens ≈ %.0f·steps %+.0f (R² = %.5f); total at %d steps / at %d = %.2f (linear: 2, quadratic: 4)",
		len(prompt), len(compactions), summaries, a, b, r2, len(prompt), len(prompt)/2, ratio)
	if r2 < 0.995 || ratio > 2.2 {
		t.Fatalf("total prompt tokens are not linear in the steps: R² = %.4f, doubling the steps multiplies them by %.2f", r2, ratio)
	}
}

func cumulative(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// linearFit fits the cumulative sums of ys to a·k+b (k = 1, 2, …) by least
// squares and returns a, b and R².
func linearFit(ys []int) (a, b, r2 float64) {
	n := float64(len(ys))
	var sx, sy, sxx, sxy, s float64
	cum := make([]float64, len(ys))
	for i, y := range ys {
		s += float64(y)
		cum[i] = s
		x := float64(i + 1)
		sx, sy, sxx, sxy = sx+x, sy+s, sxx+x*x, sxy+x*s
	}
	a = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	b = (sy - a*sx) / n
	mean := sy / n
	var ssRes, ssTot float64
	for i, y := range cum {
		f := a*float64(i+1) + b
		ssRes += (y - f) * (y - f)
		ssTot += (y - mean) * (y - mean)
	}
	return a, b, 1 - ssRes/math.Max(ssTot, 1)
}

// A budget too small for the contract itself fails the delegation with a
// clear reason before any request over it is sent.
func TestContextBudgetTooSmallForTheContractFailsClosed(t *testing.T) {
	team, writer := longTeam(t, 3, 100, 300)
	rt, mem := newRuntime(t, team, nil)
	out, _ := rt.Run(t.Context(), longRoot)
	w := out.Children[0]
	if w.Status != orchestrator.StatusFailed || w.Cause != orchestrator.CauseBudget || !strings.Contains(w.Reason, "context budget of 300") {
		t.Fatalf("writer: %s %s %q", w.Status, w.Cause, w.Reason)
	}
	if writer.Calls() != 0 {
		t.Fatalf("the writer's model was called %d times", writer.Calls())
	}
	ex := protocoltest.OfType(mem.Events(), orchestrator.EventBudgetExceeded)
	if len(ex) != 1 || ex[0].Reason != "context" || ex[0].Limit != 300 {
		t.Fatalf("budget.exceeded: %s", protocoltest.Trace(mem.Events()))
	}
}

// Every correction a delegate received stays whole through compaction: the
// misaligned round's gaps, the answer to its escalation, the verifier's
// feedback on a report sent back, each followed by long work.
func TestCompactionKeepsEveryCorrection(t *testing.T) {
	step := 0
	writer := model.ScriptFunc("writer-model", func(_ context.Context, req *model.Request) (*model.Response, error) {
		if len(req.Tools) == 0 {
			return &model.Response{Message: model.Message{Content: "I fetched documents."}}, nil
		}
		step++
		var c model.ToolCall
		switch {
		case step == 1: // no acknowledgement of the constraints: misaligned
			a := protocoltest.Accept(longGoal)
			var acc agents.Acceptance
			_ = json.Unmarshal(a.Arguments, &acc)
			acc.AcknowledgedConstraints = []string{}
			c = model.Call(agents.ToolAcceptGoal, acc)
		case step == 2:
			c = protocoltest.Accept(longGoal)
		case step == 20:
			c = model.Call(agents.ToolEscalate, agents.EscalateArgs{Kind: agents.KindAmbiguity, Question: "Which date format for undated documents?"})
		case step == 40: // the second criterion reported unmet: sent back
			r := protocoltest.Complete(longGoal, "partial index", "fetch-39")
			var rep agents.Report
			_ = json.Unmarshal(r.Arguments, &rep)
			rep.Criteria[1].Met = false
			c = model.Call(agents.ToolCompleteGoal, rep)
		case step < 60:
			c = protocoltest.WithID(fmt.Sprintf("fetch-%d", step), model.Call("fetch", map[string]int{"n": step}))
		default:
			c = protocoltest.Complete(longGoal, "indexed", "fetch-59")
		}
		return &model.Response{Message: model.Message{ToolCalls: []model.ToolCall{c}}}, nil
	})
	lead := model.NewScripted("lead-model",
		turn(protocoltest.Accept(longRoot)),
		turn(protocoltest.DelegateTo("writer", longGoal)),
		turn(call(agents.ToolAnswerEscalation, agents.AnswerArgs{Answer: "Write them as 0000-00-00 and list them last."})),
		turn(protocoltest.Complete(longRoot, "the writer indexed the archive", "d2")))
	team := orchestrator.Team{Lead: "lead", Members: []orchestrator.Member{
		{Agent: &agents.Agent{Name: "lead", Role: "Leads.", Model: lead}, DelegatesTo: []string{"writer"}},
		{Agent: &agents.Agent{Name: "writer", Role: "Indexes documents.", Model: writer, Tools: []agents.Tool{fetchTool(t, 2048)},
			ContextTokens: 4000}, Supervision: structural, Budget: agents.Budget{Steps: 100}},
	}}
	rt, mem := newRuntime(t, team, &orchestrator.Options{Budget: agents.Budget{Steps: 200}})
	if _, err := rt.Run(t.Context(), longRoot); err != nil {
		t.Fatalf("%v\n%s", err, protocoltest.Trace(mem.Events()))
	}
	var folds []int64
	var revised int64
	for _, e := range mem.Events() {
		switch {
		case e.Type == orchestrator.EventContextCompacted && e.Compaction.Folded > 0:
			folds = append(folds, e.Seq)
		case e.Type == orchestrator.EventReportVerified && e.Verification.Verdict == agents.VerdictRevise:
			revised = e.Seq
		}
	}
	if len(folds) == 0 || folds[len(folds)-1] < revised || revised == 0 {
		t.Fatalf("folds at %v, the report sent back at %d: want a fold after it", folds, revised)
	}
	reqs := writer.Requests()
	var last strings.Builder
	for _, m := range reqs[len(reqs)-1].Messages {
		last.WriteString(m.Content + "\n")
	}
	for _, want := range []string{
		"Your acceptance is not aligned with the delegator's intent (round 1).",
		"0 constraints acknowledged, the goal has 2",
		"Answer from lead: Write them as 0000-00-00 and list them last.",
		`Revise and report again: criterion 2 ("the index is sorted by date") is reported unmet`,
	} {
		if !strings.Contains(last.String(), want) {
			t.Errorf("the last request lost the correction %q", want)
		}
	}
}
