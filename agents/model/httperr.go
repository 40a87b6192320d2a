package model

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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
