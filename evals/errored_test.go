package evals_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/evals"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// expectsFailure is a scenario whose agent is a real model and that passes
// when the run fails: the case where an endpoint refusing every call used
// to count as a pass.
const expectsFailure = `name: expects-failure
team:
  lead: solo
  agents:
    - name: solo
      role: Writes notes.
      model: m
      tools: [write_file]
goal:
  objective: Write a note
expect:
  - status: failed
`

// endpoint is a loopback server that answers the first n chat requests
// with reply ok (a preflight among them) and every later one with status.
func endpoint(t *testing.T, n int64, status int) (*openaitest.Server, evals.ModelFactory) {
	t.Helper()
	var calls atomic.Int64
	srv := openaitest.NewServer(t, &openaitest.Options{NoRecord: true, Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		if calls.Add(1) <= n {
			return openaitest.Text("OK")
		}
		return openaitest.Error(status, openaitest.ErrorBody("no", "error", "no"))
	}})
	return srv, func(name string) (model.Model, error) {
		return openai.New(openai.Config{BaseURL: srv.URL, APIKey: "k", Model: name})
	}
}

func parse(t *testing.T, yaml string) *evals.Scenario {
	t.Helper()
	sc, err := evals.ParseScenario("s.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestPreflightStopsAnUnavailableEndpoint(t *testing.T) {
	_, models := endpoint(t, 0, 401)
	r, err := evals.NewRunner(&evals.RunnerOptions{Models: models, Trials: 3})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), []*evals.Scenario{parse(t, expectsFailure)})
	var pe *evals.PreflightError
	if !errors.As(err, &pe) || rep != nil || !strings.Contains(err.Error(), "refused the key (401") {
		t.Fatalf("err %v, report %v", err, rep)
	}
	// The same through an endpoint variant.
	r, _ = evals.NewRunner(&evals.RunnerOptions{Variants: []evals.Variant{evals.EndpointVariant("m", models)}})
	if _, err := r.Run(t.Context(), []*evals.Scenario{builtinScenario(t, "eager")}); !errors.As(err, &pe) || pe.Model != "m" {
		t.Fatalf("endpoint variant: %v", err)
	}
}

// TestErroredTrialsAreNotScored: an endpoint that passes the preflight and
// then refuses every call leaves errored trials, which no pass rate counts,
// even where the scenario expects the run to fail.
func TestErroredTrialsAreNotScored(t *testing.T) {
	_, models := endpoint(t, 1, 401) // the preflight passes
	r, err := evals.NewRunner(&evals.RunnerOptions{Models: models, Trials: 2, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), []*evals.Scenario{parse(t, expectsFailure), builtinScenario(t, "baseline")})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary
	if s.Trials != 4 || s.Errored != 2 || s.ErrorKinds["auth"] != 2 || s.TrialsPassed != 2 || s.PassRate != 1 || s.PassAt1 != 1 {
		t.Fatalf("summary %+v", s)
	}
	for _, tr := range rep.Trials {
		if tr.Scenario == "expects-failure" && (!tr.Errored || tr.Pass || tr.ErrorKind != evals.ErrorAuth || !strings.Contains(tr.Error, "401")) {
			t.Errorf("trial %+v", tr)
		}
	}
	for _, sc := range rep.Scenarios {
		if sc.Scenario == "expects-failure" && (sc.Errored != 2 || sc.Passed != 0 || len(sc.Expectations) != 0 || len(sc.PassHatK) != 0) {
			t.Errorf("scenario %+v", sc)
		}
	}
	var table strings.Builder
	rep.Table(&table)
	for _, want := range []string{"ERRORED", "2 errored (auth:2) and not scored", "2× auth: ", "Ask-F1: did agents escalate"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestServerErrorsAreErroredAndMaxErrorsStops(t *testing.T) {
	_, models := endpoint(t, 1, 503)
	r, err := evals.NewRunner(&evals.RunnerOptions{Models: models, Trials: 10, Parallel: 1, MaxErrors: 2})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), []*evals.Scenario{parse(t, expectsFailure)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Trials != 2 || rep.Summary.Errored != 2 || rep.Summary.ErrorKinds["server"] != 2 || !strings.Contains(rep.Run.StoppedEarly, "2 trials errored") {
		t.Fatalf("run %+v\nsummary %+v", rep.Run, rep.Summary)
	}
}

// TestScriptedErrorsAreBehaviour: a scenario's scripted model error is the
// behaviour under test, never an infrastructure error.
func TestScriptedErrorsAreBehaviour(t *testing.T) {
	r, err := evals.NewRunner(nil)
	if err != nil {
		t.Fatal(err)
	}
	suite, err := evals.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(t.Context(), suite)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errored != 0 {
		t.Errorf("%d built-in trials errored on the simulator", rep.Summary.Errored)
	}
}
