package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/entrust-dev/entrust/orchestrator"
)

// The record of sealed runs is kept beside the journal key (entrust/sealed):
// a line for each run whose journal a command of this user sealed (run,
// run serve, entrust-temporal run and follow), "<run-id>\t<journal's
// absolute path>", appended before the journal's first line, mode 0600. A
// journal whose seals, key_id and goal_hash were all stripped reads as one
// from before seals; run resume --unsigned refuses it when its run id or its
// path is in the record. A forger who also renames the run and moves the
// file is not caught: --unsigned believes a file its user vouches for.

// SealedFile is where the record of sealed runs is kept; "" when no
// configuration directory can be had ($ENTRUST_JOURNAL_KEY without one).
func SealedFile() string {
	key, err := orchestrator.JournalKeyFile()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(key), "sealed")
}

// RecordSealed adds run, whose journal at path is sealed, to the record of
// sealed runs. With no configuration directory there is no record to keep,
// and it does nothing: CheckUnsigned then refuses every unsigned journal.
func RecordSealed(run, path string) error {
	file := SealedFile()
	if file == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sealed record: %w", err)
	}
	if strings.ContainsAny(run+abs, "\t\n") {
		return fmt.Errorf("sealed record: %q: a run id or journal path with a tab or a newline", abs)
	}
	f, err := openRecord(file)
	if err != nil {
		return err
	}
	_, err = f.WriteString(run + "\t" + abs + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sealed record: %w", err)
	}
	return nil
}

// openRecord opens the record of sealed runs at file for appending,
// making it (and its directory) on first use.
func openRecord(file string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("sealed record: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sealed record: %w", err)
	}
	return f, nil
}

// RecordWritable returns an error when the record of sealed runs cannot be
// written, for a command that seals journals later (run serve, for each
// goal), so that it refuses to start rather than fail every goal. With no
// configuration directory there is nothing to write: nil.
func RecordWritable() error {
	file := SealedFile()
	if file == "" {
		return nil
	}
	f, err := openRecord(file)
	if err != nil {
		return err
	}
	return f.Close()
}

// CreateSealedJournal creates the journal of run at path, sealed with key
// (never overwriting a file that holds something: see
// orchestrator.CreateNewJournal), and adds it to the record of sealed runs before its first line is
// written: stripped of its seals, it is never believed as a journal from
// before seals. When the record cannot be written the journal is removed
// and the error says why: the command refuses to start (fail closed).
func CreateSealedJournal(path, run string, key []byte) (*orchestrator.Journal, error) {
	j, err := orchestrator.CreateNewJournal(path)
	if err != nil {
		return nil, err
	}
	err = j.Seal(key, "")
	if err == nil {
		err = RecordSealed(run, path)
	}
	if err != nil {
		j.Close()
		os.Remove(path)
		return nil, err
	}
	return j, nil
}

// CheckUnsigned refuses to believe the unsigned journal at path, of run,
// when a command of this user sealed a journal of that run or at that path
// (its seals were stripped), or when the record cannot be read or trusted,
// or there is none (fail closed). Its errors match
// orchestrator.ErrNotResumable when the record says no.
func CheckUnsigned(path, run string) error {
	file := SealedFile()
	if file == "" {
		return fmt.Errorf("%s cannot be resumed: %w: it is not signed, and with no configuration directory there is no record of the runs sealed here to tell it from a journal whose seals were removed; set XDG_CONFIG_HOME (or HOME)",
			path, orchestrator.ErrNotResumable)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("%s cannot be resumed: %w", path, err)
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s cannot be resumed: sealed record: %w", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s cannot be resumed: sealed record %s: not a regular file only you can write", path, file)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		id, p, _ := strings.Cut(sc.Text(), "\t")
		what := "the journal at this path"
		if id == run {
			what = "a journal of run " + run
		} else if p != abs {
			continue
		}
		return fmt.Errorf("%s cannot be resumed: %w: it is not signed, but a run here sealed %s (so says %s): its seals were removed",
			path, orchestrator.ErrNotResumable, what, file)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s cannot be resumed: sealed record: %w", path, err)
	}
	return nil
}
