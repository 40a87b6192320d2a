package evals_test

import (
	"bytes"
	"testing"

	"github.com/entrust-dev/entrust/evals"
)

// TestBuiltinSuitePasses runs the built-in protocol suite offline, as CI
// does, and requires every expectation of every scenario to pass.
func TestBuiltinSuitePasses(t *testing.T) {
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r, err := evals.NewRunner(&evals.RunnerOptions{Trials: 2, OutDir: dir, Checks: evals.BuiltinChecks()})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.Table(&b)
	t.Log("\n" + b.String())
	for _, tr := range rep.Trials {
		if tr.Error != "" {
			t.Logf("%s #%d error: %s", tr.Scenario, tr.Trial, tr.Error)
		}
	}
	if rep.Summary.PassRate != 1 {
		t.Errorf("pass rate %.3f, want 1", rep.Summary.PassRate)
	}
}
