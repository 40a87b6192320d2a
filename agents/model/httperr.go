package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseBody fills e's Type, Code and Message from an error body in any of the
// shapes OpenAI-compatible servers use: {"error":{"message","type","code"}},
// {"error":"…"}, {"message":…,"type":…,"code":…}, {"detail":…}, or plain
// text. The message is cut at MaxErrorText bytes, whatever its shape. With no
// body, the message is the status text.
func (e *APIError) ParseBody(body []byte) {
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
			e.Message, e.Type, e.Code = jsonText(inner.Message), inner.Type, codeString(inner.Code)
		case len(w.Error) > 0 && w.Error[0] == '"':
			e.Message, e.Type, e.Code = jsonText(w.Error), w.Type, codeString(w.Code)
		case len(w.Message) > 0:
			e.Message, e.Type, e.Code = jsonText(w.Message), w.Type, codeString(w.Code)
		case len(w.Detail) > 0:
			e.Message = jsonText(w.Detail)
		}
	}
	if e.Message == "" && len(body) > 0 {
		e.Message = string(body)
	}
	e.Message = ClipText(e.Message, MaxErrorText)
	if e.Message == "" && e.StatusCode != 0 {
		e.Message = http.StatusText(e.StatusCode)
	}
}

// jsonText reads a JSON string, or keeps any other JSON value as written.
func jsonText(raw json.RawMessage) string {
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

// maxRetryAfter bounds the waits read from headers, against nonsense.
const maxRetryAfter = 24 * time.Hour

// RetryAfter reads the wait a server asks for in h: Retry-After-Ms
// (milliseconds, as Azure and others send), else Retry-After in seconds or as
// an HTTP date, relative to now. It returns zero when there is none, and never
// more than a day.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return headerSeconds(f / 1000)
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return headerSeconds(f)
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// headerSeconds converts a wait read from a header, bounded by maxRetryAfter;
// NaN and negative waits are none.
func headerSeconds(f float64) time.Duration {
	switch {
	case !(f > 0) || math.IsInf(f, 1):
		return 0
	case f >= maxRetryAfter.Seconds():
		return maxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}
