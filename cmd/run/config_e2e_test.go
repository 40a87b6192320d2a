package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents"
	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/internal/openaitest"
	"github.com/entrust-dev/entrust/orchestrator"
)

// TestE2EConfigurationMistakes: a mistake in the configuration is named as
// such, once, with exit 2, before any model is called or any file written.
func TestE2EConfigurationMistakes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a model with no endpoint", []string{"--model", "gpt-4o-mini", "Write a haiku"},
			"run: --model gpt-4o-mini needs an endpoint: set OPENAI_API_KEY for the OpenAI API, or --base-url for a local server\n"},
		{"a base URL with no scheme", []string{"--base-url", "localhost:18401", "--model", "m", "Write a haiku"},
			`run: --base-url "localhost:18401": want an http or https URL`},
		{"a mistyped command", []string{"repaly", "x.jsonl"}, "Did you mean this?\n\treplay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runBinary(t, dir, "", tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("%s", r)
			}
			if n := strings.Count(r.stderr, "run: "); n != 1 {
				t.Errorf("said %d times:\n%s", n, r.stderr)
			}
			if strings.Contains(r.stderr, "default.yaml") {
				t.Errorf("blamed on the built-in team:\n%s", r.stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left %v behind", entries)
			}
		})
	}
}

// TestE2EUnavailableEndpoint: an endpoint that refuses the key, that
// nothing listens at, or that does not know the model ends the run at its
// first call with one line and exit 2; the journal stops where a crash at
// that call would stop it — without the failed call and the cancellation it
// caused — so the run can be resumed once the endpoint serves it, which the
// last line says how. An unknown model (404) is a configuration error, not
// an endpoint that is down: it says so, and waiting for the endpoint to be
// up is not the way on.
func TestE2EUnavailableEndpoint(t *testing.T) {
	srv := openaitest.NewServer(t, &openaitest.Options{APIKey: "right", Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Text("unreachable")
	}})
	unknown := openaitest.NewServer(t, &openaitest.Options{Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Error(404, openaitest.ErrorBody("The model `"+req.Model+"` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found"))
	}})
	closed := deadEndpoint

	tests := []struct {
		name, url, want, stops, resume string
	}{
		{"unauthorised", srv.URL, "run: " + srv.URL + ": the endpoint refused the key (401 Unauthorized)\n",
			"where the endpoint failed", "run resume %s with a key it accepts (--api-key or OPENAI_API_KEY)"},
		{"unreachable", closed, "run: cannot reach " + closed + ": connection refused — is the server running?\n",
			"where the endpoint failed", "run resume %s once it is up"},
		{"unknown model", unknown.URL, "run: " + unknown.URL + " does not know model m (404 Not Found: The model `m` does not exist or you do not have access to it.): a configuration error — check the model's name (--model, the team file's model) and that the base URL is the API's (most servers' end in /v1)\n",
			"where the model was not found", "run resume %s once the endpoint serves model m (or with --base-url of one that does)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runBinary(t, dir, "", "--base-url", tt.url, "--api-key", "wrong", "--model", "m", "--journal", "j.jsonl", "Write a haiku")
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("%s", r)
			}
			if n := strings.Count(r.stderr, "run: "); n != 1 {
				t.Errorf("said %d times on stderr:\n%s", n, r.stderr)
			}
			if strings.Contains(r.stderr, "level=") {
				t.Errorf("log lines beside the view:\n%s", r.stderr)
			}
			if want := "journal: j.jsonl stops " + tt.stops + ": " + fmt.Sprintf(tt.resume, "j.jsonl") + "\n"; !strings.Contains(r.stderr, want) {
				t.Errorf("not told how to resume: want %q in\n%s", want, r.stderr)
			}
			// Quiet, it is one line, whatever the log would have said.
			q := runBinary(t, dir, "", "--quiet", "--base-url", tt.url, "--api-key", "wrong", "--model", "m", "--journal", "q.jsonl", "Write a haiku")
			want := strings.TrimSuffix(tt.want, "\n") + " (journal q.jsonl: " + fmt.Sprintf(tt.resume, "q.jsonl") + ")\n"
			if q.code != 2 || q.stderr != want || q.stdout != "" {
				t.Errorf("--quiet: want only %q on stderr: %s", want, q)
			}
			for _, e := range r.journal(t, "j.jsonl") {
				if e.Type == orchestrator.EventRunFinished || e.Type.Terminal() || e.Type == orchestrator.EventModelCalled {
					t.Errorf("the journal records %s: the run cannot be resumed from it", e.Type)
				}
			}
		})
	}
}

