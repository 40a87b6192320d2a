package orchestrator_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

// TestCreateNewJournalNeverOverwrites pins that a new run's journal never
// truncates what is at its path: another run's journal is refused and kept,
// and so is an empty file (another run may have just made it); of two runs
// told the same new path at once exactly one gets it.
func TestCreateNewJournalNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	held := filepath.Join(dir, "held.jsonl")
	if err := os.WriteFile(held, []byte("{\"seq\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := orchestrator.CreateNewJournal(held); !errors.Is(err, orchestrator.ErrJournalExists) {
		t.Fatalf("a journal already there: %v, want ErrJournalExists", err)
	}
	if b, _ := os.ReadFile(held); string(b) != "{\"seq\":1}\n" {
		t.Fatalf("the journal already there became %q", b)
	}
	if _, err := orchestrator.CreateNewJournal(dir); !errors.Is(err, orchestrator.ErrJournalExists) {
		t.Fatalf("a directory: %v, want ErrJournalExists", err)
	}

	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := orchestrator.CreateNewJournal(empty); !errors.Is(err, orchestrator.ErrJournalExists) {
		t.Fatalf("an empty file: %v, want ErrJournalExists (it may be another run's, just made)", err)
	}

	fresh := filepath.Join(dir, "sub", "fresh.jsonl")
	errs := make([]error, 8)
	start := make(chan struct{})
	done := make(chan int)
	for i := range errs {
		go func() {
			defer func() { done <- i }()
			<-start
			j, err := orchestrator.CreateNewJournal(fresh)
			if err == nil {
				j.Emit(t.Context(), &orchestrator.Event{Seq: 1, Run: "r", Type: orchestrator.EventRunStarted})
				j.Close()
			}
			errs[i] = err
		}()
	}
	close(start)
	for range errs {
		<-done
	}
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, orchestrator.ErrJournalExists):
			t.Errorf("a run that lost the race: %v, want ErrJournalExists", err)
		}
	}
	if b, _ := os.ReadFile(fresh); won != 1 || len(b) == 0 {
		t.Fatalf("%d runs took the new path (want 1); it holds %q", won, b)
	}
}
