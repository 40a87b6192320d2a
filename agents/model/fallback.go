package model

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// WithFallback returns a Model that calls primary and, when a call fails
// with a provider error after its retries (see FailsOver: a server error, a
// rate limit still hit, a timeout, a connection refused), gives the same
// request to the next of fallbacks, in order. Errors of the request itself
// (HTTP 400, 401, 403, 404, a schema the server refuses), the caller's
// cancellation and a response too large are returned at once: another model
// would not fare better, or the caller asked to stop.
//
// Wrap each model in WithRetry first, so that a model fails over only once
// its own retries are spent. The Model's Name is primary's; each switch is
// reported to the context's Trace (FailedOver), which the runtime records as
// model.failover, and names the model that answered the call.
func WithFallback(primary Model, fallbacks ...Model) Model {
	if len(fallbacks) == 0 {
		return primary
	}
	return &Fallback{models: append([]Model{primary}, fallbacks...)}
}

// Fallback is the Model of WithFallback.
type Fallback struct {
	models []Model
}

// Name is the primary model's name.
func (f *Fallback) Name() string { return f.models[0].Name() }

// Models returns the models in the order they are tried, primary first: a
// new slice.
func (f *Fallback) Models() []Model { return append([]Model(nil), f.models...) }

// Unwrap returns the primary model.
func (f *Fallback) Unwrap() Model { return f.models[0] }

// Generate asks each model in turn until one answers or fails with an error
// that is not a provider's (FailsOver). The error, when all fail, is the
// last one, joined with those before it.
func (f *Fallback) Generate(ctx context.Context, req *Request) (*Response, error) {
	var errs []error
	for i, m := range f.models {
		resp, err := m.Generate(ctx, req)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, err)
		if i == len(f.models)-1 || ctx.Err() != nil || !FailsOver(err) {
			break
		}
		if t := ContextTrace(ctx); t != nil && t.FailedOver != nil {
			t.FailedOver(ctx, m.Name(), f.models[i+1].Name(), err)
		}
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	// The last error first, so that its message leads.
	last := errs[len(errs)-1]
	return nil, &FallbackError{Err: last, Earlier: errs[:len(errs)-1]}
}

// FallbackError is the error of a Fallback whose models all failed (or
// whose last tried failed with an error that does not fail over).
type FallbackError struct {
	// Err is the last model's error.
	Err error
	// Earlier are the errors of the models tried before it, in order.
	Earlier []error
}

func (e *FallbackError) Error() string {
	s := e.Err.Error()
	if len(e.Earlier) > 0 {
		s += " (after failing over from"
		for i, err := range e.Earlier {
			if i > 0 {
				s += ";"
			}
			s += " " + err.Error()
		}
		s += ")"
	}
	return s
}

// Unwrap returns every model's error, the last first: errors.Is and
// errors.As see the last model's first.
func (e *FallbackError) Unwrap() []error { return append([]error{e.Err}, e.Earlier...) }

// FailsOver reports whether err, the error of a call after its retries, is
// the provider's failure rather than the request's, so that another model
// may take the call: a server error (5xx), a rate limit (429) or a request
// timeout (408) still hit, an attempt timed out, a connection refused or
// reset, a host that cannot be resolved, a truncated or malformed answer.
// The request's own errors (400, 401, 403, 404, 413, 422: a key refused, a
// model unknown, a schema refused) and ErrTooLarge do not fail over.
func FailsOver(err error) bool {
	if err == nil || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrScriptExhausted) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	return Retryable(err)
}
