package langchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tmc/langchaingo/llms"

	"github.com/entrust-dev/entrust/agents/model"
)

// capture holds what langchaingo's errors do not tell about an answer: its
// status, headers and error body. One is made per call and carried by the
// context, which langchaingo's HTTP backends put on their requests.
type capture struct {
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
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
	var body []byte
	if resp.StatusCode >= 400 {
		// Read the error body here, and give the backend a copy to read.
		body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.mu.Lock()
	c.status, c.header, c.body = resp.StatusCode, resp.Header, body
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
		ae := &model.APIError{Provider: m.provider, StatusCode: status, RetryAfter: retryAfter(header, time.Now())}
		parseErrorBody(body, ae)
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

// parseErrorBody fills e from an error body in any of the shapes servers
// use: {"error":{"message","type","code"}}, {"error":"…"},
// {"message":…,"type":…,"code":…}, {"detail":…}, or plain text.
func parseErrorBody(body []byte, e *model.APIError) {
	body = bytes.TrimSpace(body)
	var w struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
		Type    string          `json:"type"`
		Code    any             `json:"code"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &w) == nil {
		var inner struct {
			Message json.RawMessage `json:"message"`
			Type    string          `json:"type"`
			Code    any             `json:"code"`
		}
		switch {
		case len(w.Error) > 0 && w.Error[0] == '{' && json.Unmarshal(w.Error, &inner) == nil:
			e.Message, e.Type, e.Code = text(inner.Message), inner.Type, codeString(inner.Code)
		case len(w.Error) > 0 && w.Error[0] == '"':
			e.Message, e.Type, e.Code = text(w.Error), w.Type, codeString(w.Code)
		case len(w.Message) > 0:
			e.Message, e.Type, e.Code = text(w.Message), w.Type, codeString(w.Code)
		case len(w.Detail) > 0:
			e.Message = text(w.Detail)
		}
	}
	if e.Message == "" && len(body) > 0 {
		e.Message = string(body)
		if len(e.Message) > 512 {
			e.Message = e.Message[:512] + "…"
		}
	}
}

func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func codeString(c any) string {
	switch v := c.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(c)
}

// retryAfter reads the wait a server asks for: retry-after-ms, else
// Retry-After in seconds or as an HTTP date; zero when there is none.
func retryAfter(h http.Header, now time.Time) time.Duration {
	const limit = 24 * time.Hour
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return seconds(f/1000, limit)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(f, limit)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), limit)
	}
	return 0
}

// seconds converts a wait read from a header, bounded by limit; NaN and
// negative waits are none.
func seconds(f float64, limit time.Duration) time.Duration {
	switch {
	case !(f > 0) || math.IsInf(f, 1):
		return 0
	case f >= limit.Seconds():
		return limit
	}
	return time.Duration(f * float64(time.Second))
}
