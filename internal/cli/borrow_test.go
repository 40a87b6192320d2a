package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
)

// The sinks cmd/run adds by default — the live view, and the log that
// --quiet or --log-level turns on — borrow their events
// (orchestrator.Borrower), so a run with the journal lends them its events
// instead of allocating each.
func TestDefaultSinksBorrow(t *testing.T) {
	if _, ok := any(NewLiveView(io.Discard, nil)).(orchestrator.Borrower); !ok {
		t.Error("the live view does not borrow its events")
	}
	for _, o := range []ObserveOptions{{Quiet: true}, {LogLevel: "debug"}} {
		obs, err := OpenObservers(context.Background(), o, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(obs.Sinks) == 0 {
			t.Fatalf("%+v: no log sink", o)
		}
		for _, s := range obs.Sinks {
			if _, ok := s.(orchestrator.Borrower); !ok {
				t.Errorf("%+v: sink %T does not borrow its events", o, s)
			}
		}
		obs.Close(io.Discard)
	}
}

// The live view keeps nothing of an event once Emit returns: a lent event
// rewritten afterwards (the run reuses it for the next) does not change what
// the view shows.
func TestViewKeepsNoLentEvent(t *testing.T) {
	var out bytes.Buffer
	v := NewLiveView(&out, nil)
	defer v.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &orchestrator.Event{Type: orchestrator.EventRunStarted, Run: "r", Time: start}
	if err := v.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	*e = orchestrator.Event{Type: orchestrator.EventRunFinished, Run: "r", Time: start.Add(3 * time.Second), Status: orchestrator.StatusCompleted}
	if err := v.Emit(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	*e = orchestrator.Event{Type: orchestrator.EventRunStarted, Run: "other", Time: start.Add(time.Hour), Status: orchestrator.StatusFailed}
	lines := strings.Join(v.t.lines(Style{}, 0, start.Add(2*time.Hour), nil), "\n")
	if !strings.Contains(lines, "run completed") || strings.Contains(lines, "failed") {
		t.Errorf("the view changed with the event after Emit:\n%s", lines)
	}
}
