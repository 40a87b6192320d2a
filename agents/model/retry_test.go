package model_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// flaky fails with errs, one per call, then answers "ok"; it records when
// each call was made (in the bubble's fake time).
type flaky struct {
	errs  []error
	calls []time.Time
}

func (f *flaky) Name() string { return "flaky" }

func (f *flaky) Generate(ctx context.Context, _ *model.Request) (*model.Response, error) {
	f.calls = append(f.calls, time.Now())
	if n := len(f.calls); n <= len(f.errs) {
		return nil, f.errs[n-1]
	}
	return &model.Response{Message: model.Message{Role: model.RoleAssistant, Content: "ok"}}, nil
}

// gaps returns the time between consecutive calls.
func (f *flaky) gaps() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(f.calls); i++ {
		out = append(out, f.calls[i].Sub(f.calls[i-1]))
	}
	return out
}

// retryRecord is a Trace that records each retry.
type retryRecord struct {
	attempts []int
	waits    []time.Duration
	errs     []error
}

func (r *retryRecord) ctx(ctx context.Context) context.Context {
	return model.WithTrace(ctx, &model.Trace{Retried: func(_ context.Context, attempt int, err error, wait time.Duration) {
		r.attempts = append(r.attempts, attempt)
		r.waits = append(r.waits, wait)
		r.errs = append(r.errs, err)
	}})
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func half() float64 { return 0.5 }

var unavailable = &model.APIError{StatusCode: 503, Message: "unavailable"}

func TestRetryBackoffGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: repeat(unavailable, 4)}
		var rec retryRecord
		m := model.WithRetry(f, &model.RetryOptions{MaxAttempts: 6, BaseDelay: time.Second, MaxDelay: time.Minute, Jitter: half})
		resp, err := m.Generate(rec.ctx(t.Context()), &model.Request{})
		if err != nil || resp.Message.Content != "ok" {
			t.Fatalf("Generate = %+v, %v", resp, err)
		}
		// Step d = 1s, 2s, 4s, 8s; wait = d/2 + jitter·d/2 = 0.75·d.
		want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}
		if fmt.Sprint(f.gaps()) != fmt.Sprint(want) || fmt.Sprint(rec.waits) != fmt.Sprint(want) {
			t.Errorf("gaps %v, traced waits %v, want %v", f.gaps(), rec.waits, want)
		}
	})
}

func TestRetryBackoffGrowsWhateverTheJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The worst case for growth: a high draw, then a low one.
		draws := []float64{0.999, 0, 0.999, 0, 0.999}
		f := &flaky{errs: repeat(unavailable, 5)}
		m := model.WithRetry(f, &model.RetryOptions{MaxAttempts: 6, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Hour, Jitter: func() float64 {
			d := draws[0]
			draws = draws[1:]
			return d
		}})
		if _, err := m.Generate(t.Context(), &model.Request{}); err != nil {
			t.Fatal(err)
		}
		g := f.gaps()
		for i := 1; i < len(g); i++ {
			if g[i] < g[i-1] {
				t.Errorf("wait %d (%v) shorter than wait %d (%v)", i+1, g[i], i, g[i-1])
			}
		}
	})
}

func TestRetryCapsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: repeat(unavailable, 4)}
		m := model.WithRetry(f, &model.RetryOptions{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 2 * time.Second, Jitter: half})
		if _, err := m.Generate(t.Context(), &model.Request{}); err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond}
		if fmt.Sprint(f.gaps()) != fmt.Sprint(want) {
			t.Errorf("gaps %v, want %v", f.gaps(), want)
		}
	})
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limited := &model.APIError{StatusCode: 429, RetryAfter: 7 * time.Second}
		f := &flaky{errs: []error{limited}}
		var rec retryRecord
		m := model.WithRetry(f, &model.RetryOptions{BaseDelay: time.Millisecond, Jitter: half})
		start := time.Now()
		if _, err := m.Generate(rec.ctx(t.Context()), &model.Request{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 7*time.Second {
			t.Errorf("took %v, want the 7s the server asked for", d)
		}
		if len(rec.waits) != 1 || rec.waits[0] != 7*time.Second || rec.errs[0] != limited {
			t.Errorf("trace %+v", rec)
		}
	})
}

func TestRetryAfterIsCappedByMaxDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: []error{&model.APIError{StatusCode: 429, RetryAfter: time.Hour}}}
		m := model.WithRetry(f, &model.RetryOptions{MaxDelay: 10 * time.Second})
		start := time.Now()
		if _, err := m.Generate(t.Context(), &model.Request{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("took %v, want 10s", d)
		}
	})
}

