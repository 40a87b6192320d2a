package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/orchestrator"
)

// A journal's mark is the seq of the last action tool call its run wrote to
// it, kept outside it, beside the journal key (marks/<run-id>), until the run
// ends. Seals cannot tell a journal cut short on purpose from one a crash
// cut: a journal cut before a tool call it recorded would resume into making
// that call again. The mark is written once the call's tool.called is in the
// journal and before the tool runs, so a crash never leaves a journal
// shorter than its mark, and a resume refuses one that is.

// markFile is where run's mark is kept; "" when no such place can be had
// (no configuration directory) or run is not a plain name.
func markFile(run string) string {
	key, err := orchestrator.JournalKeyFile()
	if err != nil || run == "" || run != filepath.Base(run) || strings.HasPrefix(run, ".") {
		return ""
	}
	return filepath.Join(filepath.Dir(key), "marks", run)
}

// noMarksWarning says, when the journal key comes from $ENTRUST_JOURNAL_KEY
// and no configuration directory can be had (no XDG_CONFIG_HOME nor HOME, as
// in some containers), what is off: marks and the sealed record. "" when
// they are kept.
func noMarksWarning() string {
	if _, err := os.UserConfigDir(); err == nil {
		return ""
	}
	return "run: warning: no configuration directory (set XDG_CONFIG_HOME or HOME): the journal is sealed with $" + orchestrator.EnvJournalKey +
		", but no mark is kept (a journal cut after a tool call it recorded would resume into making the call again) nor a record of the runs sealed (run resume --unsigned refuses every journal)"
}

// setMark records that run's journal holds event seq, an action tool call.
func setMark(run string, seq int64) error {
	path := markFile(run)
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("journal mark: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(seq, 10)+"\n"), 0o600); err != nil {
		return fmt.Errorf("journal mark: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("journal mark: %w", err)
	}
	return nil
}

// markEvent is the journal sink's hook: it sets the mark on each action tool
// call written.
func markEvent(e *orchestrator.Event) error {
	if e.Type != orchestrator.EventToolCalled || agents.IsProtocolTool(e.Tool) {
		return nil
	}
	return setMark(e.Run, e.Seq)
}

// checkMark refuses a journal that ends before its run's mark.
func checkMark(path string, events []*orchestrator.Event) error {
	file := markFile(events[0].Run)
	if file == "" {
		return nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal mark: %w", err)
	}
	mark, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return fmt.Errorf("journal mark %s: %w", file, err)
	}
	if last := events[len(events)-1].Seq; last < mark {
		return fmt.Errorf("%s cannot be resumed: %w: it ends at event %d, but its run wrote a tool call as event %d: it was cut short after that call, and a resume would make the call again (if you cut it yourself and mean that, remove %s)",
			path, orchestrator.ErrNotResumable, last, mark, file)
	}
	return nil
}

// clearMark forgets run's mark: its journal ended.
func clearMark(run string) {
	if path := markFile(run); path != "" {
		os.Remove(path)
	}
}
