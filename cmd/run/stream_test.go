package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/orchestrator"
)

// A run --json whose reader went away before the run began (its stdout a
// pipe no one reads) is not ended by it: the run goes on to its end, its
// journal whole, and says once, on stderr, that the stream stopped and why.
func TestJSONStreamReaderGone(t *testing.T) {
	dir := t.TempDir()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd, _, errb := command(ctx, dir, "", "--json", "--journal", "j.jsonl", "Write a haiku")
	cmd.Stdout = w
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	res := result{code: cmd.ProcessState.ExitCode(), stderr: errb.String(), dir: dir}
	if res.code != 0 {
		t.Fatalf("want the run to go on to its end: %s", res)
	}
	said := regexp.MustCompile(`(?m)^run: the --json stream of events on stdout stopped at event \d+ \(write /dev/stdout: broken pipe\): the run went on without it; its journal is j\.jsonl$`)
	if !said.MatchString(res.stderr) || strings.Count(res.stderr, "run: ") != 1 {
		t.Errorf("want %s, once, on stderr: %s", said, res)
	}
	events := res.journal(t, "j.jsonl")
	checkComplete(t, events)
	if fin := events[len(events)-1]; fin.Type != orchestrator.EventRunFinished || fin.Status != orchestrator.StatusCompleted {
		t.Errorf("the journal ends %s %s, want the run completed", fin.Type, fin.Status)
	}
}
