package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/agents/workspace"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/teamfile"
)

// simRun runs the built-in team offline, in process, with extra sinks, and
// returns its events.
func simRun(t *testing.T, goal agents.Goal, sinks ...orchestrator.Sink) []*orchestrator.Event {
	t.Helper()
	ws, err := workspace.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	tools := map[string]agents.Tool{}
	for _, tl := range ws.Tools() {
		tools[tl.Def().Name] = tl
	}
	team, err := teamfile.Default().Build(&teamfile.BuildOptions{Tools: tools,
		Model: func(s teamfile.AgentSpec) (model.Model, error) { return sim.New("sim", nil), nil }})
	if err != nil {
		t.Fatal(err)
	}
	mem := &orchestrator.Memory{}
	rt, err := orchestrator.New(team, &orchestrator.Options{Sinks: append(sinks, mem)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(context.Background(), goal); err != nil {
		t.Fatal(err)
	}
	return mem.Events()
}

func TestPlainViewLinesAsEventsHappen(t *testing.T) {
	var out strings.Builder
	v := NewLiveView(&out, nil)
	simRun(t, agents.Goal{Objective: "Write a haiku about delegation", Criteria: []string{"a haiku is in the workspace"}}, v)
	v.Close()
	got := out.String()
	for _, want := range []string{
		`run `, `started: "Write a haiku about delegation"`,
		`d1 lead: offered by user: "Write a haiku about delegation"`,
		`d1 lead: accepted (round 1)`,
		`d1 lead: aligned (judged by the policy)`,
		`  d2 writer: offered by lead`,
		`  d2 writer: aligned (judged by lead)`,
		`  d2 writer: tool write_file `,
		`  d2 writer: report verified by lead: accept`,
		`  d2 writer: completed · `,
		`d1 lead: completed · `,
		`run completed · `,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "\x1b[") {
		t.Error("colour written to a pipe")
	}
	if strings.Contains(got, "accept_goal") || strings.Contains(got, "model.called") {
		t.Errorf("protocol noise in the plain view:\n%s", got)
	}
}

type fixedScore struct{}

func (fixedScore) Score(string) (float64, float64) { return 0.75, 0.1 }

func TestTreeLines(t *testing.T) {
	events := simRun(t, agents.Goal{Objective: "Write a haiku about delegation"})
	tr := newTracker()
	for _, e := range events {
		tr.apply(e)
	}
	lines := tr.lines(Style{}, 0, time.Now(), fixedScore{})
	text := strings.Join(lines, "\n")
	if !strings.HasPrefix(lines[0], "entrust · run ") || !strings.Contains(lines[0], "model calls") {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{"✓ lead ← user  completed · aligned by the policy", "└─ ✓ writer ← lead  completed · aligned by lead",
		"trust 0.75±0.10", "run completed"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// Cut to a width, every line fits.
	for _, l := range tr.lines(Style{}, 40, time.Now(), nil) {
		if n := len([]rune(l)); n > 40 {
			t.Errorf("line of %d runes at width 40: %q", n, l)
		}
	}
}

func TestTreeShowsOpenEscalationsAndFailures(t *testing.T) {
	tr := newTracker()
	now := time.Now()
	f := false
	for _, e := range []*orchestrator.Event{
		{Type: orchestrator.EventRunStarted, Time: now, Run: "r", Goal: &agents.Goal{Objective: "g"}},
		{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d1", Agent: "lead", Delegator: "user", Goal: &agents.Goal{Objective: "g"}},
		{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d2", Parent: "d1", Agent: "w", Delegator: "lead", Depth: 1, Goal: &agents.Goal{Objective: "sub"}},
		{Type: orchestrator.EventAlignmentJudged, Time: now, Delegation: "d2", Aligned: &f, Alignment: &agents.Alignment{Gaps: []string{"intent drifted"}, By: "lead"}},
		{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d3", Parent: "d1", Agent: "x", Delegator: "lead", Depth: 1, Goal: &agents.Goal{Objective: "other"}},
		{Type: orchestrator.EventAlignmentJudged, Time: now, Delegation: "d3", Aligned: new(bool(true)), Alignment: &agents.Alignment{Aligned: true, By: "lead"}},
		{Type: orchestrator.EventEscalationRaised, Time: now, Delegation: "d3", ID: "e1", Escalation: &agents.Escalation{Kind: "risk", Question: "Delete it?"}},
		{Type: orchestrator.EventModelCalled, Time: now, Delegation: "d3", Model: "gpt-4o-mini", Usage: &model.Usage{PromptTokens: 1000, CompletionTokens: 100}},
	} {
		tr.apply(e)
	}
	text := strings.Join(tr.lines(Style{}, 0, now, nil), "\n")
	for _, want := range []string{"├─ ≠ w ← lead  misaligned", "≠ intent drifted", "└─ ? x ← lead  waiting on e1", "⚠ e1 risk: Delete it?", "1,100 tok $0.0002", "$0.0002"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	tr.apply(&orchestrator.Event{Type: orchestrator.EventEscalationResolved, Time: now, Delegation: "d3", ID: "e1", Resolution: &agents.Resolution{Refused: true, Answer: "no", By: "user"}})
	tr.apply(&orchestrator.Event{Type: orchestrator.EventGoalFailed, Time: now, Delegation: "d3", Status: orchestrator.StatusFailed, Reason: "budget exceeded: steps"})
	text = strings.Join(tr.lines(Style{}, 0, now, nil), "\n")
	for _, want := range []string{"↳ e1 risk refused by the user: no", "✗ x ← lead  failed", "budget exceeded: steps"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
}

func TestCost(t *testing.T) {
	u := model.Usage{PromptTokens: 1_000_000, CompletionTokens: 1_000_000}
	if c, ok := CostOf("gpt-4o-mini-2024-07-18", u); !ok || c < 0.749 || c > 0.751 {
		t.Errorf("gpt-4o-mini: %v %v", c, ok)
	}
	if c, ok := CostOf("gpt-4o-2024-08-06", u); !ok || c != 12.5 {
		t.Errorf("gpt-4o: %v %v", c, ok)
	}
	if c, ok := CostOf("sim/eager", u); !ok || c != 0 {
		t.Errorf("sim: %v %v", c, ok)
	}
	if _, ok := CostOf("qwen2.5:7b", u); ok {
		t.Error("a local model has a price")
	}
}

func TestThousandsAndClip(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("thousands(%d) = %s", n, got)
		}
	}
	if got := Clip("a\nb  c", 10); got != "a b c" {
		t.Errorf("clip folded to %q", got)
	}
	if got := Clip("abcdefghij", 5); got != "abcd…" {
		t.Errorf("clip cut to %q", got)
	}
}

// TestTerminalRedraw: on a terminal each draw moves back over the last one
// and erases it; a pause draws and stops; text logged is held until the
// view closes.
func TestTerminalRedraw(t *testing.T) {
	var buf strings.Builder
	v := &LiveView{out: &buf, tty: true, st: Style{on: true}, now: time.Now, t: newTracker(),
		stop: make(chan struct{}), done: make(chan struct{})}
	close(v.done) // no redraw loop: the test draws
	now := time.Now()
	v.Emit(context.Background(), &orchestrator.Event{Type: orchestrator.EventRunStarted, Time: now, Run: "r1"})
	v.Emit(context.Background(), &orchestrator.Event{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d1", Agent: "lead", Delegator: "user", Goal: &agents.Goal{Objective: "g"}})
	if buf.Len() != 0 {
		t.Fatalf("drew before a tick: %q", buf.String())
	}
	v.mu.Lock()
	v.draw()
	first := buf.String()
	buf.Reset()
	v.draw()
	second := buf.String()
	v.mu.Unlock()
	if strings.Contains(first, "\x1b[2A") || !strings.Contains(first, "lead") || !strings.Contains(first, "\x1b[") {
		t.Errorf("first draw %q", first)
	}
	if !strings.HasPrefix(second, "\r\x1b[2A\x1b[J") {
		t.Errorf("second draw does not move back over two lines: %q", second)
	}
	buf.Reset()
	var logged strings.Builder
	lw := v.LogWriter(&logged)
	lw.Write([]byte("level=WARN msg=x\n"))
	if buf.Len() != 0 || logged.Len() != 0 {
		t.Errorf("a log line written while the tree is drawn: %q %q", buf.String(), logged.String())
	}
	buf.Reset()
	v.Pause()
	v.mu.Lock()
	paused := v.paused
	v.mu.Unlock()
	if !paused || !strings.Contains(buf.String(), "lead") {
		t.Errorf("pause: paused %v, drew %q", paused, buf.String())
	}
	v.Resume()
	buf.Reset()
	v.mu.Lock()
	v.draw()
	v.mu.Unlock()
	if strings.Contains(buf.String(), "\x1b[2A") {
		t.Errorf("after resume the draw moved back over the prompt: %q", buf.String())
	}
	// The log held comes after the final tree.
	v.Close()
	v.FlushLog()
	if logged.String() != "level=WARN msg=x\n" {
		t.Errorf("log after close %q", logged.String())
	}
	lw.Write([]byte("after\n"))
	if logged.String() != "level=WARN msg=x\nafter\n" {
		t.Errorf("log after close %q", logged.String())
	}
}

// A tool used off the accepted plan is noted for the verifier, not refused:
// the view says so, and keeps "protocol violation" for what was refused.
func TestUnplannedToolIsNotedNotRefused(t *testing.T) {
	tr := newTracker()
	for _, tc := range []struct {
		kind orchestrator.ViolationKind
		want string
	}{
		{orchestrator.ViolationUnplannedTool, "noted: list_files used"},
		{orchestrator.ViolationNotAllowed, "protocol violation: list_files used"},
	} {
		got := tr.describe(&orchestrator.Event{Type: orchestrator.EventProtocolViolation, Violation: tc.kind, Reason: "list_files used"})
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.kind, got, tc.want)
		}
	}
}

// TestViewSaysWhoInWords: who judged, answered or verified is said as a
// reader would say it, in the plain lines and in the tree: the runtime's
// structural checks are not "structural", the user is "the user".
func TestViewSaysWhoInWords(t *testing.T) {
	now := time.Now()
	yes, no := true, false
	events := []*orchestrator.Event{
		{Type: orchestrator.EventRunStarted, Time: now, Run: "r", Goal: &agents.Goal{Objective: "g"}},
		{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d1", Agent: "lead", Delegator: "user", Goal: &agents.Goal{Objective: "g"}},
		{Type: orchestrator.EventGoalOffered, Time: now, Delegation: "d2", Parent: "d1", Agent: "writer", Delegator: "lead", Depth: 1, Goal: &agents.Goal{Objective: "sub"}},
		{Type: orchestrator.EventAlignmentJudged, Time: now, Delegation: "d2", Aligned: &yes, Alignment: &agents.Alignment{Aligned: true, By: agents.ByStructural}},
		{Type: orchestrator.EventAlignmentJudged, Time: now, Delegation: "d1", Aligned: &no, Alignment: &agents.Alignment{Gaps: []string{"no one answered"}, By: agents.ByRuntime}},
		{Type: orchestrator.EventEscalationRaised, Time: now, Delegation: "d2", ID: "e1", Escalation: &agents.Escalation{Kind: "risk", Question: "Delete it?"}},
		{Type: orchestrator.EventEscalationResolved, Time: now, Delegation: "d2", ID: "e1", Resolution: &agents.Resolution{Answer: "no", By: agents.ByUser}},
		{Type: orchestrator.EventReportVerified, Time: now, Delegation: "d2", Verification: &agents.Verification{Verdict: agents.VerdictAccept, By: agents.ByRuntime}},
	}
	var out strings.Builder
	v := NewLiveView(&out, nil)
	tr := newTracker()
	for _, e := range events {
		if err := v.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		tr.apply(e)
	}
	v.Close()
	tree := strings.Join(tr.lines(Style{}, 0, now, nil), "\n")
	for _, c := range []struct{ in, want string }{
		{out.String(), "d2 writer: aligned (judged by the runtime's checks)"},
		{out.String(), "d1 lead: misaligned (judged by the runtime): no one answered"},
		{out.String(), "e1 answered by the user: no"},
		{out.String(), "d2 writer: report verified by the runtime: accept"},
		{tree, "aligned by the runtime's checks"},
		{tree, "answered by the user: no"},
	} {
		if !strings.Contains(c.in, c.want) {
			t.Errorf("missing %q in\n%s", c.want, c.in)
		}
	}
	for _, raw := range []string{"by structural", "by runtime", "by user: no"} {
		if strings.Contains(out.String()+tree, raw) {
			t.Errorf("%q said as the raw value:\n%s\n%s", raw, out.String(), tree)
		}
	}
}
