package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/entrust-dev/entrust/orchestrator"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "entrust-temporal-cmd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The journals' key is made in the tests' own configuration directory,
	// never the user's; the run binary the tests build inherits it.
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Unsetenv(orchestrator.EnvJournalKey)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestREADMECommands runs the README's three commands as they are pasted:
// dev, a worker and run, with no --namespace (dev registers default), on
// the simulator.
func TestREADMECommands(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("OPENAI_BASE_URL", "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	pr, pw := io.Pipe()
	devDone := make(chan error, 1)
	go func() { devDone <- runDev(ctx, &devOptions{namespace: "default", out: pw}); pw.Close() }()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("dev printed nothing: %v", <-devDone)
	}
	first := sc.Text()
	addr, ok := strings.CutPrefix(first, "temporal dev server at ")
	addr, _, _ = strings.Cut(addr, ",")
	if !ok || !strings.HasSuffix(first, ", namespace default") {
		t.Fatalf("dev says %q", first)
	}
	var hints []string
	for sc.Scan() {
		hints = append(hints, sc.Text())
		if len(hints) == 2 {
			break
		}
	}
	if strings.Contains(strings.Join(hints, "\n"), "--namespace") {
		t.Errorf("dev's commands name a namespace: %q", hints)
	}
	go io.Copy(io.Discard, pr)

	workerOut := &syncBuffer{}
	workerDone := make(chan error, 1)
	wo := &workerOptions{conn: conn{address: addr, namespace: "default", taskQueue: "entrust"}, workspace: t.TempDir(), trust: "", out: workerOut, errOut: workerOut}
	go func() { workerDone <- runWorker(ctx, wo) }()

	journal := filepath.Join(t.TempDir(), "run.jsonl")
	var out, errOut bytes.Buffer
	code := run([]string{"run", "--address", addr, "--journal", journal, "--trust", "", "--escalations", "auto",
		"--criteria", "The guide explains how to build and test", "Write an onboarding guide for the repository"}, strings.NewReader(""), &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "d2 writer: completed") || !strings.Contains(out.String(), "completed and verified") {
		t.Errorf("output:\n%s", out.String())
	}
	if events := readJournal(t, journal); len(events) == 0 {
		t.Error("an empty journal")
	} else if o, err := orchestrator.Rebuild(events); err != nil || o.Status != orchestrator.StatusCompleted {
		t.Errorf("the journal rebuilds to %v, %v", o, err)
	} else {
		checkRecorded(t, events)
	}
	cancel()
	if err := <-workerDone; err != nil {
		t.Errorf("worker: %v", err)
	}
	if err := <-devDone; err != nil {
		t.Errorf("dev: %v", err)
	}
	if s := workerOut.String(); !strings.Contains(s, "namespace default, task queue entrust · team lead (lead), writer, reviewer · models sim") {
		t.Errorf("the worker says %q", s)
	}
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "--escalations", "maybe", "GOAL"},
		{"worker"},
		{"dev", "--port", "-1"},
		{"run", "--json", "--quiet", "GOAL"},
		{"run", "--tokens", "-1", "GOAL"},
		{"run", "--verify", "sometimes:x", "GOAL"},
		{"run", "--verify", "matches:x:(", "GOAL"},
		{"run", "--criteria", "", "GOAL"},
		{"run", "--team", "/nonexistent/team.yaml", "GOAL"},
		{"worker", "--workspace", "ws", "--call-timeout", "-1s"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errOut.String())
		}
	}
}
