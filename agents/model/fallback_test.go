package model_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/openai"
	"github.com/entrust-dev/entrust/internal/openaitest"
)

// namedFunc is a Model of a name and a function.
type namedFunc struct {
	name string
	model.Func
}

func (n namedFunc) Name() string { return n.name }

func named(name string, f model.Func) model.Model { return namedFunc{name, f} }

// failover records a Trace's failovers.
type failover struct{ from, to []string }

func (f *failover) ctx(ctx context.Context) context.Context {
	return model.WithTrace(ctx, &model.Trace{FailedOver: func(_ context.Context, from, to string, _ error) {
		f.from, f.to = append(f.from, from), append(f.to, to)
	}})
}

func TestFailsOver(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&model.APIError{StatusCode: http.StatusServiceUnavailable}, true},
		{&model.APIError{StatusCode: http.StatusInternalServerError}, true},
		{&model.RetryError{Attempts: 4, Err: &model.APIError{StatusCode: http.StatusTooManyRequests}}, true},
		{&model.APIError{StatusCode: http.StatusRequestTimeout}, true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{&net.DNSError{Name: "nowhere.invalid", IsNotFound: true}, true},
		{context.DeadlineExceeded, true}, // an attempt's own timeout, the caller's context alive
		{&model.APIError{StatusCode: http.StatusBadRequest}, false},
		{&model.APIError{StatusCode: http.StatusUnauthorized}, false},
		{&model.APIError{StatusCode: http.StatusNotFound}, false},
		{&model.APIError{StatusCode: http.StatusUnprocessableEntity, Message: "invalid schema"}, false},
		{model.ErrTooLarge, false},
		{errors.New("something else"), false},
		{nil, false},
	} {
		if got := model.FailsOver(tc.err); got != tc.want {
			t.Errorf("FailsOver(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestWithFallback(t *testing.T) {
	req := &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}}
	down := func(name string, err error) model.Model {
		return named(name, func(context.Context, *model.Request) (*model.Response, error) { return nil, err })
	}
	t.Run("a provider error goes to the next model", func(t *testing.T) {
		var fo failover
		m := model.WithFallback(down("a", &model.APIError{StatusCode: 503}), down("b", fmt.Errorf("dial: %w", syscall.ECONNREFUSED)),
			model.NewScripted("c", model.Text("from c")))
		if m.Name() != "a" {
			t.Errorf("Name %q, want the primary's", m.Name())
		}
		resp, err := m.Generate(fo.ctx(t.Context()), req)
		if err != nil || resp.Message.Content != "from c" {
			t.Fatalf("Generate: %v, %+v", err, resp)
		}
		if fmt.Sprint(fo.from, fo.to) != "[a b] [b c]" {
			t.Errorf("failovers %v → %v", fo.from, fo.to)
		}
	})
	t.Run("a request error does not", func(t *testing.T) {
		var fo failover
		called := false
		next := named("b", func(context.Context, *model.Request) (*model.Response, error) {
			called = true
			return &model.Response{}, nil
		})
		bad := &model.APIError{StatusCode: 400, Message: "invalid schema"}
		_, err := model.WithFallback(down("a", bad), next).Generate(fo.ctx(t.Context()), req)
		if !errors.Is(err, bad) || called || len(fo.from) != 0 {
			t.Fatalf("err %v, fallback called %v, failovers %v", err, called, fo.from)
		}
	})
	t.Run("all fail: the last error, the earlier ones kept", func(t *testing.T) {
		first, last := &model.APIError{StatusCode: 502}, &model.APIError{StatusCode: 503}
		_, err := model.WithFallback(down("a", first), down("b", last)).Generate(t.Context(), req)
		var fe *model.FallbackError
		if !errors.As(err, &fe) || fe.Err != last || !errors.Is(err, first) {
			t.Fatalf("err %v", err)
		}
		var ae *model.APIError
		if !errors.As(err, &ae) || ae != last {
			t.Errorf("errors.As finds %v, want the last model's error first", ae)
		}
	})
	t.Run("the caller's cancellation does not fail over", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		called := false
		next := named("b", func(context.Context, *model.Request) (*model.Response, error) {
			called = true
			return &model.Response{}, nil
		})
		_, err := model.WithFallback(down("a", &model.APIError{StatusCode: 503}), next).Generate(ctx, req)
		if err == nil || called {
			t.Fatalf("err %v, fallback called %v", err, called)
		}
	})
	t.Run("no fallback is the model itself", func(t *testing.T) {
		m := model.NewScripted("a")
		if model.WithFallback(m) != model.Model(m) {
			t.Error("WithFallback(m) is not m")
		}
	})
}

// Over HTTP: one endpoint answers 503 to every call and another is not
// listening at all; the third, healthy, answers once their retries are
// spent.
func TestWithFallbackLoopback(t *testing.T) {
	failing := openaitest.NewServer(t, &openaitest.Options{Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Error(http.StatusServiceUnavailable, openaitest.ErrorBody("overloaded", "server_error", ""))
	}})
	gone := openaitest.NewServer(t, nil)
	gone.Close()
	healthy := openaitest.NewServer(t, &openaitest.Options{Handler: func(*openaitest.ChatRequest) openaitest.Reply {
		return openaitest.Text("from the healthy one")
	}})
	retry := &model.RetryOptions{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}
	mk := func(url, name string) model.Model {
		m, err := openai.New(openai.Config{BaseURL: url, APIKey: "k", Model: name})
		if err != nil {
			t.Fatal(err)
		}
		return model.WithRetry(m, retry)
	}
	m := model.WithFallback(mk(failing.URL, "primary"), mk(gone.URL, "gone"), mk(healthy.URL, "healthy"))
	var fo failover
	resp, err := m.Generate(fo.ctx(t.Context()), &model.Request{Messages: []model.Message{{Role: model.RoleUser, Content: "hi"}}})
	if err != nil || resp.Message.Content != "from the healthy one" {
		t.Fatalf("Generate: %v, %+v", err, resp)
	}
	if fmt.Sprint(fo.from, fo.to) != "[primary gone] [gone healthy]" {
		t.Errorf("failovers %v → %v", fo.from, fo.to)
	}
	if n := len(failing.Requests()); n != 2 {
		t.Errorf("the failing endpoint got %d requests, want its 2 attempts", n)
	}
}