func TestRetryNotOnClientErrors(t *testing.T) {
	for _, err := range []error{
		&model.APIError{StatusCode: 400, Message: "bad request"},
		&model.APIError{StatusCode: 401},
		&model.APIError{StatusCode: 404},
		model.ErrScriptExhausted,
		errors.New("not a temporary failure"),
	} {
		synctest.Test(t, func(t *testing.T) {
			f := &flaky{errs: []error{err}}
			var rec retryRecord
			_, got := model.WithRetry(f, nil).Generate(rec.ctx(t.Context()), &model.Request{})
			if got != err || len(f.calls) != 1 || len(rec.attempts) != 0 {
				t.Errorf("%v: err %v after %d calls, %d retries", err, got, len(f.calls), len(rec.attempts))
			}
			var re *model.RetryError
			if errors.As(got, &re) {
				t.Errorf("%v: wrapped in a RetryError", err)
			}
		})
	}
}

func TestRetryBoundedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: repeat(unavailable, 100)}
		var rec retryRecord
		_, err := model.WithRetry(f, &model.RetryOptions{MaxAttempts: 3}).Generate(rec.ctx(t.Context()), &model.Request{})
		var re *model.RetryError
		if !errors.As(err, &re) || re.Attempts != 3 || len(f.calls) != 3 {
			t.Fatalf("err %v after %d calls", err, len(f.calls))
		}
		var ae *model.APIError
		if !errors.As(err, &ae) || ae != unavailable {
			t.Errorf("last error not kept: %v", err)
		}
		// Each retry, and only a retry, calls the Trace hook, with the
		// number of the attempt that failed.
		if fmt.Sprint(rec.attempts) != "[1 2]" || len(rec.errs) != 2 || rec.errs[1] != unavailable {
			t.Errorf("trace %+v", rec)
		}
	})
}

func TestRetryDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: repeat(unavailable, 100)}
		_, err := model.WithRetry(f, nil).Generate(t.Context(), &model.Request{})
		var re *model.RetryError
		if !errors.As(err, &re) || re.Attempts != 4 {
			t.Errorf("err %v, want 4 attempts by default", err)
		}
	})
}

func TestRetryStopsWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: []error{&model.APIError{StatusCode: 429, RetryAfter: 20 * time.Second}}}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := model.WithRetry(f, nil).Generate(ctx, &model.Request{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second || len(f.calls) != 1 {
			t.Errorf("err %v after %v and %d calls", err, time.Since(start), len(f.calls))
		}
	})
}

func TestRetryAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		hang := model.Func(func(ctx context.Context, _ *model.Request) (*model.Response, error) {
			calls++
			if calls == 1 {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return &model.Response{}, nil
		})
		m := model.WithRetry(hang, &model.RetryOptions{Timeout: 2 * time.Second, BaseDelay: time.Second, Jitter: half})
		start := time.Now()
		if _, err := m.Generate(t.Context(), &model.Request{}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); calls != 2 || d != 2*time.Second+750*time.Millisecond {
			t.Errorf("%d calls in %v", calls, d)
		}
	})
}

// TestRetryAttemptTimeoutSaid: an attempt that never answers fails with one
// line naming the bound, which still matches the deadline it hit.
func TestRetryAttemptTimeoutSaid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := model.Func(func(ctx context.Context, _ *model.Request) (*model.Response, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("openai: Post \"http://x/v1\": %w", context.Cause(ctx))
		})
		m := model.WithRetry(hang, &model.RetryOptions{Timeout: 2 * time.Second, MaxAttempts: 2, BaseDelay: time.Second, Jitter: half})
		_, err := m.Generate(t.Context(), &model.Request{})
		want := "model: gave up after 2 attempts: model: attempt timed out after 2s"
		if err == nil || err.Error() != want || !model.Retryable(errors.Unwrap(err)) {
			t.Errorf("got %v, want %q", err, want)
		}
	})
}

// TestRetryThroughOpenAI retries a real provider over HTTP: the loopback
// server first answers 429 with Retry-After, then succeeds.
func TestRetryThroughOpenAI(t *testing.T) {
	// The server lives outside the bubble, on real time.
	srv := openaitest.NewServer(t, &openaitest.Options{Replies: []openaitest.Reply{openaitest.RateLimited("3"), openaitest.Text("made it")}})
	synctest.Test(t, func(t *testing.T) {
		// No keep-alive: an idle connection's reader would block on the
		// network, which the bubble cannot see through, and time would
		// never advance.
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		om, err := openai.New(openai.Config{BaseURL: srv.URL, Model: "m", HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		var rec retryRecord
		m := model.WithRetry(om, &model.RetryOptions{BaseDelay: 10 * time.Millisecond})
		start := time.Now()
		resp, err := m.Generate(rec.ctx(t.Context()), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
		if err != nil || resp.Message.Content != "made it" {
			t.Fatalf("Generate = %+v, %v", resp, err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("took %v of fake time, want the 3s of Retry-After", d)
		}
		var ae *model.APIError
		if len(rec.waits) != 1 || rec.waits[0] != 3*time.Second || !errors.As(rec.errs[0], &ae) || ae.StatusCode != 429 {
			t.Errorf("trace %+v", rec)
		}
	})
	if srv.Count() != 2 {
		t.Errorf("server saw %d requests, want 2", srv.Count())
	}
}
