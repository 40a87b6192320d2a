package model

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrMalformed is matched (errors.Is) by every error that reports a response
// the client could not make sense of: bad JSON, no choices, a truncated body.
var ErrMalformed = errors.New("model: malformed response")

// ErrTooLarge is matched by the error of an answer whose body exceeds the
// provider's bound (8 MB by default). It is not retried: the same request
// would get the same answer.
var ErrTooLarge = errors.New("model: response too large")

// ErrScriptExhausted is returned by a scripted model asked for more turns than
// its script holds.
var ErrScriptExhausted = errors.New("model: script exhausted")

// APIError is an error answer from a model server.
type APIError struct {
	// StatusCode is the HTTP status, 0 when the error was not an HTTP answer.
	StatusCode int
	// Type and Code are the server's own classification, when it gave one.
	Type, Code string
	Message    string
	// RetryAfter is the wait the server asked for (Retry-After), zero if none.
	RetryAfter time.Duration
	// Provider names the provider that saw the error, e.g. "openai".
	Provider string
}

func (e *APIError) Error() string {
	s := "model"
	if e.Provider != "" {
		s = e.Provider
	}
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Temporary reports whether the call may succeed if tried again: rate limits,
// server errors and request timeouts.
func (e *APIError) Temporary() bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusRequestTimeout:
		return true
	case e.StatusCode >= 500:
		return true
	}
	return false
}
