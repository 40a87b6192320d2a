package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// TestLedgerSupervisionFailsClosed: the worker reads the ledger again when
// it changes; one it cannot read supervises every agent as the least
// trusted, and says so; once readable again, its records count again.
func TestLedgerSupervisionFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trust.json")
	var errOut bytes.Buffer
	s, err := newLedgerSupervision(path, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	policy := trust.DefaultPolicy()
	if got := s.SupervisionForModel("writer", "sim/sim"); got != policy.New {
		t.Errorf("no ledger yet: %+v, want new", got)
	}
	if err := os.WriteFile(path, []byte("{not a ledger"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := s.SupervisionForModel("writer", "sim/sim"); got != policy.Low {
		t.Errorf("a corrupt ledger: %+v, want low (fail closed)", got)
	}
	s.SupervisionForModel("writer", "sim/sim")
	if n := strings.Count(errOut.String(), "cannot be read"); n != 1 {
		t.Errorf("said %d times: %q", n, errOut.String())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := s.SupervisionForModel("writer", "sim/sim"); got != policy.New {
		t.Errorf("the ledger gone: %+v, want new", got)
	}
	if _, err := newLedgerSupervision(filepath.Join(t.TempDir(), "new.json"), &errOut); err != nil {
		t.Errorf("a ledger not made yet is no error: %v", err)
	}
	if err := os.WriteFile(path, []byte("{not a ledger"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newLedgerSupervision(path, &errOut); err == nil {
		t.Error("a worker started on a corrupt ledger")
	}
}
