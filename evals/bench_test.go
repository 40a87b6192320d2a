package evals_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/evals"
)

// thousand returns the built-in suite cycled to 20 scenarios (copies
// renamed), so that 50 trials of each make 1,000.
func thousand(t testing.TB) []*evals.Scenario {
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var out []*evals.Scenario
	for i := 0; len(out) < 20; i++ {
		sc := *suite[i%len(suite)]
		if i >= len(suite) {
			sc.Name = fmt.Sprintf("%s-%d", sc.Name, i/len(suite)+1)
		}
		out = append(out, &sc)
	}
	return out
}

// TestThousandTrials runs 1,000 offline trials with the run directory
// written (trials.jsonl, 1,000 journals, the reports) and logs the wall
// time and the peak memory. Skipped with -short and under the race
// detector (TestBuiltinSuitePasses and TestRunDirectory run the same code
// concurrently there).
func TestThousandTrials(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1,000 trials: skipped with -short and -race")
	}
	suite := thousand(t)
	dir := t.TempDir()
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := evals.NewRunner(&evals.RunnerOptions{Trials: 50, OutDir: dir, Checks: evals.BuiltinChecks()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := r.Run(t.Context(), suite)
	wall := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	if rep.Summary.Trials != 1000 {
		t.Fatalf("%d trials, want 1000", rep.Summary.Trials)
	}
	if rep.Summary.PassRate != 1 {
		t.Errorf("pass rate %v over 1,000 trials; failing: %d", rep.Summary.PassRate, len(rep.Failed()))
	}
	t.Logf("1,000 trials on %d CPUs (parallel %d): wall %v (%.0f trials/s), trial p50 %.1f ms p95 %.1f ms; "+
		"peak heap in use %.1f MiB, allocated %.0f MiB in total, max RSS %.1f MiB; %d model calls, %d tokens",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), wall.Round(time.Millisecond), 1000/wall.Seconds(),
		rep.Summary.DurationP50MS, rep.Summary.DurationP95MS,
		float64(peakHeap.Load())/(1<<20), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), float64(ru.Maxrss)/1024,
		rep.Summary.Usage.ModelCalls, rep.Summary.Usage.TotalTokens)
}

// BenchmarkTrials measures one offline trial of each built-in scenario,
// scored, without a run directory.
func BenchmarkTrials(b *testing.B) {
	suite, err := evals.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	checks := evals.BuiltinChecks()
	r, err := evals.NewRunner(&evals.RunnerOptions{Checks: checks})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sc := suite[i%len(suite)]
		i++
		tr := r.RunTrial(b.Context(), sc, evals.SimVariant(), 1)
		if rec := evals.Record(tr, checks, nil); !rec.Pass {
			b.Fatalf("%s failed", sc.Name)
		}
	}
}