// TestE2EEvalEndpointErrors: an eval against an endpoint that refuses the
// key stops at the preflight call (exit 2, no trials); one that fails every
// trial after it exits 2 with the reason, not a pass rate.
func TestE2EEvalEndpointErrors(t *testing.T) {
	refusing := openaitest.NewServer(t, &openaitest.Options{APIKey: "right"})
	dir := t.TempDir()
	r := runBinary(t, dir, "", "eval", "--model", "m", "--base-url", refusing.URL, "--api-key", "wrong", "--out", "out")
	if r.code != 2 || !strings.Contains(r.stderr, "the endpoint refused the key (401 Unauthorized)") || !strings.Contains(r.stderr, "no trial was run") {
		t.Fatalf("%s", r)
	}
	if strings.Contains(r.stdout, "passed") {
		t.Errorf("a pass rate for an endpoint that refused every call:\n%s", r.stdout)
	}

	var n atomic.Int64
	failing := openaitest.NewServer(t, &openaitest.Options{Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		if n.Add(1) == 1 {
			return openaitest.Text("OK") // the preflight
		}
		return openaitest.Error(401, openaitest.ErrorBody("revoked", "invalid_request_error", "invalid_api_key"))
	}})
	r = runBinary(t, dir, "", "eval", "--model", "m", "--base-url", failing.URL, "--api-key", "k", "--out", "out2", "--quiet")
	if r.code != 2 || !strings.Contains(r.stderr, "every trial errored on the endpoint") {
		t.Fatalf("%s", r)
	}

	r = runBinary(t, dir, "", "eval", "--model", "gpt-4o-mini")
	if r.code != 2 || !strings.Contains(r.stderr, "--model gpt-4o-mini needs an endpoint") {
		t.Fatalf("%s", r)
	}
}

// Once the endpoint is found down, the journal drops the failed call and
// the cancellation that follows, but keeps an action tool call another
// delegation started in the gap, and the model's answer that asked for it:
// a resume then finds the call in flight and reconciles it, rather than
// making it again unknowing (TestSiblingAnswerKeptWhenDown runs the race).
func TestKeptWhenDown(t *testing.T) {
	for _, tc := range []struct {
		e    orchestrator.Event
		kept bool
	}{
		{orchestrator.Event{Type: orchestrator.EventToolCalled, Tool: "write_file"}, true},
		{orchestrator.Event{Type: orchestrator.EventToolCalled, Tool: "note"}, true},
		{orchestrator.Event{Type: orchestrator.EventToolCalled, Tool: agents.ToolCompleteGoal}, false},
		{orchestrator.Event{Type: orchestrator.EventModelCalled, Message: &model.Message{Role: model.RoleAssistant}}, true},
		{orchestrator.Event{Type: orchestrator.EventModelCalled, Error: "HTTP 401"}, false},
		{orchestrator.Event{Type: orchestrator.EventModelCalled, Error: "context canceled", Message: &model.Message{}}, false},
		{orchestrator.Event{Type: orchestrator.EventToolResult, Tool: "write_file"}, false},
		{orchestrator.Event{Type: orchestrator.EventGoalFailed}, false},
		{orchestrator.Event{Type: orchestrator.EventRunFinished}, false},
	} {
		if got := keptWhenDown(&tc.e); got != tc.kept {
			t.Errorf("%s %s: kept %v, want %v", tc.e.Type, tc.e.Tool, got, tc.kept)
		}
	}
}

