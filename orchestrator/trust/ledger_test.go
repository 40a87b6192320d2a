package trust_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// feed emits events as one run, numbering and timing them.
func feed(t testing.TB, l *trust.Ledger, run string, events ...*orchestrator.Event) {
	t.Helper()
	for i, e := range events {
		e.Run, e.Seq, e.Time = run, int64(i+1), t0.Add(time.Duration(i)*time.Second)
		if err := l.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// Events of a delegation d2 entrusted by lead (d1) to w.
func started() *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventRunStarted, Agent: "lead"}
}
func offeredLead() *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventGoalOffered, Delegation: "d1", Agent: "lead", Delegator: "user"}
}
func offered() *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventGoalOffered, Delegation: "d2", Parent: "d1", Agent: "w", Delegator: "lead"}
}
func accepted(round int) *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: "d2", Parent: "d1", Agent: "w", Round: round}
}
func judged(round int, aligned bool) *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventAlignmentJudged, Delegation: "d2", Parent: "d1", Agent: "lead", Round: round, Aligned: &aligned}
}
func escalated(id string, blocking bool) *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventEscalationRaised, Delegation: "d2", Parent: "d1", Agent: "w", ID: id,
		Escalation: &agents.Escalation{ID: id, Kind: agents.KindAmbiguity, Question: "which?", Blocking: blocking, From: "w", Delegation: "d2"}}
}
func resolved(id string, refused bool) *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventEscalationResolved, Delegation: "d2", Parent: "d1", Agent: "lead", ID: id,
		Resolution: &agents.Resolution{Answer: "this", Refused: refused, By: "lead"}}
}
func violated() *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventProtocolViolation, Delegation: "d2", Parent: "d1", Agent: "w", Reason: "too early"}
}
func verified(v agents.Verdict) *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventReportVerified, Delegation: "d2", Parent: "d1", Agent: "lead",
		Verification: &agents.Verification{Verdict: v, By: "lead"}}
}
func ended(s orchestrator.Status, reason string) *orchestrator.Event {
	typ := map[orchestrator.Status]orchestrator.EventType{orchestrator.StatusCompleted: orchestrator.EventGoalCompleted,
		orchestrator.StatusFailed: orchestrator.EventGoalFailed, orchestrator.StatusDeclined: orchestrator.EventGoalDeclined}[s]
	e := &orchestrator.Event{Type: typ, Delegation: "d2", Parent: "d1", Agent: "w", Status: s, Reason: reason}
	if strings.HasPrefix(reason, "cancelled") {
		e.Cause = orchestrator.CauseCancelled
	}
	return e
}
func finished() *orchestrator.Event {
	return &orchestrator.Event{Type: orchestrator.EventRunFinished, Agent: "lead", Status: orchestrator.StatusCompleted}
}

