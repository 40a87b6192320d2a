package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/entrust-dev/entrust/orchestrator"
)

// KeyOutside refuses a journal key file at from (as
// orchestrator.LoadJournalKey says where it found the key) that lies inside
// workspace, where a run's tools read and write: an agent could read it and
// seal what it likes. A key from the environment (from is not a path) and
// an empty workspace pass.
func KeyOutside(workspace, from string) error {
	if workspace == "" || !filepath.IsAbs(from) {
		return nil
	}
	ws, err := filepath.Abs(workspace)
	if err != nil {
		return fmt.Errorf("%w: %w", orchestrator.ErrJournalKey, err)
	}
	if rel, err := filepath.Rel(ws, from); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s is inside the workspace %s, where the run's tools can read it; set %s or move the workspace",
			orchestrator.ErrJournalKey, from, ws, orchestrator.EnvJournalKey)
	}
	return nil
}

// KeyFileOutside refuses workspace when the journal key file of this
// machine's user (orchestrator.JournalKeyFile, used when
// $ENTRUST_JOURNAL_KEY is not set) lies inside it: for a worker, whose
// tools work there while its clients seal their journals with that key.
func KeyFileOutside(workspace string) error {
	if _, ok := os.LookupEnv(orchestrator.EnvJournalKey); ok {
		return nil
	}
	path, err := orchestrator.JournalKeyFile()
	if err != nil {
		return nil // no configuration directory: no key file to expose
	}
	return KeyOutside(workspace, path)
}
