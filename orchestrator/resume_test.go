package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/internal/protocoltest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// countedTool counts its calls and, unlike protocoltest.CountedTool, passes
// on what resume asks of the tool it wraps.
type countedTool struct{ protocoltest.CountedTool }

func (c countedTool) Idempotent() bool { return agents.IsIdempotent(c.Tool) }

func (c countedTool) Reconcile(ctx context.Context, args json.RawMessage) (agents.Result, bool, error) {
	if rc, ok := c.Tool.(agents.Reconciler); ok {
		return rc.Reconcile(ctx, args)
	}
	return agents.Result{}, false, errors.New("cannot tell")
}

// randomRun is a random team of simulators (a chain of one to three agents,
// each with a random persona and supervision) and a random goal.
type randomRun struct {
	personas []sim.Persona
	sup      []*orchestrator.Supervision
	goal     agents.Goal
	limits   orchestrator.Limits
}

func newRandomRun(seed uint64) randomRun {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	personas := append([]sim.Persona{sim.Default, sim.Default}, sim.Personas()...)
	n := 1 + rng.IntN(3)
	var rr randomRun
	for range n {
		rr.personas = append(rr.personas, personas[rng.IntN(len(personas))])
		s := &orchestrator.Supervision{Level: "test", ModelJudge: rng.IntN(2) == 0, ModelVerify: rng.IntN(2) == 0, ProgressEvery: rng.IntN(4)}
		rr.sup = append(rr.sup, s)
	}
	objectives := []string{"Write notes.md about delegation", "Write a haiku about trust to haiku.txt", "Summarise the plan into plan.md"}
	rr.goal = agents.Goal{Objective: objectives[rng.IntN(len(objectives))]}
	for i := range rng.IntN(3) {
		rr.goal.Criteria = append(rr.goal.Criteria, fmt.Sprintf("criterion %d holds", i+1))
	}
	for i := range rng.IntN(2) {
		rr.goal.Constraints = append(rr.goal.Constraints, fmt.Sprintf("constraint %d is kept", i+1))
	}
	rr.limits = orchestrator.Limits{DefaultSteps: 8 + rng.IntN(10)}
	if rng.IntN(3) == 0 {
		rr.goal.Verifiers = []agents.Verifier{func(_ *agents.Goal, r *agents.Report) ([]string, error) {
			if !strings.Contains(r.Result, ".md") {
				return []string{"the result names a Markdown file"}, nil
			}
			return nil, nil
		}}
	}
	return rr
}

// team builds the random team on a workspace in dir; models and tools count
// their calls in calls and runs.
func (rr randomRun) team(t *testing.T, dir string, calls, runs *atomic.Int64) orchestrator.Team {
	t.Helper()
	ws, err := workspace.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	var tools []agents.Tool
	for _, tl := range ws.Tools() {
		tools = append(tools, countedTool{protocoltest.CountedTool{Tool: tl, N: runs}})
	}
	var team orchestrator.Team
	for i, p := range rr.personas {
		name := fmt.Sprintf("agent%d", i)
		m := orchestrator.Member{Agent: &agents.Agent{Name: name, Role: "works on " + name + "'s part",
			Model: protocoltest.CountedModel{Model: sim.New("sim", &sim.Options{Persona: p}), N: calls}, Tools: tools}, Supervision: rr.sup[i]}
		if i+1 < len(rr.personas) {
			m.DelegatesTo = []string{fmt.Sprintf("agent%d", i+1)}
		}
		team.Members = append(team.Members, m)
	}
	team.Lead = "agent0"
	return team
}

