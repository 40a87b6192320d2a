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
	}, &Request{}, false, orchestrator.AutoPrincipal{Deny: true})
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
