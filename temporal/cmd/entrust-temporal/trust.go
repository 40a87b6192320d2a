package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
	"github.com/entrust-dev/entrust/orchestrator/trust"
)

// ledgerSupervision sets each delegation's supervision from the trust
// ledger at path, as run does. The clients (entrust-temporal run --trust)
// save the ledger after each run, so it is read again whenever the file
// changed. A ledger that cannot be read supervises every agent as the
// least trusted are (fail closed), and says so once per change.
type ledgerSupervision struct {
	path   string
	errOut io.Writer

	mu      sync.Mutex
	ledger  *trust.Ledger // nil when the file could not be read
	modTime time.Time
	size    int64
	read    bool
}

// newLedgerSupervision reads the ledger at path; an unreadable one is an
// error here, at the worker's start.
func newLedgerSupervision(path string, errOut io.Writer) (*ledgerSupervision, error) {
	s := &ledgerSupervision{path: path, errOut: errOut}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("--trust: %w", err)
	}
	return s, nil
}

// load reads the ledger again if its file changed since it was last read.
// The caller holds mu, or owns s.
func (s *ledgerSupervision) load() error {
	var mod time.Time
	var size int64
	st, err := os.Stat(s.path)
	switch {
	case err == nil:
		mod, size = st.ModTime(), st.Size()
	case !errors.Is(err, fs.ErrNotExist):
		s.ledger = nil
		return err
	}
	if s.read && s.ledger != nil && mod.Equal(s.modTime) && size == s.size {
		return nil
	}
	s.read, s.modTime, s.size = true, mod, size
	l, err := trust.Open(s.path)
	if err != nil {
		s.ledger = nil
		return err
	}
	s.ledger = l
	return nil
}

// SupervisionForModel is orchestrator.Options.SupervisionForModel.
func (s *ledgerSupervision) SupervisionForModel(agent, model string) orchestrator.Supervision {
	s.mu.Lock()
	defer s.mu.Unlock()
	wasOK := s.ledger != nil
	if err := s.load(); err != nil {
		if wasOK {
			fmt.Fprintf(s.errOut, "worker: the trust ledger cannot be read (every agent is supervised as the least trusted): %v\n", err)
		}
		return trust.DefaultPolicy().Low
	}
	return s.ledger.SupervisionForModel(agent, model)
}
