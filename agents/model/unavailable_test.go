package model_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/entrust-dev/entrust/agents/model"
)

func TestUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err    error
		reason string // "" when the endpoint may serve a later call
	}{
		{&model.APIError{StatusCode: 401}, "the endpoint refused the key (401 Unauthorized)"},
		{fmt.Errorf("wrapped: %w", &model.APIError{StatusCode: 403}), "the endpoint refused the key (403 Forbidden)"},
		{&model.APIError{StatusCode: 404, Message: "model \"m\" not found"}, `not found (404): model "m" not found`},
		{&model.RetryError{Attempts: 2, Err: refused}, "connection refused"},
		{&net.DNSError{Name: "nohost.invalid", IsNotFound: true}, "no such host nohost.invalid"},
		{&model.APIError{StatusCode: 429}, ""},
		{&model.APIError{StatusCode: 503}, ""},
		{&model.APIError{StatusCode: 400}, ""},
		{errors.New("anything else"), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		reason, ok := model.UnavailableReason(tt.err)
		if reason != tt.reason || ok != (tt.reason != "") || model.Unavailable(tt.err) != ok {
			t.Errorf("%v: %q %v, want %q", tt.err, reason, ok, tt.reason)
		}
	}
}

func TestRetryRefusedConnectionOnce(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: repeat(refused, 10)}
		_, err := model.WithRetry(f, &model.RetryOptions{MaxAttempts: 5}).Generate(t.Context(), &model.Request{})
		if len(f.calls) != 2 || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%d calls: %v", len(f.calls), err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		f := &flaky{errs: []error{&net.DNSError{Name: "x.invalid", IsNotFound: true}}}
		_, err := model.WithRetry(f, nil).Generate(t.Context(), &model.Request{})
		if len(f.calls) != 1 || err == nil {
			t.Errorf("an unknown host was tried %d times: %v", len(f.calls), err)
		}
	})
}