// With $ENTRUST_JOURNAL_KEY but no configuration directory (no
// XDG_CONFIG_HOME nor HOME, as in some containers), the journal is sealed
// but no mark nor sealed record can be kept: run says so rather than
// leaving the protection off unseen. With one, it says nothing of it.
func TestNoMarksWarned(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--quiet", "--escalations", "auto", "--journal", "j.jsonl", "--trust", "trust.json", "Write a haiku about delegation"}
	if r := runBinary(t, dir, "", args...); r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("with a configuration directory: %s", r)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "")
	t.Setenv(orchestrator.EnvJournalKey, strings.Repeat("k", 32))
	args[4] = "j2.jsonl" // a new run never overwrites a journal
	r := runBinary(t, dir, "", args...)
	if r.code != 0 || !strings.Contains(r.stderr, "run: warning: no configuration directory") || !strings.Contains(r.stderr, "no mark is kept") {
		t.Errorf("want the run, warned that marks are off: %s", r)
	}
}

// TestE2EFallbackConfigurationError: of a fallback chain, a model whose
// endpoint does not know it (404) or refuses its key (401) does not fail
// over to the next, which works: the run stops at once naming that model
// and its endpoint — not the chain's last — and the fallback is not called.
func TestE2EFallbackConfigurationError(t *testing.T) {
	var fallbackCalls atomic.Int64
	healthy := openaitest.NewServer(t, &openaitest.Options{Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
		fallbackCalls.Add(1)
		return openaitest.Text("a note")
	}})
	unknown := openaitest.NewServer(t, &openaitest.Options{Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Error(404, openaitest.ErrorBody("model '"+req.Model+"' not found", "invalid_request_error", "model_not_found"))
	}})
	refusing := openaitest.NewServer(t, &openaitest.Options{APIKey: "right"})
	tests := []struct {
		name, primary, want, resume string
	}{
		{"unknown model", "{name: typo-model, base_url: \"" + unknown.URL + "\"}",
			"run: " + unknown.URL + " does not know model typo-model (404 Not Found: model 'typo-model' not found)",
			"run resume j.jsonl once the endpoint serves model typo-model\n"},
		{"refused key", "{name: lead-model, base_url: \"" + refusing.URL + "\", api_key_env: ENTRUST_TEST_WRONG_KEY}",
			"run: " + refusing.URL + ": the endpoint refused the key (401 Unauthorized)",
			"run resume j.jsonl with a key it accepts in $ENTRUST_TEST_WRONG_KEY (model lead-model's api_key_env)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fallbackCalls.Store(0)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "team.yaml"), `lead: lead
agents:
  - name: lead
    role: Writes short notes in the workspace.
    model:
      - `+tt.primary+`
      - {name: lead-model, base_url: "`+healthy.URL+`"}
    tools: [write_file, read_file, list_files]
`)
			t.Setenv("ENTRUST_TEST_WRONG_KEY", "wrong")
			r := runBinary(t, dir, "", "--team", "team.yaml", "--base-url", healthy.URL, "--journal", "j.jsonl", "Write a short note")
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("want %q: %s", tt.want, r)
			}
			if !strings.Contains(r.stderr, tt.resume) {
				t.Errorf("resume hint: want %q in\n%s", tt.resume, r.stderr)
			}
			if n := fallbackCalls.Load(); n != 0 {
				t.Errorf("the fallback was called %d times: a configuration error failed over", n)
			}
			if strings.Contains(r.stdout+r.stderr, healthy.URL+" at "+healthy.URL) {
				t.Errorf("an endpoint named twice:\n%s", r)
			}
		})
	}
}
