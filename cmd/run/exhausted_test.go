package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// A run whose endpoint keeps answering a temporary failure — rate limited
// (429), a server error (5xx) — until the retries run out stops as one whose
// endpoint is down: exit 2, one line saying which status, how many attempts
// and the wait the endpoint asked for, and how to resume; its journal ends
// as a crash at that call would (no run.finished), and "run resume" ends it,
// once the endpoint answers, as the uninterrupted run ends.
func TestRunStoppedByExhaustedRetries(t *testing.T) {
	want := uninterruptedCrashRun(t)

	// A wait in milliseconds (Retry-After-Ms) keeps the retries quick.
	slowDown := func(r openaitest.Reply) openaitest.Reply {
		r.Header = http.Header{"Retry-After-Ms": {"20"}}
		return r
	}
	tests := []struct {
		name   string
		reply  openaitest.Reply
		status string
	}{
		{"rate limited", slowDown(openaitest.RateLimited("")), "429 Too Many Requests: Rate limit reached, try again later."},
		{"server error", slowDown(openaitest.Error(http.StatusServiceUnavailable, openaitest.ErrorBody("overloaded", "server_error", ""))), "503 Service Unavailable: overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
			// After the run's fourth model call, every call fails.
			var calls atomic.Int32
			answer := byModel(t, map[string]model.Model{
				"lead-model":   sim.New("lead-model", &sim.Options{Persona: sim.OverAsker}),
				"writer-model": sim.New("writer-model", nil),
				"notes-model":  sim.New("notes-model", nil),
			})
			srv := openaitest.NewServer(t, &openaitest.Options{Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
				if calls.Add(1) > 4 {
					return tt.reply
				}
				return answer(req)
			}})
			res := runBinary(t, dir, "", crashRunArgs(srv.URL)...)
			line := fmt.Sprintf("run: %s kept failing model %%s's call: %s, 4 attempts (its last answer asked to wait 20ms: Retry-After) (journal run.jsonl: run resume run.jsonl once it answers again (not before 20ms))\n", srv.URL, tt.status)
			if res.code != 2 || res.stdout != "" || !matchesAny(res.stderr, line, "lead-model", "writer-model", "notes-model") {
				t.Fatalf("want exit 2 and only %q on stderr: %s", line, res)
			}
			checkResumable(t, res.journal(t, "run.jsonl"))
			checkResumedAsUninterrupted(t, dir, want)
		})
	}
}

// matchesAny reports whether s is format (one %s) filled with one of names.
func matchesAny(s, format string, names ...string) bool {
	for _, n := range names {
		if s == fmt.Sprintf(format, n) {
			return true
		}
	}
	return false
}
