package serve

import (
	"context"
	"testing"

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
	j.listen(func(e *orchestrator.Event) { heard = append(heard, e.Type) })
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
// not heard is bounded, the oldest dropped, the newest kept in order.
func TestJobListenerDoesNotStallTheRun(t *testing.T) {
	const n = 3 * maxBacklog
	j := start(t.Context(), func(ctx context.Context, req *Request) (*Result, error) {
		for i := range n {
			req.Sink.Emit(ctx, &orchestrator.Event{Seq: int64(i + 1)})
		}
		return nil, nil
	}, &Request{}, how{fallback: orchestrator.AutoPrincipal{Deny: true}})
	stuck, release := make(chan struct{}), make(chan struct{})
	var heard []int64
	j.listen(func(e *orchestrator.Event) {
		if len(heard) == 0 {
			close(stuck)
			<-release
		}
		heard = append(heard, e.Seq)
	})
	<-stuck
	<-j.done // the run ended while its listener was stuck
	close(release)
	j.listen(nil)
	// The batch it was stuck in, and the newest maxBacklog.
	if len(heard) > 2*maxBacklog || heard[len(heard)-1] != n {
		t.Fatalf("heard %d events, the last %d; want at most %d, ending with %d", len(heard), heard[len(heard)-1], 2*maxBacklog, n)
	}
	for i := 1; i < len(heard); i++ {
		if heard[i] <= heard[i-1] {
			t.Fatalf("out of order: %d after %d", heard[i], heard[i-1])
		}
	}
}