func TestRecordFromEvents(t *testing.T) {
	completed := ended(orchestrator.StatusCompleted, "")
	for _, tc := range []struct {
		name   string
		events []*orchestrator.Event
		want   trust.Record // of w; Agent, Delegations, Runs, LastRun and Updated are checked apart
	}{
		{"clean", []*orchestrator.Event{accepted(1), judged(1, true), verified(agents.VerdictAccept), completed},
			trust.Record{AlignedFirstTry: 1, VerifiedCompletions: 1}},
		{"misaligned then aligned", []*orchestrator.Event{accepted(1), judged(1, false), accepted(2), judged(2, true), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, "")},
			trust.Record{Reacceptances: 1, VerifiedCompletions: 1}},
		{"declined", []*orchestrator.Event{ended(orchestrator.StatusDeclined, "not mine")},
			trust.Record{Declines: 1}},
		{"violation", []*orchestrator.Event{violated(), accepted(1), judged(1, true), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, "")},
			trust.Record{Violations: 1, AlignedFirstTry: 1, VerifiedCompletions: 1}},
		{"escalation answered, then completed: helped", []*orchestrator.Event{accepted(1), judged(1, true), escalated("e1", true), resolved("e1", false), ended(orchestrator.StatusCompleted, "")},
			trust.Record{AlignedFirstTry: 1, Escalations: 1, HelpfulEscalations: 1, VerifiedCompletions: 1}},
		{"escalation refused", []*orchestrator.Event{accepted(1), judged(1, true), escalated("e1", true), resolved("e1", true), ended(orchestrator.StatusCompleted, "")},
			trust.Record{AlignedFirstTry: 1, Escalations: 1, VerifiedCompletions: 1}},
		{"escalation answered, then failed", []*orchestrator.Event{accepted(1), judged(1, true), escalated("e1", true), resolved("e1", false), ended(orchestrator.StatusFailed, "budget exceeded: steps")},
			trust.Record{AlignedFirstTry: 1, Escalations: 1, Failures: 1}},
		{"escalation not blocking", []*orchestrator.Event{accepted(1), judged(1, true), escalated("e1", false), resolved("e1", false), ended(orchestrator.StatusCompleted, "")},
			trust.Record{AlignedFirstTry: 1, Escalations: 1, VerifiedCompletions: 1}},
		{"revised, then accepted", []*orchestrator.Event{accepted(1), judged(1, true), verified(agents.VerdictRevise), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, "")},
			trust.Record{AlignedFirstTry: 1, RejectedReports: 1, VerifiedCompletions: 1}},
		{"rejected", []*orchestrator.Event{accepted(1), judged(1, true), verified(agents.VerdictReject), ended(orchestrator.StatusFailed, "report rejected: no")},
			trust.Record{AlignedFirstTry: 1, RejectedReports: 1, Failures: 1}},
		{"cancelled", []*orchestrator.Event{accepted(1), judged(1, true), ended(orchestrator.StatusFailed, "cancelled (unresolved escalations: e1)")},
			trust.Record{AlignedFirstTry: 1, Cancelled: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
			if err != nil {
				t.Fatal(err)
			}
			events := append([]*orchestrator.Event{started(), offeredLead(), offered()}, tc.events...)
			events = append(events, finished())
			feed(t, l, "r1", events...)
			got, ok := l.Record("w", "")
			if !ok {
				t.Fatal("no record for w")
			}
			if got.Delegations != 1 || got.Runs != 1 || got.LastRun != "r1" || got.Updated.IsZero() {
				t.Errorf("delegations %d, runs %d, last run %q, updated %v", got.Delegations, got.Runs, got.LastRun, got.Updated)
			}
			got.Agent, got.Delegations, got.Runs, got.LastRun, got.Updated = "", 0, 0, "", time.Time{}
			if got != tc.want {
				t.Errorf("record\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// An escalation a delegator passes up is its delegate's question: it counts
// for neither as the delegator's own.
func TestPassedUpEscalationIsNotTheDelegators(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	up := &orchestrator.Event{Type: orchestrator.EventEscalationRaised, Delegation: "d1", Agent: "lead", ID: "e2",
		Escalation: &agents.Escalation{ID: "e2", Blocking: true, From: "lead", Delegation: "d1", Via: []string{"w"}}}
	feed(t, l, "r1", started(), offeredLead(), offered(), accepted(1), judged(1, true), escalated("e1", true), up,
		&orchestrator.Event{Type: orchestrator.EventEscalationResolved, Delegation: "d1", Agent: "user", ID: "e2", Resolution: &agents.Resolution{Answer: "yes", By: "user"}},
		resolved("e1", false), ended(orchestrator.StatusCompleted, ""), finished())
	if r, _ := l.Record("lead", ""); r.Escalations != 0 {
		t.Errorf("lead has %d escalations, want 0", r.Escalations)
	}
	if r, _ := l.Record("w", ""); r.Escalations != 1 || r.HelpfulEscalations != 1 {
		t.Errorf("w: %d escalations, %d helpful; want 1, 1", r.Escalations, r.HelpfulEscalations)
	}
}

func TestScoreAndLevels(t *testing.T) {
	clean := func(n int) *trust.Record {
		return &trust.Record{Agent: "a", Delegations: n, AlignedFirstTry: n, VerifiedCompletions: n}
	}
	for _, tc := range []struct {
		name     string
		r        *trust.Record
		level    orchestrator.Level
		mean, sd float64
	}{
		{"no record", nil, trust.LevelNew, 0.5, math.Sqrt(4.0 / (16 * 5))},
		{"only declines", &trust.Record{Declines: 3}, trust.LevelNew, 0.5, math.Sqrt(4.0 / (16 * 5))},
		{"one clean", clean(1), trust.LevelMedium, 5.0 / 7, math.Sqrt(10.0 / (49 * 8))},
		{"two clean", clean(2), trust.LevelMedium, 8.0 / 10, math.Sqrt(16.0 / (100 * 11))},
		{"three clean", clean(3), trust.LevelHigh, 11.0 / 13, math.Sqrt(22.0 / (169 * 14))},
		{"one violation", &trust.Record{Violations: 1}, trust.LevelLow, 0.4, math.Sqrt(6.0 / (25 * 6))},
		{"one failure", &trust.Record{Failures: 1, AlignedFirstTry: 1}, trust.LevelLow, 3.0 / 7, math.Sqrt(12.0 / (49 * 8))},
		{"four clean, two rejected reports", &trust.Record{AlignedFirstTry: 4, VerifiedCompletions: 4, RejectedReports: 2}, trust.LevelMedium, 14.0 / 18, math.Sqrt(56.0 / (324 * 19))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mean, sd := tc.r.Score()
			if math.Abs(mean-tc.mean) > 1e-9 || math.Abs(sd-tc.sd) > 1e-9 {
				t.Errorf("score %.4f ± %.4f, want %.4f ± %.4f", mean, sd, tc.mean, tc.sd)
			}
			if got := trust.DefaultPolicy().Supervision(tc.r).Level; got != tc.level {
				t.Errorf("level %s, want %s (score %.3f ± %.3f)", got, tc.level, mean, sd)
			}
		})
	}
	p := trust.DefaultPolicy()
	if !p.Low.ModelJudge || p.High.ModelJudge || !(p.Low.ProgressEvery > 0 && p.Low.ProgressEvery < p.New.ProgressEvery && p.New.ProgressEvery < p.Medium.ProgressEvery) || p.High.ProgressEvery != 0 {
		t.Errorf("default levels are not ordered by closeness: %+v", p)
	}
}

func TestLedgerSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs", "trust.json")
	l, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, l, "r1", started(), offeredLead(), offered(), violated(), accepted(1), judged(1, true), escalated("e1", true),
		resolved("e1", false), verified(agents.VerdictAccept), ended(orchestrator.StatusCompleted, ""), finished())
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Records(), l.Records()) {
		t.Fatalf("after a restart:\n got %+v\nwant %+v", again.Records(), l.Records())
	}
	if a, b := again.SupervisionFor("w"), l.SupervisionFor("w"); a != b {
		t.Errorf("supervision after a restart %+v, want %+v", a, b)
	}
	// Records keep accumulating across runs.
	feed(t, again, "r2", started(), offeredLead(), offered(), accepted(1), judged(1, true), ended(orchestrator.StatusCompleted, ""), finished())
	if r, _ := again.Record("w", ""); r.Runs != 2 || r.VerifiedCompletions != 2 || r.LastRun != "r2" {
		t.Errorf("after a second run: %+v", r)
	}
}

func TestLedgerSurvivesATornWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trust.json")
	l, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	feed(t, l, "r1", started(), offeredLead(), offered(), accepted(1), judged(1, true), ended(orchestrator.StatusCompleted, ""), finished())
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a crash mid-save leaves a partial temp file", func(t *testing.T) {
		// What a crash between write and rename leaves: the old file
		// whole, and a torn temporary file beside it.
		if err := os.WriteFile(filepath.Join(dir, "trust.json.tmp-123456"), good[:len(good)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := trust.Open(path)
		if err != nil {
			t.Fatalf("Open after a torn temp file: %v", err)
		}
		if !reflect.DeepEqual(again.Records(), l.Records()) {
			t.Errorf("records after a torn temp file:\n got %+v\nwant %+v", again.Records(), l.Records())
		}
		// And the next save goes through.
		if err := again.Save(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a truncated ledger is a clear error", func(t *testing.T) {
		for _, n := range []int{0, 1, len(good) / 2, len(good) - 3} {
			if err := os.WriteFile(path, good[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := trust.Open(path)
			if !errors.Is(err, trust.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("Open of %d of %d bytes: %v; want ErrCorrupt naming %s", n, len(good), err, path)
			}
		}
		// Open resets nothing: the torn file is still there.
		if b, _ := os.ReadFile(path); len(b) != len(good)-3 {
			t.Errorf("the corrupt file was changed: %d bytes", len(b))
		}
	})

	t.Run("another format is a clear error", func(t *testing.T) {
		for _, body := range []string{`{"version": 2, "records": []}`, `[1, 2]`, `{"version": 1, "records": [{"agent": ""}]}`, `{"version": 1} {}`} {
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := trust.Open(path); !errors.Is(err, trust.ErrCorrupt) {
				t.Errorf("Open of %s: %v, want ErrCorrupt", body, err)
			}
		}
	})
}

func TestOpenMissingFileIsEmpty(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "none", "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records()) != 0 {
		t.Errorf("records %v", l.Records())
	}
	if s := l.SupervisionFor("anyone"); s.Level != trust.LevelNew || !s.ModelJudge {
		t.Errorf("supervision of an unknown agent: %+v", s)
	}
}

// TestLedgerConcurrentUse runs many runs' events, supervision look-ups and
// saves at once; run it with -race.
func TestLedgerConcurrentUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trust.json")
	l, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 16
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			run := "r" + string(rune('a'+i))
			for j, e := range []*orchestrator.Event{started(), offeredLead(), offered(), accepted(1), judged(1, true), ended(orchestrator.StatusCompleted, ""), finished()} {
				e.Run, e.Seq, e.Time = run, int64(j+1), t0
				_ = l.Emit(context.Background(), e)
				_ = l.SupervisionFor("w")
			}
			if err := l.Save(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	r, _ := l.Record("w", "")
	if r.Runs != runs || r.VerifiedCompletions != runs {
		t.Errorf("after %d concurrent runs: %+v", runs, r)
	}
	again, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Records(), l.Records()) {
		t.Error("the last save does not hold the last records")
	}
	matches, _ := filepath.Glob(path + ".tmp-*")
	if len(matches) != 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// Events that name no agent or an unknown delegation count for no one.
func TestLedgerIgnoresAnonymousEvents(t *testing.T) {
	l, err := trust.Open(filepath.Join(t.TempDir(), "trust.json"))
	if err != nil {
		t.Fatal(err)
	}
	aligned := true
	feed(t, l, "r1",
		&orchestrator.Event{Type: orchestrator.EventGoalOffered, Delegation: "d1"},
		&orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: "d1", Round: 2},
		&orchestrator.Event{Type: orchestrator.EventAlignmentJudged, Delegation: "d9", Agent: "lead", Round: 1, Aligned: &aligned},
		&orchestrator.Event{Type: orchestrator.EventGoalFailed, Delegation: "d1"},
		&orchestrator.Event{Type: orchestrator.EventRunFinished})
	if recs := l.Records(); len(recs) != 0 {
		t.Errorf("records %+v, want none", recs)
	}
}

