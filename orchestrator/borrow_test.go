package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// lines is a Borrower that keeps the JSON of each event it is lent, as it
// was when lent.
type lines struct {
	got []string
	err error
}

func (l *lines) Emit(_ context.Context, e *orchestrator.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.got = append(l.got, string(b))
	return nil
}

func (l *lines) Borrows() {}

// A Borrower is lent each event from memory the run reuses, while every
// other sink gets a copy of its own that stays as it was emitted; and the
// events of a run whose sinks all borrow are not allocated.
func TestBorrowersAreLent(t *testing.T) {
	const steps = 20
	lent, mem := &lines{}, &orchestrator.Memory{}
	rt, err := orchestrator.New(solo(stepper(steps), newRecorder(t, "note").tool), &orchestrator.Options{
		Sinks: []orchestrator.Sink{lent, mem}, Budget: agents.Budget{Steps: steps + 10}, RunID: "lent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Run(context.Background(), benchGoal); err != nil {
		t.Fatal(err)
	}
	kept := mem.Events()
	if len(kept) != len(lent.got) || len(kept) < 3*steps {
		t.Fatalf("the borrower saw %d events, Memory kept %d; want the same, at least %d", len(lent.got), len(kept), 3*steps)
	}
	for i, e := range kept {
		if b, _ := json.Marshal(e); string(b) != lent.got[i] {
			t.Fatalf("event %d kept as\n%s\nwas emitted as\n%s", i, b, lent.got[i])
		}
		for _, f := range kept[:i] {
			if f == e {
				t.Fatalf("events %d and later share memory", i)
			}
		}
	}

	// A step's three events cost three allocations when a sink keeps them,
	// none when the only sink is a journal.
	allocs := func(sinks ...orchestrator.Sink) float64 {
		rt, err := orchestrator.New(solo(stepper(steps), newRecorder(t, "note").tool), &orchestrator.Options{
			Sinks: sinks, Budget: agents.Budget{Steps: steps + 10}, RunID: "lent"})
		if err != nil {
			t.Fatal(err)
		}
		// The fewest of three measures: a pool emptied by a collection
		// mid-measure adds allocations to either side at random (under
		// -race and load, once, enough to close the gap).
		fewest := math.Inf(1)
		for range 3 {
			fewest = min(fewest, testing.AllocsPerRun(5, func() {
				if _, err := rt.Run(context.Background(), benchGoal); err != nil {
					t.Fatal(err)
				}
			}))
		}
		return fewest
	}
	borrowed, owned := allocs(orchestrator.NewJournal(io.Discard)), allocs(orchestrator.NewJournal(io.Discard), &discard{events: make([]*orchestrator.Event, 0, 512)})
	if owned-borrowed < 3*steps {
		t.Errorf("a run of %d steps made %.0f allocations with a journal, %.0f with a sink that keeps events too; want %d fewer or more", steps, borrowed, owned, 3*steps)
	}
}

// A run whose only sink is a journal, which builds its events in the one it
// lends, writes the journal a run with a sink that keeps events writes: the
// same lines but for their times and latencies.
func TestLentJournalIsTheJournal(t *testing.T) {
	const steps = 5
	journal := func(keep bool) []map[string]any {
		var buf bytes.Buffer
		j := orchestrator.NewJournal(&buf)
		sinks := []orchestrator.Sink{j}
		if keep {
			sinks = append(sinks, &orchestrator.Memory{})
		}
		rt, err := orchestrator.New(solo(stepper(steps), newRecorder(t, "note").tool), &orchestrator.Options{
			Sinks: sinks, Budget: agents.Budget{Steps: steps + 10}, RunID: "lent"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Run(context.Background(), benchGoal); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		var lines []map[string]any
		for l := range bytes.Lines(buf.Bytes()) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			delete(m, "time")
			delete(m, "latency_ms")
			lines = append(lines, m)
		}
		return lines
	}
	lent, owned := journal(false), journal(true)
	if len(lent) < 3*steps || !reflect.DeepEqual(lent, owned) {
		t.Fatalf("a journal alone wrote\n%v\nbeside a sink that keeps events\n%v", lent, owned)
	}
}
