package trust_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// A ledger is opened once, registered as a sink and as the source of
// supervision, and saved when the run is over.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "trust")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	l, err := trust.Open(filepath.Join(dir, "trust.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := orchestrator.Options{Sinks: []orchestrator.Sink{l}, SupervisionFor: l.SupervisionFor}
	_ = opts // rt, err := orchestrator.New(team, &opts); rt.Run(ctx, goal)

	fmt.Println(l.SupervisionFor("writer").Level)
	if err := l.Save(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// new
}

// Trust moves with each event; supervision follows it.
func ExampleLedger_SupervisionFor() {
	dir, err := os.MkdirTemp("", "trust")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	l, err := trust.Open(filepath.Join(dir, "trust.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	aligned := true
	for i, run := range []string{"r1", "r2", "r3"} {
		for _, e := range []*orchestrator.Event{
			{Type: orchestrator.EventGoalOffered, Delegation: "d2", Parent: "d1", Agent: "writer", Delegator: "lead"},
			{Type: orchestrator.EventAlignmentJudged, Delegation: "d2", Parent: "d1", Agent: "lead", Round: 1, Aligned: &aligned},
			{Type: orchestrator.EventGoalCompleted, Delegation: "d2", Parent: "d1", Agent: "writer", Status: orchestrator.StatusCompleted},
			{Type: orchestrator.EventRunFinished, Agent: "lead", Status: orchestrator.StatusCompleted},
		} {
			e.Run = run
			_ = l.Emit(context.Background(), e)
		}
		s := l.SupervisionFor("writer")
		mean, sd := l.Score("writer")
		fmt.Printf("after %d clean: %s (%.2f±%.2f) judge=%t progress every %d\n", i+1, s.Level, mean, sd, s.ModelJudge, s.ProgressEvery)
	}
	// Output:
	// after 1 clean: medium (0.71±0.16) judge=true progress every 8
	// after 2 clean: medium (0.80±0.12) judge=true progress every 8
	// after 3 clean: high (0.85±0.10) judge=false progress every 0
}

func ExampleRecord_Score() {
	var none *trust.Record
	mean, sd := none.Score()
	fmt.Printf("prior: %.2f±%.2f\n", mean, sd)
	r := trust.Record{Agent: "w", VerifiedCompletions: 4, AlignedFirstTry: 3, Reacceptances: 1, Violations: 1}
	mean, sd = r.Score()
	fmt.Printf("%s: %.2f±%.2f %s\n", r.Agent, mean, sd, trust.DefaultPolicy().Supervision(&r).Level)
	// Output:
	// prior: 0.50±0.22
	// w: 0.76±0.10 medium
}