// TestSaveOnceCountsARunOnce: two processes follow the same run to its end
// and both save it (entrust-temporal run and follow): it is counted once.
// A plain Save in between keeps the runs remembered, and another run is
// counted.
func TestSaveOnceCountsARunOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trust.json")
	run := func(l *trust.Ledger, id string) {
		feed(t, l, id, started(), offeredLead(), offered(), accepted(1), judged(1, true), ended(orchestrator.StatusCompleted, ""), finished())
	}
	open := func() *trust.Ledger {
		l, err := trust.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b, plain := open(), open(), open()
	run(a, "r1")
	run(b, "r1")
	if counted, err := a.SaveOnce("r1"); err != nil || !counted {
		t.Fatalf("first save of r1: %v, %v", counted, err)
	}
	run(plain, "r0")
	if err := plain.Save(); err != nil {
		t.Fatal(err)
	}
	if counted, err := b.SaveOnce("r1"); err != nil || counted {
		t.Fatalf("second save of r1: counted %v, %v", counted, err)
	}
	if r, _ := b.Record("w", ""); r.Runs != 2 || r.VerifiedCompletions != 2 {
		t.Errorf("r0 and r1, r1 saved twice: %+v, want 2 runs", r)
	}
	c := open()
	run(c, "r2")
	if counted, err := c.SaveOnce("r2"); err != nil || !counted {
		t.Fatalf("r2: %v, %v", counted, err)
	}
	if r, _ := open().Record("w", ""); r.Runs != 3 || r.VerifiedCompletions != 3 {
		t.Errorf("r0, r1 and r2: %+v, want 3 runs", r)
	}
	if _, err := c.SaveOnce(""); err == nil {
		t.Error("SaveOnce without a run's id")
	}
}
