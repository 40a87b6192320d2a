package temporal_test

import (
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
	entrusttemporal "github.com/entrust-dev/entrust/temporal"
	"go.temporal.io/server/temporaltest"
)

// BenchmarkLeadWriter is the overhead of Temporal per run of a lead that
// delegates to a writer (two delegations, six model calls on the simulator,
// one tool call): in process, and on an in-process Temporal server with one
// worker.
func BenchmarkLeadWriter(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		var c counts
		rt, err := orchestrator.New(leadWriter(b, b.TempDir(), &c), nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if out, err := rt.Run(b.Context(), guideGoal()); err != nil || out.Status != orchestrator.StatusCompleted {
				b.Fatal(out, err)
			}
		}
	})
	b.Run("temporal", func(b *testing.B) {
		ts := newBenchServer(b)
		var c counts
		ts.NewWorker("q", (&entrusttemporal.Worker{Team: leadWriter(b, b.TempDir(), &c)}).Register)
		for b.Loop() {
			r, err := entrusttemporal.Start(b.Context(), ts.GetDefaultClient(), guideGoal(), entrusttemporal.StartOptions{TaskQueue: "q"})
			if err != nil {
				b.Fatal(err)
			}
			if out, err := r.Wait(b.Context()); err != nil || out.Status != orchestrator.StatusCompleted {
				b.Fatal(out, err)
			}
		}
	})
}

func newBenchServer(b *testing.B) *temporaltest.TestServer {
	ts := temporaltest.NewServer()
	b.Cleanup(ts.Stop)
	return ts
}
