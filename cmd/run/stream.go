package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/entrust-dev/entrust/orchestrator"
)

// jsonStream is run --json's stream of the events on stdout: a view of the
// run, not its journal. A reader that goes away (run --json … | head) must
// not end the run, nor leave its journal failed: the stream's first write
// error stops the stream, is kept (Stopped) to be said at the run's end,
// and the run goes on, its journal whole.
type jsonStream struct {
	j *orchestrator.Journal

	mu  sync.Mutex // events come from the run's goroutines
	err error      // the first write error; nothing is written after it
	at  int64      // the seq of the event at which it failed, 0 at a commit
}

// newJSONStream is the stream of a run's events on w.
func newJSONStream(w io.Writer) *jsonStream { return &jsonStream{j: orchestrator.NewJournal(w)} }

// Emit writes e to the stream, unless it stopped.
func (s *jsonStream) Emit(ctx context.Context, e *orchestrator.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		if err := s.j.Emit(ctx, e); err != nil {
			s.err, s.at = err, e.Seq
		}
	}
	return nil
}

// Commit writes what the stream holds back, unless it stopped.
func (s *jsonStream) Commit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = s.j.Commit()
	}
	return nil
}

// Borrows marks the stream as an orchestrator.Borrower, as the journal it
// writes through is.
func (s *jsonStream) Borrows() {}

// Stopped says why the stream stopped, naming it, or "" if it did not.
func (s *jsonStream) Stopped() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return ""
	}
	err := s.err
	if u := errors.Unwrap(err); u != nil {
		err = u // the journal's "journal: " prefix would name the wrong one
	}
	at := ""
	if s.at > 0 {
		at = fmt.Sprintf(" at event %d", s.at)
	}
	return fmt.Sprintf("the --json stream of events on stdout stopped%s (%v): the run went on without it", at, err)
}

var (
	_ orchestrator.Borrower  = (*jsonStream)(nil)
	_ orchestrator.Committer = (*jsonStream)(nil)
)
