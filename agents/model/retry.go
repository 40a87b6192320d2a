package model

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
	"time"
)

// Trace holds hooks called during a model call, carried by the context like
// net/http/httptrace: the runtime uses it to turn retries into events without
// the provider knowing about events.
type Trace struct {
	// Retried is called before waiting to try a failed call again. Attempt
	// is the number of the attempt that failed, from 1; ctx is the call's.
	Retried func(ctx context.Context, attempt int, err error, wait time.Duration)
	// FailedOver is called when a model of WithFallback failed (after its
	// retries) and the call goes to the next one, named to.
	FailedOver func(ctx context.Context, from, to string, err error)
}

type traceKey struct{}

// WithTrace returns a context that carries t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// ContextTrace returns the Trace carried by ctx, or nil.
func ContextTrace(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// RetryOptions configures WithRetry. The zero value is usable.
type RetryOptions struct {
	// MaxAttempts bounds the attempts, the first included. Default 4.
	MaxAttempts int
	// BaseDelay is the wait before the second attempt; it doubles each time,
	// with full jitter. Default 500ms.
	BaseDelay time.Duration
	// MaxDelay caps one wait, Retry-After included. Default 30s.
	MaxDelay time.Duration
	// Timeout bounds each attempt. Zero means no bound beyond the context's.
	Timeout time.Duration
	// Jitter returns a number in [0,1) to scale each backoff; nil uses
	// math/rand/v2. Tests set it for determinism.
	Jitter func() float64
}

// WithRetry returns a Model that tries m again on temporary failures: HTTP 429,
// 408 and 5xx answers, connection errors, truncated or malformed bodies and
// per-attempt timeouts. A refused connection is tried once more only. Other
// errors (an unknown host among them), and the caller's own cancellation, are
// returned at once. A server's Retry-After is honoured (capped by MaxDelay).
func WithRetry(m Model, opts *RetryOptions) Model {
	var o RetryOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 30 * time.Second
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return &retrying{m: m, o: o}
}

type retrying struct {
	m Model
	o RetryOptions
}

func (r *retrying) Name() string { return r.m.Name() }

// Unwrap returns the model being retried.
func (r *retrying) Unwrap() Model { return r.m }

func (r *retrying) Generate(ctx context.Context, req *Request) (*Response, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		var (
			resp *Response
			err  error
		)
		if r.o.Timeout <= 0 {
			// Called from here, one frame less on the stack of every call
			// waiting for its answer (the collector scans each of them).
			resp, err = r.m.Generate(ctx, req)
		} else {
			resp, err = r.attempt(ctx, req)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
		// A refused connection is tried once more (a server restarting),
		// not as long as a transient failure.
		refused := errors.Is(err, syscall.ECONNREFUSED) && attempt >= 2
		if ctx.Err() != nil || !Retryable(err) || refused || attempt >= r.o.MaxAttempts {
			if attempt > 1 {
				return nil, &RetryError{Attempts: attempt, Err: lastErr}
			}
			return nil, lastErr
		}
		wait := r.backoff(attempt, err)
		if t := ContextTrace(ctx); t != nil && t.Retried != nil {
			t.Retried(ctx, attempt, err, wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, &RetryError{Attempts: attempt, Err: errors.Join(lastErr, ctx.Err())}
		case <-timer.C:
		}
	}
}

// attempt calls the model under the per-attempt Timeout.
func (r *retrying) attempt(ctx context.Context, req *Request) (*Response, error) {
	actx, cancel := context.WithTimeoutCause(ctx, r.o.Timeout, errAttemptTimeout)
	defer cancel()
	resp, err := r.m.Generate(actx, req)
	if err != nil && ctx.Err() == nil && context.Cause(actx) == errAttemptTimeout {
		err = &attemptTimeout{after: r.o.Timeout, err: err}
	}
	return resp, err
}

var errAttemptTimeout = errors.New("model: attempt timed out")

// attemptTimeout is the error of an attempt cut short by the per-attempt
// Timeout. It says so once, on one line, with the bound (the provider's
// error, which repeats the cause after the request's URL, is kept for
// errors.Is and errors.As but not shown).
type attemptTimeout struct {
	after time.Duration
	err   error
}

func (e *attemptTimeout) Error() string {
	return errAttemptTimeout.Error() + " after " + e.after.String()
}

func (e *attemptTimeout) Unwrap() []error { return []error{errAttemptTimeout, e.err} }

func (r *retrying) backoff(attempt int, err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return min(ae.RetryAfter, r.o.MaxDelay)
	}
	d := r.o.BaseDelay << (attempt - 1)
	if d <= 0 || d > r.o.MaxDelay {
		d = r.o.MaxDelay
	}
	// Full jitter, but never below half the step, so waits still grow.
	return d/2 + time.Duration(r.o.Jitter()*float64(d/2))
}

// RetryError reports a call that failed after more than one attempt.
type RetryError struct {
	Attempts int
	Err      error
}

func (e *RetryError) Error() string {
	return "model: gave up after " + strconv.Itoa(e.Attempts) + " attempts: " + e.Err.Error()
}

// Unwrap returns the last attempt's error.
func (e *RetryError) Unwrap() error { return e.Err }

// Retryable reports whether err is a temporary failure worth another attempt.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false // no such host: asking again will not make one
	}
	if errors.Is(err, errAttemptTimeout) || errors.Is(err, ErrMalformed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}
