package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/entrust-dev/entrust/agents/model"
)

// capture holds what go-openai does not tell about an answer: its status and
// headers. One is made per call and carried by the request's context, so
// concurrent calls never share one.
type capture struct {
	status int
	header http.Header
}

type captureKey struct{}

// capturingDoer records the status and headers of each answer in the capture
// of the request's context.
type capturingDoer struct{ c *http.Client }

// Do sends req and records the status and headers of the answer.
func (d capturingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err == nil {
		if c, ok := req.Context().Value(captureKey{}).(*capture); ok {
			c.status, c.header = resp.StatusCode, resp.Header
		}
	}
	return resp, err
}

// mapError turns go-openai's errors into entrust's: error answers into a
// *model.APIError, unreadable answers into errors matching
// model.ErrMalformed; transport failures and cancellation are wrapped as is.
func mapError(ctx context.Context, err error, c *capture) error {
	var (
		oe *goopenai.APIError
		re *goopenai.RequestError
	)
	switch {
	case errors.As(err, &re):
		// Checked first: go-openai wraps a half-decoded, empty APIError in
		// the RequestError of an error body it could not read.
		ae := &model.APIError{Provider: "openai", StatusCode: re.HTTPStatusCode}
		parseErrorBody(re.Body, ae)
		ae.RetryAfter = RetryAfter(c.header, time.Now())
		return ae
	case errors.As(err, &oe):
		ae := &model.APIError{
			Provider:   "openai",
			StatusCode: oe.HTTPStatusCode,
			Type:       oe.Type,
			Code:       codeString(oe.Code),
			Message:    oe.Message,
		}
		if ae.StatusCode == 0 && c.status >= 400 {
			ae.StatusCode = c.status
		}
		if c.status >= 400 {
			ae.RetryAfter = RetryAfter(c.header, time.Now())
		}
		return ae
	case ctx.Err() != nil:
		return fmt.Errorf("openai: %w", err)
	case c.status >= 400:
		// The error answer could not even be read.
		return &model.APIError{
			Provider:   "openai",
			StatusCode: c.status,
			Message:    err.Error(),
			RetryAfter: RetryAfter(c.header, time.Now()),
		}
	case c.status != 0:
		// A success answer whose body could not be read or decoded.
		return fmt.Errorf("openai: %w: %w", model.ErrMalformed, err)
	}
	return fmt.Errorf("openai: %w", err)
}

// parseErrorBody fills e from an error body in any of the shapes compatible
// servers use: {"error":{"message","type","code"}}, {"error":"…"},
// {"message":…,"type":…,"code":…}, {"detail":…}, or plain text.
func parseErrorBody(body []byte, e *model.APIError) {
	body = []byte(strings.TrimSpace(string(body)))
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
	if e.Message == "" {
		e.Message = string(body)
		if len(e.Message) > 512 {
			e.Message = e.Message[:512] + "…"
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(e.StatusCode)
	}
}

// text reads a JSON string, or keeps any other JSON value as written.
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
	case int:
		return strconv.Itoa(v)
	}
	return fmt.Sprint(c)
}

// maxRetryAfter bounds the waits read from headers, against nonsense.
const maxRetryAfter = 24 * time.Hour

// RetryAfter reads the wait a server asks for in h: retry-after-ms
// (milliseconds, as Azure and others send), else Retry-After in seconds or
// as an HTTP date, relative to now. It returns zero when there is none.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return seconds(f / 1000)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return seconds(f)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// seconds converts a wait read from a header, bounded by maxRetryAfter;
// NaN and negative waits are none.
func seconds(f float64) time.Duration {
	switch {
	case !(f > 0) || math.IsInf(f, 1):
		return 0
	case f >= maxRetryAfter.Seconds():
		return maxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}

// stableID makes the id of a tool call the server sent without one. It
// depends only on the answer and the conversation, so a replayed run gets
// the same ids, and on the conversation's length, so two turns calling the
// same tool the same way get different ones.
func stableID(respID string, turn, index int, name, args string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d\x00%d\x00%s\x00%s", respID, turn, index, name, args)
	return fmt.Sprintf("call_%016x", h.Sum64())
}
