package evals

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/entrust-dev/entrust/agents/model"
)

// The kinds of infrastructure error a trial may end on (TrialRecord.ErrorKind).
const (
	ErrorAuth        = "auth"        // the endpoint refused the key (401, 403)
	ErrorNotFound    = "not_found"   // no such model or path (404)
	ErrorUnreachable = "unreachable" // connection refused, unknown host
	ErrorRateLimit   = "rate_limit"  // 429 after the retries
	ErrorServer      = "server"      // 5xx after the retries
	ErrorTimeout     = "timeout"     // the endpoint timed out (408, an attempt's timeout)
	ErrorTransport   = "transport"   // a reset connection, a truncated or malformed answer
	ErrorSetup       = "setup"       // the trial could not start (workspace, team, model)
)

// InfraError is the infrastructure error a trial ended on: not a behaviour
// of the models or the runtime, so the trial is errored, kept apart from
// the scores.
type InfraError struct {
	// Kind is one of the Error* kinds.
	Kind string
	// Err is the error.
	Err error
}

func (e *InfraError) Error() string { return e.Kind + ": " + e.Err.Error() }

// Unwrap returns the error.
func (e *InfraError) Unwrap() error { return e.Err }

// infraKind classifies a model call's error: the kind of infrastructure
// failure it is, or "" when it is not one (a request the server found
// wrong, a scripted error).
func infraKind(err error) string {
	var ae *model.APIError
	if errors.As(err, &ae) {
		switch s := ae.StatusCode; {
		case s == http.StatusUnauthorized, s == http.StatusForbidden:
			return ErrorAuth
		case s == http.StatusNotFound:
			return ErrorNotFound
		case s == http.StatusTooManyRequests:
			return ErrorRateLimit
		case s == http.StatusRequestTimeout:
			return ErrorTimeout
		case s >= 500:
			return ErrorServer
		}
		return ""
	}
	switch {
	case model.Unavailable(err):
		return ErrorUnreachable
	case errors.Is(err, context.DeadlineExceeded):
		return ErrorTimeout
	case model.Retryable(err):
		return ErrorTransport
	}
	return ""
}

// infraWatch records the first infrastructure error a trial's real models
// returned. It is shared by the models of one trial.
type infraWatch struct {
	mu  sync.Mutex
	err *InfraError
}

func (w *infraWatch) first() *InfraError {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// watch returns m reporting its infrastructure errors to w.
func (w *infraWatch) watch(m model.Model) model.Model {
	if m == nil {
		return nil
	}
	return &watched{Model: m, w: w}
}

// watched is a model whose infrastructure errors are recorded. An error
// after the trial's own context ended (its timeout, an interrupt) is the
// trial's, not the endpoint's.
type watched struct {
	model.Model
	w *infraWatch
}

// Generate calls the model and records an infrastructure error.
func (m *watched) Generate(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := m.Model.Generate(ctx, req)
	if err != nil && ctx.Err() == nil {
		if kind := infraKind(err); kind != "" {
			m.w.mu.Lock()
			if m.w.err == nil {
				m.w.err = &InfraError{Kind: kind, Err: err}
			}
			m.w.mu.Unlock()
		}
	}
	return resp, err
}

// Unwrap returns the model watched.
func (m *watched) Unwrap() model.Model { return m.Model }

// erroredBy says what infrastructure error, if any, trial t is errored by:
// a setup error that kept it from running at all, or a call to a real
// model that failed on the endpoint after its retries. Even when the run
// went on and ended otherwise, an agent lost a turn to the endpoint, not
// to its own behaviour, so the trial measures neither.
func erroredBy(t *Trial, w *infraWatch) *InfraError {
	if len(t.Events) == 0 && t.Err != nil {
		return &InfraError{Kind: ErrorSetup, Err: t.Err}
	}
	return w.first()
}

// PreflightError is a model endpoint that cannot serve any call, found by
// the call Run makes to each real model before the trials: the run stops
// there rather than record every trial as errored.
type PreflightError struct {
	// Model names the model called.
	Model string
	// Err is the call's error.
	Err error
}

func (e *PreflightError) Error() string {
	reason, _ := model.UnavailableReason(e.Err)
	return fmt.Sprintf("model %s: %s (%v)", e.Model, reason, e.Err)
}

// Unwrap returns the call's error.
func (e *PreflightError) Unwrap() error { return e.Err }

// preflight makes one short call to each real model of the run: the
// variants' and those the scenarios name. It returns a *PreflightError for
// the first endpoint that refuses the key, does not know the model or
// cannot be reached; any other outcome is left to the trials.
func (r *Runner) preflight(ctx context.Context, suite []*Scenario) error {
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "Reply with the word OK."}}, MaxTokens: 1}
	call := func(m model.Model) error {
		if m == nil {
			return nil
		}
		// Bounded like a trial: an endpoint that is slow is for the
		// trials to find.
		cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		defer cancel()
		if _, err := m.Generate(cctx, req); model.Unavailable(err) && ctx.Err() == nil {
			return &PreflightError{Model: m.Name(), Err: err}
		}
		return nil
	}
	for _, v := range r.opts.Variants {
		if v.Model == nil {
			continue
		}
		m, err := v.Model(AgentInfo{Scenario: "preflight", UnderTest: true, Seed: r.opts.Seed})
		if err != nil {
			return err
		}
		if err := call(m); err != nil {
			return err
		}
	}
	if r.opts.Models == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, sc := range suite {
		for i := range sc.Team.Agents {
			name := sc.Team.Resolve(i).Model
			if isSim(sc.Team.Resolve(i)) || name == ModelScript || seen[name] {
				continue
			}
			seen[name] = true
			m, err := r.opts.Models(name)
			if err != nil {
				return err
			}
			if err := call(m); err != nil {
				return err
			}
		}
	}
	return nil
}