// journalOf writes events as a journal and reads them back.
func journalOf(t testing.TB, events []*orchestrator.Event) []*orchestrator.Event {
	t.Helper()
	var buf bytes.Buffer
	j := orchestrator.NewJournal(&buf)
	for _, e := range events {
		if err := j.Emit(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	got, _, err := orchestrator.ReadJournal(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// timeless is an event as JSON without its time and latency, which a replay
// does not reproduce for the acts that are not effects.
func timeless(t testing.TB, e *orchestrator.Event) string {
	t.Helper()
	c := *e
	c.Time, c.LatencyMS = time.Time{}, 0
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Replaying a full journal through the effect seam reproduces the identical
// event sequence (times and latencies aside) and the same outcome, without
// calling any model or tool.
func TestReplayReproducesTheJournal(t *testing.T) {
	seen := map[orchestrator.EventType]bool{}
	for seed := range uint64(40) {
		rr := newRandomRun(seed)
		t.Run(fmt.Sprintf("seed%d-%v", seed, rr.personas), func(t *testing.T) {
			var calls, runs atomic.Int64
			rt, mem := newRuntime(t, rr.team(t, t.TempDir(), &calls, &runs), &orchestrator.Options{Limits: rr.limits})
			out, _ := rt.Run(t.Context(), rr.goal)
			recorded := journalOf(t, mem.Events())
			for _, e := range recorded {
				seen[e.Type] = true
			}
			if calls.Load() == 0 {
				t.Fatal("the run called no model")
			}

			var calls2, runs2 atomic.Int64
			rt2, mem2 := newRuntime(t, rr.team(t, t.TempDir(), &calls2, &runs2), &orchestrator.Options{Limits: rr.limits})
			got, out2, _ := rt2.Replay(t.Context(), recorded)
			if n := calls2.Load(); n != 0 {
				t.Errorf("the replay called models %d times", n)
			}
			if n := runs2.Load(); n != 0 {
				t.Errorf("the replay ran tools %d times", n)
			}
			if n := len(mem2.Events()); n != 0 {
				t.Errorf("the replay sent %d events to the sinks", n)
			}
			if len(got) != len(recorded) {
				t.Errorf("replay emitted %d events, the journal holds %d", len(got), len(recorded))
			}
			for i := range min(len(got), len(recorded)) {
				if a, b := timeless(t, got[i]), timeless(t, recorded[i]); a != b {
					t.Fatalf("event %d differs:\nreplay  %s\njournal %s", i+1, a, b)
				}
			}
			if out2 == nil || out2.Status != out.Status || out2.Total != out.Total || out2.Cause != out.Cause {
				t.Errorf("outcome: replay %+v, run %+v", out2, out)
			}
		})
	}
	// The random runs cover the phases the property is about, so that it
	// cannot pass on trivial runs only.
	var missing []string
	for _, typ := range []orchestrator.EventType{orchestrator.EventGoalAccepted, orchestrator.EventAlignmentJudged,
		orchestrator.EventToolResult, orchestrator.EventProtocolViolation, orchestrator.EventEscalationRaised,
		orchestrator.EventClarificationAsked, orchestrator.EventReportVerified, orchestrator.EventGoalFailed,
		orchestrator.EventGoalCompleted, orchestrator.EventProgressReported} {
		if !seen[typ] {
			missing = append(missing, string(typ))
		}
	}
	if len(missing) > 0 {
		t.Errorf("no random run emitted %s", strings.Join(missing, ", "))
	}
}

// A run stopped after any number of its events and resumed from that
// prefix of its journal ends as the whole run did: no recorded tool result is
// produced again, no recorded model call is made again, every delegation
// ends once, and the resumed journal reads as one run.
func TestResumeFromEveryPrefix(t *testing.T) {
	for _, seed := range []uint64{0, 10, 37} {
		rr := newRandomRun(seed)
		var calls, runs atomic.Int64
		dir := t.TempDir()
		rt, mem := newRuntime(t, rr.team(t, dir, &calls, &runs), &orchestrator.Options{Limits: rr.limits})
		out, _ := rt.Run(t.Context(), rr.goal)
		full := journalOf(t, mem.Events())
		for n := 1; n < len(full); n++ {
			prefix := full[:n]
			var calls2, runs2 atomic.Int64
			rt2, mem2 := newRuntime(t, rr.team(t, dir, &calls2, &runs2), &orchestrator.Options{Limits: rr.limits})
			out2, _ := rt2.Resume(t.Context(), prefix, &orchestrator.ResumeOptions{Verifiers: rr.goal.Verifiers})
			if out2 == nil {
				t.Fatalf("seed %d, %d events: no outcome", seed, n)
			}
			added := mem2.Events()
			if len(added) == 0 || added[0].Type != orchestrator.EventRunResumed || added[0].Seq != prefix[n-1].Seq+1 {
				t.Fatalf("seed %d, %d events: the resume does not begin with run.resumed numbered after the journal: %v", seed, n, types(added[:min(1, len(added))]))
			}
			whole := append(slices.Clone(prefix), added...)
			checkJournal(t, whole)
			if out2.Status != out.Status || out2.Cause != out.Cause {
				t.Errorf("seed %d, %d events: resumed to %s (%s), the run ended %s (%s)", seed, n, out2.Status, out2.Cause, out.Status, out.Cause)
			}
			if got, want := len(whole)-1, len(full); got != want { // run.resumed aside
				if testing.Verbose() {
					for _, e := range full {
						t.Logf("full  %s", timeless(t, e))
					}
					for _, e := range added {
						t.Logf("added %s", timeless(t, e))
					}
				}
				t.Errorf("seed %d, %d events: the resumed journal holds %d events, the run's %d", seed, n, got, want)
			}
			results := map[string]int{}
			for _, e := range whole {
				if e.Type == orchestrator.EventToolResult && !agents.IsProtocolTool(e.Tool) {
					results[fmt.Sprintf("%s/%s/%d/%d", e.Delegation, e.Conversation, e.Turn, e.CallIndex)]++
				}
			}
			for k, c := range results {
				if c > 1 {
					t.Errorf("seed %d, %d events: tool result %s recorded %d times", seed, n, k, c)
				}
			}
			recordedCalls := len(ofType(prefix, orchestrator.EventModelCalled))
			if max := calls.Load() - int64(recordedCalls); calls2.Load() > max {
				t.Errorf("seed %d, %d events: the resume made %d model calls, the run made %d after the first %d", seed, n, calls2.Load(), max, recordedCalls)
			}
		}
	}
}

// recordedEffects are effects that know each call's fate
// (orchestrator.CallRecorder): they give the recorded result of every call.
type recordedEffects struct{ *orchestrator.LiveEffects }

func (recordedEffects) RecordsCalls() bool { return true }

func (recordedEffects) CallTool(context.Context, orchestrator.Key, agents.Tool, *model.ToolCall) orchestrator.Called {
	return orchestrator.Called{Result: agents.Result{Content: "ok (recorded)"}}
}

// A call of a side-effecting tool in flight when the run stopped is not run
// again unless its delegator (here the Principal) says so; an idempotent
// tool's is run again without asking. ResumeOptions.InFlightToEffects hands
// it to effects that know its fate, and to no others: live effects, even
// wrapped, would run it again.
func TestResumeInFlightCall(t *testing.T) {
	g := agents.Goal{Objective: "note it"} // no criterion: what a report cites is not at stake here
	noteCall := call("note", map[string]string{"text": "hello"})
	live := func(string) orchestrator.Effects { return orchestrator.NewLiveEffects(nil) }
	wrapped := func(string) orchestrator.Effects {
		return struct{ *orchestrator.LiveEffects }{orchestrator.NewLiveEffects(nil)}
	}
	recorded := func(string) orchestrator.Effects { return recordedEffects{orchestrator.NewLiveEffects(nil)} }
	for _, tc := range []struct {
		name       string
		idempotent bool
		answer     string
		runs       int64
		escalated  bool
		// toEffects resumes with InFlightToEffects and these effects.
		toEffects func(string) orchestrator.Effects
		// journal resumes with a Journal among the sinks (its effects
		// then commit it before each effect).
		journal bool
	}{
		{name: "live effects given the call in flight: not run again", runs: 0, escalated: true, toEffects: live},
		{name: "wrapped live effects given the call in flight: not run again", runs: 0, escalated: true, toEffects: wrapped},
		{name: "effects that record calls given the call in flight: their result", runs: 0, escalated: false, toEffects: recorded},
		{name: "effects that record calls, with a journal: their result", runs: 0, escalated: false, toEffects: recorded, journal: true},
		{name: "not run again by default", answer: "", runs: 0, escalated: true},
		{name: "run again when the principal says so", answer: "run it again", runs: 1, escalated: true},
		{name: "run again, said with a capital and a full stop", answer: "Run it again.", runs: 1, escalated: true},
		{name: "not run again when the answer says not to", answer: "don't run it again", runs: 0, escalated: true},
		{name: "not run again on a question back", answer: "run it again? no", runs: 0, escalated: true},
		{name: "idempotent tool run again", idempotent: true, runs: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, "note")
			var tool agents.Tool = rec.tool
			if tc.idempotent {
				var err error
				tool, err = agents.DefineTool(agents.ToolSpec{Name: "note", Idempotent: true}, func(ctx context.Context, in struct {
					Text string `json:"text"`
				}) (agents.Result, error) {
					rec.runs.Add(1)
					return agents.Result{Content: "ok"}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			m := model.NewScripted("m", turn(accept(g)), turn(noteCall), turn(complete(g, "noted")))
			rt, mem := newRuntime(t, solo(m, tool), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
			if _, err := rt.Run(t.Context(), g); err != nil {
				t.Fatalf("%v\n%s", err, types(mem.Events()))
			}
			full := journalOf(t, mem.Events())
			cut := slices.IndexFunc(full, func(e *orchestrator.Event) bool {
				return e.Type == orchestrator.EventToolCalled && e.Tool == "note"
			})
			rec.runs.Store(0)

			principal := orchestrator.PrincipalFuncs{Answer: func(_ context.Context, e *agents.Escalation) (agents.Resolution, error) {
				if tc.answer == "" {
					return orchestrator.AutoPrincipal{}.AnswerEscalation(t.Context(), e)
				}
				return agents.Resolution{Answer: tc.answer, Decision: tc.answer}, nil
			}}
			m2 := model.NewScripted("m", turn(complete(g, "noted")))
			opts := &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly, Principal: principal, Effects: tc.toEffects}
			if tc.journal {
				opts.Sinks = []orchestrator.Sink{orchestrator.NewJournal(io.Discard)}
			}
			rt2, mem2 := newRuntime(t, solo(m2, tool), opts)
			out, err := rt2.Resume(t.Context(), full[:cut+1], &orchestrator.ResumeOptions{InFlightToEffects: tc.toEffects != nil})
			if err != nil {
				t.Fatalf("resume: %v (%s)", err, types(mem2.Events()))
			}
			if out.Status != orchestrator.StatusCompleted {
				t.Errorf("resumed run %s: %s", out.Status, out.Reason)
			}
			if got := rec.runs.Load(); got != tc.runs {
				t.Errorf("the tool ran %d times on resume, want %d", got, tc.runs)
			}
			if got := len(ofType(mem2.Events(), orchestrator.EventEscalationRaised)) > 0; got != tc.escalated {
				t.Errorf("escalated: %v, want %v (%s)", got, tc.escalated, types(mem2.Events()))
			}
			if n := m2.Calls(); n != 1 {
				t.Errorf("the resume made %d model calls, want 1 (the turn after the tool's)", n)
			}
		})
	}
}

// A journal that cannot be resumed is refused before anything is emitted.
func TestResumeRefusesWhatItCannotContinue(t *testing.T) {
	g := agents.Goal{Objective: "note it"}
	m := model.NewScripted("m", turn(accept(g)), turn(complete(g, "noted")))
	rt, mem := newRuntime(t, solo(m), &orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
	rt.Run(t.Context(), g)
	full := journalOf(t, mem.Events())
	other, _ := newRuntime(t, solo(model.NewScripted("other")), nil)
	noResponse := journalOf(t, full[:3])
	noResponse[2].Message = nil
	goalChanged := journalOf(t, full[:3])
	goalChanged[0].Goal.Objective = "delete every file"
	configChanged := journalOf(t, full[:3])
	configChanged[0].Config = json.RawMessage(`{"workspace":"/"}`)
	noDigest := journalOf(t, full[:3])
	noDigest[0].GoalHash = ""
	// An action tool call whose model answer the journal does not hold (a
	// run whose endpoint was found down dropped it, before such answers
	// were kept).
	rec := newRecorder(t, "note")
	noted, notedMem := newRuntime(t, solo(model.NewScripted("m", turn(accept(g)), turn(call("note", map[string]string{"text": "hello"})), turn(complete(g, "noted"))), rec.tool),
		&orchestrator.Options{SupervisionFor: orchestrator.StructuralOnly})
	noted.Run(t.Context(), g)
	var unasked []*orchestrator.Event
	for _, e := range journalOf(t, notedMem.Events()) {
		if e.Type == orchestrator.EventModelCalled && e.Turn == 2 {
			continue
		}
		unasked = append(unasked, e)
		if e.Type == orchestrator.EventToolCalled && e.Tool == "note" {
			break
		}
	}
	for _, tc := range []struct {
		name   string
		rt     *orchestrator.Runtime
		events []*orchestrator.Event
		want   string
	}{
		{"empty", rt, nil, "empty"},
		{"finished", rt, full, "finished"},
		{"another team", other, full[:3], "another team"},
		{"no run.started", rt, full[1:3], "run.started"},
		{"no responses", rt, noResponse, "does not hold the model's response"},
		{"goal changed", rt, goalChanged, "its goal or configuration is not the one the run started with"},
		{"configuration changed", rt, configChanged, "its goal or configuration is not the one the run started with"},
		{"no goal digest", rt, noDigest, "records no digest of the goal"},
		{"an action call without its answer", noted, unasked, "has no model answer that asked for it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(mem.Events())
			_, err := tc.rt.Resume(t.Context(), tc.events, nil)
			if !errors.Is(err, orchestrator.ErrNotResumable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Resume: %v, want ErrNotResumable saying %q", err, tc.want)
			}
			if len(mem.Events()) != before {
				t.Error("a refused resume emitted events")
			}
		})
	}
	// A journal from before goal digests resumes when the caller says so.
	if err := rt.CanResume(noDigest, &orchestrator.ResumeOptions{Legacy: true}); err != nil {
		t.Errorf("CanResume(Legacy) of a journal without a goal digest: %v", err)
	}
}

// The decisions made outside any model — the Principal's judgement of the
// lead's acceptance and its verification of the report, a Supervisor's
// answer to a progress report, a goal's verifiers, the supervision trust
// sets — are replayed from the journal: none is asked again.
func TestResumeDoesNotAskDecisionsAgain(t *testing.T) {
	g := agents.Goal{Objective: "note it", Criteria: []string{"noted"}}
	progress := call(agents.ToolReportProgress, agents.ProgressReport{Summary: "half way", Percent: 50})
	script := func() *model.Scripted {
		return model.NewScripted("m", turn(accept(g)), turn(progress), turn(complete(g, "noted")), turn(complete(g, "noted again")))
	}
	var asked struct{ judge, verify, supervise, check, supervision atomic.Int64 }
	principal := &verifyingPrincipal{
		PrincipalFuncs: orchestrator.PrincipalFuncs{Judge: func(context.Context, *agents.Goal, string, *agents.Acceptance) (agents.Alignment, error) {
			asked.judge.Add(1)
			return agents.Alignment{Aligned: true}, nil
		}},
		verify: func() agents.Verification {
			// The first report is sent back, the second accepted.
			if asked.verify.Add(1) == 1 {
				return agents.Verification{Verdict: agents.VerdictRevise, Feedback: "say it again"}
			}
			return agents.Verification{Verdict: agents.VerdictAccept}
		},
	}
	opts := func(sinks ...orchestrator.Sink) *orchestrator.Options {
		return &orchestrator.Options{Principal: principal, Sinks: sinks,
			SupervisionFor: func(string) orchestrator.Supervision {
				asked.supervision.Add(1)
				return orchestrator.Supervision{Level: "test", ProgressEvery: 1}
			},
			Supervisor: func(context.Context, orchestrator.ProgressInfo) orchestrator.Intervention {
				asked.supervise.Add(1)
				return orchestrator.Intervention{Action: orchestrator.ActionRedirect, Instruction: "finish"}
			}}
	}
	goal := g
	goal.Verifiers = []agents.Verifier{func(*agents.Goal, *agents.Report) ([]string, error) {
		asked.check.Add(1)
		return nil, nil
	}}
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(solo(script()), opts(mem))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := rt.Run(t.Context(), goal); err != nil {
		t.Fatalf("run: %v (%s)", err, types(mem.Events()))
	} else if out.Revisions != 1 {
		t.Fatalf("the run had %d revisions, want 1", out.Revisions)
	}
	full := journalOf(t, mem.Events())
	if asked.judge.Load() != 1 || asked.verify.Load() != 2 || asked.supervise.Load() != 1 || asked.check.Load() != 2 || asked.supervision.Load() != 1 {
		t.Fatalf("the run asked judge %d, verify %d, supervise %d, check %d, supervision %d times",
			asked.judge.Load(), asked.verify.Load(), asked.supervise.Load(), asked.check.Load(), asked.supervision.Load())
	}
	// Killed as the second report's model call was in flight.
	cut := full[:slices.IndexFunc(full, func(e *orchestrator.Event) bool {
		return e.Type == orchestrator.EventModelCalled && e.Turn == 4
	})]
	asked.judge.Store(0)
	asked.verify.Store(1) // the next verification accepts
	asked.supervise.Store(0)
	asked.check.Store(0)
	asked.supervision.Store(0)
	mem2 := &orchestrator.Memory{}
	rt2, err := orchestrator.New(solo(model.NewScripted("m", turn(complete(g, "noted again")))), opts(mem2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt2.Resume(t.Context(), cut, nil); !errors.Is(err, orchestrator.ErrNotResumable) {
		t.Fatalf("a resume without the goal's verifiers: %v, want ErrNotResumable", err)
	}
	out, err := rt2.Resume(t.Context(), cut, &orchestrator.ResumeOptions{Verifiers: goal.Verifiers})
	if err != nil {
		t.Fatalf("resume: %v (%s)", err, types(mem2.Events()))
	}
	if out.Revisions != 1 || out.Status != orchestrator.StatusCompleted {
		t.Errorf("resumed to %s with %d revisions", out.Status, out.Revisions)
	}
	if asked.judge.Load() != 0 || asked.supervise.Load() != 0 || asked.supervision.Load() != 0 {
		t.Errorf("the resume asked again: judge %d, supervise %d, supervision %d times", asked.judge.Load(), asked.supervise.Load(), asked.supervision.Load())
	}
	if asked.verify.Load() != 2 || asked.check.Load() != 1 {
		t.Errorf("the resume verified %d and checked %d times the report it had not seen, want once each", asked.verify.Load()-1, asked.check.Load())
	}
}

// verifyingPrincipal is a Principal that also verifies the lead's report.
type verifyingPrincipal struct {
	orchestrator.PrincipalFuncs
	verify func() agents.Verification
}

func (p *verifyingPrincipal) VerifyReport(context.Context, *agents.Goal, string, *agents.Report) (agents.Verification, error) {
	return p.verify(), nil
}

// A resumed run killed in turn resumes again from its journal, now holding
// the first resume's events too.
func TestResumeTwice(t *testing.T) {
	rr := newRandomRun(10)
	var calls, runs atomic.Int64
	dir := t.TempDir()
	rt, mem := newRuntime(t, rr.team(t, dir, &calls, &runs), &orchestrator.Options{Limits: rr.limits})
	out, _ := rt.Run(t.Context(), rr.goal)
	full := journalOf(t, mem.Events())
	resume := func(events []*orchestrator.Event) []*orchestrator.Event {
		t.Helper()
		rt2, mem2 := newRuntime(t, rr.team(t, dir, &calls, &runs), &orchestrator.Options{Limits: rr.limits})
		out2, _ := rt2.Resume(t.Context(), events, &orchestrator.ResumeOptions{Verifiers: rr.goal.Verifiers})
		if out2.Status != out.Status {
			t.Fatalf("resumed to %s, the run ended %s", out2.Status, out.Status)
		}
		return journalOf(t, append(slices.Clone(events), mem2.Events()...))
	}
	first := len(full) / 3
	once := resume(full[:first])
	for second := first + 2; second < len(once); second += 3 {
		twice := resume(once[:second])
		checkJournal(t, twice)
		resumed := ofType(twice, orchestrator.EventRunResumed)
		if len(resumed) != 2 || resumed[1].Attempt != 2 {
			t.Fatalf("cut at %d then %d: %d run.resumed events", first, second, len(resumed))
		}
		if got, want := len(twice)-2, len(full); got != want {
			t.Errorf("cut at %d then %d: %d events besides run.resumed, the run's %d", first, second, got, want)
		}
	}
}
