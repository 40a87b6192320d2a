package langchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/entrust-dev/entrust/agents/model"
	"github.com/entrust-dev/entrust/agents/model/internal/errbody"
)

// capture holds what langchaingo's errors do not tell about an answer: its
// status, headers and error body. One is made per call and carried by the
// context, which langchaingo's HTTP backends put on their requests.
type capture struct {
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
	// secrets are the credentials the request carried (its Authorization
	// header and the token in it), to redact from what comes back.
	secrets []string
}

type captureKey struct{}

func (c *capture) get() (int, http.Header, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.header, c.body
}

// maxErrorBody bounds the error body kept for the error message.
const maxErrorBody = 64 << 10

// HTTPClient returns a copy of base (nil: a default client) whose transport
// lets Model read the status, headers and error body of each answer, which
// langchaingo folds into error strings. Give it to the backend, e.g.
// openai.WithHTTPClient(langchain.HTTPClient(nil)), and error answers become
// a *model.APIError with the server's status, type, code, message and
// Retry-After.
func HTTPClient(base *http.Client) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = captureTransport{rt}
	return &c
}

type captureTransport struct{ rt http.RoundTripper }

// RoundTrip sends req and records the status, headers and error body of
// the answer.
func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	c, ok := req.Context().Value(captureKey{}).(*capture)
	if !ok {
		return resp, nil
	}
	var secrets []string
	for _, h := range []string{"Authorization", "Api-Key", "X-Api-Key"} {
		if v := req.Header.Get(h); v != "" {
			_, token, _ := strings.Cut(v, " ")
			secrets = append(secrets, v, token)
		}
	}
	var body []byte
	if resp.StatusCode >= 400 {
		// Read the error body here, and give the backend a copy to read.
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.mu.Lock()
	c.status, c.header, c.body = resp.StatusCode, resp.Header, body
	c.secrets = secrets
	c.mu.Unlock()
	return resp, nil
}

var statusInText = regexp.MustCompile(`(?i)status(?: code)?:? (\d{3})\b`)

// mapError turns the backend's errors into entrust's: error answers into a
// *model.APIError, unreadable answers into errors matching
// model.ErrMalformed; other failures and cancellation are wrapped as is.
func (m *Model) mapError(ctx context.Context, err error, c *capture) error {
	status, header, body := c.get()
	switch {
	case ctx.Err() != nil:
		if !errors.Is(err, ctx.Err()) {
			// langchaingo rewrites transport errors, dropping the cause.
			return fmt.Errorf("%s: %w: %w", m.provider, ctx.Err(), err)
		}
		return fmt.Errorf("%s: %w", m.provider, err)
	case status >= 400:
		ae := &model.APIError{Provider: m.provider, StatusCode: status, RetryAfter: model.RetryAfter(header, time.Now())}
		errbody.Parse(ae, body)
		if ae.Message == "" {
			ae.Message = err.Error()
		}
		return ae
	case status != 0:
		// A success answer, yet an error: its body was malformed, cut, or
		// held no choices.
		return fmt.Errorf("%s: %w: %w", m.provider, model.ErrMalformed, err)
	}
	// Nothing captured: read what the error itself tells.
	var le *llms.Error
	if errors.As(err, &le) {
		if s := statusOfCode(le.Code); s != 0 {
			return &model.APIError{Provider: m.provider, StatusCode: s, Type: string(le.Code), Message: err.Error()}
		}
	}
	if sm := statusInText.FindStringSubmatch(err.Error()); sm != nil {
		s, _ := strconv.Atoi(sm[1])
		if s >= 400 {
			return &model.APIError{Provider: m.provider, StatusCode: s, Message: err.Error()}
		}
	}
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w: %w", m.provider, model.ErrMalformed, err)
	}
	if s := err.Error(); s == "no response" || s == "empty response" {
		return fmt.Errorf("%s: %w: %w", m.provider, model.ErrMalformed, err)
	}
	return fmt.Errorf("%s: %w", m.provider, err)
}

func statusOfCode(c llms.ErrorCode) int {
	switch c {
	case llms.ErrCodeRateLimit, llms.ErrCodeQuotaExceeded:
		return http.StatusTooManyRequests
	case llms.ErrCodeProviderUnavailable:
		return http.StatusServiceUnavailable
	case llms.ErrCodeTimeout:
		return http.StatusRequestTimeout
	case llms.ErrCodeAuthentication:
		return http.StatusUnauthorized
	case llms.ErrCodeResourceNotFound:
		return http.StatusNotFound
	case llms.ErrCodeInvalidRequest, llms.ErrCodeTokenLimit, llms.ErrCodeContentFilter:
		return http.StatusBadRequest
	}
	return 0
}

// redactor replaces the model's configured secrets and those the call's
// request carried.
func (m *Model) redactor(c *capture) *model.Redactor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return model.NewRedactor(append(slices.Clone(m.secrets), c.secrets...)...)
}
