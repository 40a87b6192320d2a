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
	"github.com/entrust-dev/entrust/orchestrator"
)

// A run whose endpoint keeps answering a temporary failure — rate limited
// (429), a server error (5xx) — until the retries run out stops as one whose
// endpoint is down: exit 2, one line saying which status, how many attempts
// and the wait the endpoint asked for, and how to resume; its journal ends
// as a crash at that call would (no run.finished), and "run resume" ends it,
// once the endpoint answers, as the uninterrupted run ends.
func TestRunStoppedByExhaustedRetries(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "team.yaml"), crashTeam)
	args := func(url string) []string {
		return []string{"--team", "team.yaml", "--base-url", url, "--escalations", "auto", "--quiet", "--journal", "run.jsonl", "Write notes about delegation"}
	}
	ref := runBinary(t, dir, "", args(crashServer(t, nil, nil).URL)...)
	if ref.code != 0 {
		t.Fatalf("the uninterrupted run: %s", ref)
	}
	want := ref.journal(t, "run.jsonl")

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
			res := runBinary(t, dir, "", args(srv.URL)...)
			line := fmt.Sprintf("run: %s kept failing model %%s's call: %s, 4 attempts (its last answer asked to wait 20ms: Retry-After) (journal run.jsonl: run resume run.jsonl once it answers again (not before 20ms))\n", srv.URL, tt.status)
			if res.code != 2 || res.stdout != "" || !matchesAny(res.stderr, line, "lead-model", "writer-model", "notes-model") {
				t.Fatalf("want exit 2 and only %q on stderr: %s", line, res)
			}
			cut := res.journal(t, "run.jsonl")
			for _, e := range cut {
				if e.Type == orchestrator.EventRunFinished || e.Type.Terminal() || (e.Type == orchestrator.EventModelCalled && e.Error != "") {
					t.Fatalf("the run stopped by the endpoint's failures recorded %s %s: it cannot be resumed as it stood", e.Type, e.Error)
				}
			}

			res = runBinary(t, dir, "", "resume", "--quiet", "--base-url", crashServer(t, nil, nil).URL, "run.jsonl")
			if res.code != ref.code {
				t.Fatalf("the resume once the endpoint answers: %s", res)
			}
			got := res.journal(t, "run.jsonl")
			checkComplete(t, got)
			if fin, wantFin := got[len(got)-1], want[len(want)-1]; fin.Status != wantFin.Status || fin.Result != wantFin.Result {
				t.Errorf("resumed run finished %s %q, the uninterrupted one %s %q", fin.Status, fin.Result, wantFin.Status, wantFin.Result)
			}
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
