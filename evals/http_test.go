package evals_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/agents/sim"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/evals/internal/trialfile"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// simServer is a loopback OpenAI-compatible server that plays the
// simulator: the request's model name "sim/<persona>" picks the persona, so
// each agent of a team can misbehave in its own way over real HTTP.
func simServer(t *testing.T) *openaitest.Server {
	t.Helper()
	return openaitest.NewServer(t, &openaitest.Options{NoRecord: true, Handler: func(req *openaitest.ChatRequest) openaitest.Reply {
		p, err := sim.ParsePersona(strings.TrimPrefix(strings.TrimPrefix(req.Model, "sim"), "/"))
		if err != nil {
			return openaitest.Error(400, openaitest.ErrorBody(err.Error(), "invalid_request_error", "model_not_found"))
		}
		return openaitest.FromModel(sim.New(req.Model, &sim.Options{Persona: p}))(req)
	}})
}

// TestScenariosOverHTTP runs the built-in suite with every simulated agent behind
// the loopback server, through the go-openai provider: the same
// expectations must hold when the protocol travels over HTTP.
func TestScenariosOverHTTP(t *testing.T) {
	srv := simServer(t)
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	picked := suite // every scenario: the scripted lead alone stays in process
	overHTTP := evals.Variant{Name: "sim-http", Model: func(a evals.AgentInfo) (model.Model, error) {
		if a.Spec.Model == evals.ModelScript {
			return nil, nil
		}
		name := "sim"
		if a.Persona != "" {
			name += "/" + a.Persona
		}
		return openai.New(openai.Config{BaseURL: srv.URL, APIKey: "test", Model: name})
	}}
	// The endpoint variant puts only the agents under test behind the
	// server, as a real model would be; its model name picks the persona.
	eagerOnly := evals.EndpointVariant("sim/eager", func(name string) (model.Model, error) {
		return openai.New(openai.Config{BaseURL: srv.URL, APIKey: "test", Model: name})
	})
	dir := t.TempDir()
	r, err := evals.NewRunner(&evals.RunnerOptions{Variants: []evals.Variant{overHTTP}, OutDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), picked)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Trials {
		for _, e := range tr.Expectations {
			if !e.Pass {
				t.Errorf("%s over HTTP: %s %s: %s", tr.Scenario, e.ID, e.Name, e.Detail)
			}
		}
		if tr.Usage.ModelCalls == 0 {
			t.Errorf("%s: no model calls", tr.Scenario)
		}
	}

	// The journal shows the calls went to the server's sim/eager model.
	journal, err := os.ReadFile(filepath.Join(dir, "journals", trialfile.JournalName("eager", "sim-http", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(journal), `"model":"sim/eager"`) {
		t.Error("the eager writer's model calls did not go through the server")
	}

	var eager *evals.Scenario
	for _, sc := range picked {
		if sc.Name == "eager" {
			eager = sc
		}
	}
	r2, err := evals.NewRunner(&evals.RunnerOptions{Variants: []evals.Variant{eagerOnly}, Trials: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep2, err := r2.Run(t.Context(), []*evals.Scenario{eager})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Summary.PassRate != 1 {
		t.Errorf("eager through the endpoint variant: pass rate %v; failing: %+v", rep2.Summary.PassRate, rep2.Failed())
	}
	for _, tr := range rep2.Trials {
		if tr.Seed == 0 {
			t.Errorf("trial %d has no seed", tr.Trial)
		}
	}
}
