package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
)

// blocking is a model whose every call waits for its context to end.
type blocking struct{}

func (blocking) Name() string { return "m" }

func (blocking) Generate(ctx context.Context, _ *model.Request) (*model.Response, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A call whose every attempt timed out stops the run, saying so; a call the
// run's own end cut short, in the middle of its retries, does not: it says
// nothing of the endpoint.
func TestGuardedStopsOnExhaustedRetries(t *testing.T) {
	retried := model.WithRetry(blocking{}, &model.RetryOptions{MaxAttempts: 3, Timeout: time.Millisecond, BaseDelay: time.Microsecond, Jitter: func() float64 { return 0 }})
	var stopped []error
	g := &guarded{Model: retried, endpoint: "http://127.0.0.1:1/v1", model: "m", stop: func(err error) { stopped = append(stopped, err) }}
	if _, err := g.Generate(t.Context(), &model.Request{}); err == nil {
		t.Fatal("no error")
	}
	var u *Unavailable
	if len(stopped) != 1 || !errors.As(stopped[0], &u) {
		t.Fatalf("stop called with %v", stopped)
	}
	want := "http://127.0.0.1:1/v1 kept failing model m's call: model: attempt timed out after 1ms, 3 attempts"
	if !u.Exhausted() || u.Attempts() != 3 || u.RetryAfter() != 0 || u.Error() != want {
		t.Errorf("got %q (exhausted %v, %d attempts), want %q", u, u.Exhausted(), u.Attempts(), want)
	}
	if got := u.Resume("j.jsonl"); got != "run resume j.jsonl once it answers again" {
		t.Errorf("resume hint %q", got)
	}

	// The run ended while the call waited to try again.
	stopped = nil
	ctx, cancel := context.WithCancel(t.Context())
	ctx = model.WithTrace(ctx, &model.Trace{Retried: func(context.Context, int, error, time.Duration) { cancel() }})
	g.Model = model.WithRetry(blocking{}, &model.RetryOptions{MaxAttempts: 3, Timeout: time.Millisecond, BaseDelay: time.Hour})
	var re *model.RetryError
	if _, err := g.Generate(ctx, &model.Request{}); !errors.As(err, &re) {
		t.Fatalf("want the retries' error, got %v", err)
	}
	if len(stopped) != 0 {
		t.Errorf("a call the run's end cut short stopped it: %v", stopped)
	}
}
