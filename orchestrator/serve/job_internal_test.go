package serve

import (
	"context"
	"strings"
	"testing"

	"github.com/a2aproject/a2a-go/a2a"
	"github.com/a2aproject/a2a-go/a2asrv"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A run starts before the request that started it listens: the events it
// emits meanwhile reach the listener, in order, instead of being lost (a
// streaming A2A client missed the lead's acceptance this way).
func TestJobKeepsEventsUntilSomeoneListens(t *testing.T) {
	emitted, release := make(chan struct{}), make(chan struct{})
	j := start(t.Context(), func(ctx context.Context, req *Request) (*Result, error) {
		for _, typ := range []orchestrator.EventType{orchestrator.EventGoalOffered, orchestrator.EventGoalAccepted} {
			req.Sink.Emit(ctx, &orchestrator.Event{Type: typ})
		}
		close(emitted)
		<-release
		req.Sink.Emit(ctx, &orchestrator.Event{Type: orchestrator.EventGoalCompleted})
		return nil, nil
	}, &Request{}, how{fallback: orchestrator.AutoPrincipal{Deny: true}})
	<-emitted
	var heard []orchestrator.EventType
	j.listen(func(e *orchestrator.Event, _ int, _ string) { heard = append(heard, e.Type) })
	close(release)
	<-j.done
	j.listen(nil)
	want := []orchestrator.EventType{orchestrator.EventGoalOffered, orchestrator.EventGoalAccepted, orchestrator.EventGoalCompleted}
	if len(heard) != len(want) {
		t.Fatalf("heard %v, want %v", heard, want)
	}
	for i := range want {
		if heard[i] != want[i] {
			t.Fatalf("heard %v, want %v", heard, want)
		}
	}
}

// A listener that does not return (a client that stopped reading) stalls
// neither the run, whose emit never waits on it, nor memory: what it has
// not heard is bounded, the oldest dropped, the newest kept in order. It is
// told how many were dropped, before the first event after them, and
// where the run's journal is.
func TestJobListenerDoesNotStallTheRun(t *testing.T) {
	const n = 3 * MaxBacklog
	j := start(t.Context(), func(ctx context.Context, req *Request) (*Result, error) {
		req.SetJournal("/runs/r.jsonl")
		for i := range n {
			req.Sink.Emit(ctx, &orchestrator.Event{Seq: int64(i + 1)})
		}
		return nil, nil
	}, &Request{}, how{fallback: orchestrator.AutoPrincipal{Deny: true}})
	stuck, release := make(chan struct{}), make(chan struct{})
	var heard []int64
	gaps := map[int64]int{} // the event heard → events dropped before it
	j.listen(func(e *orchestrator.Event, missed int, journal string) {
		if len(heard) == 0 {
			close(stuck)
			<-release
		}
		if missed > 0 {
			gaps[e.Seq] = missed
			if journal != "/runs/r.jsonl" {
				t.Errorf("told of %d events missed, with the journal %q", missed, journal)
			}
		}
		heard = append(heard, e.Seq)
	})
	<-stuck
	<-j.done // the run ended while its listener was stuck
	close(release)
	j.listen(nil)
	// The batch it was stuck in, and the newest MaxBacklog.
	if len(heard) > 2*MaxBacklog || heard[len(heard)-1] != n {
		t.Fatalf("heard %d events, the last %d; want at most %d, ending with %d", len(heard), heard[len(heard)-1], 2*MaxBacklog, n)
	}
	// Every event was heard or counted as dropped, each gap told before
	// the event after it.
	missed, last := 0, int64(0)
	for _, seq := range heard {
		if seq != last+1+int64(gaps[seq]) {
			t.Fatalf("heard %d after %d, told of %d dropped between", seq, last, gaps[seq])
		}
		missed += gaps[seq]
		last = seq
	}
	if missed == 0 || len(heard)+missed != n {
		t.Errorf("heard %d and told of %d dropped, of %d", len(heard), missed, n)
	}
}

// writes is an A2A event queue's writing end that keeps what is written.
type writes []a2a.Event

func (w *writes) Write(_ context.Context, e a2a.Event) error {
	*w = append(*w, e)
	return nil
}

// A task's client that missed events is told so in its stream, before the
// next milestone: a working status update saying how many, with a data
// part that counts them and names the journal.
func TestA2AProgressTellsOfEventsDropped(t *testing.T) {
	var w writes
	rc := &a2asrv.RequestContext{TaskID: "t1", ContextID: "c1"}
	fn := a2aProgress(t.Context(), rc, &w)
	fn(&orchestrator.Event{Type: orchestrator.EventGoalAccepted, Delegation: "d1", Agent: "lead"}, 0, "")
	fn(&orchestrator.Event{Type: orchestrator.EventGoalCompleted, Delegation: "d1", Agent: "lead"}, 37, "/runs/r.jsonl")
	if len(w) != 3 {
		t.Fatalf("wrote %d events, want the accepted, the note of what was dropped, the completed", len(w))
	}
	note, ok := w[1].(*a2a.TaskStatusUpdateEvent)
	if !ok || note.Status.State != a2a.TaskStateWorking || note.Status.Message == nil || len(note.Status.Message.Parts) != 2 {
		t.Fatalf("the note: %#v", w[1])
	}
	text, _ := note.Status.Message.Parts[0].(a2a.TextPart)
	data, _ := note.Status.Message.Parts[1].(a2a.DataPart)
	missed, _ := data.Data["missed"].(map[string]any)
	if !strings.HasPrefix(text.Text, "37 of the run's events were dropped unsent") || !strings.HasSuffix(text.Text, "/runs/r.jsonl") ||
		missed["events"] != 37 || missed["journal"] != "/runs/r.jsonl" {
		t.Errorf("the note says %q, %v", text.Text, data.Data)
	}
	if last := w[2].(*a2a.TaskStatusUpdateEvent); !strings.Contains(last.Status.Message.Parts[0].(a2a.TextPart).Text, "goal.completed") {
		t.Errorf("the milestone after the note: %#v", last)
	}
}
