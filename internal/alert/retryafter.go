package alert

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads an HTTP Retry-After header as every sink gets it:
// a number of seconds (a fraction allowed) or an HTTP date, taken from now.
// A missing, malformed, negative or past value is 0 (no wish), and a
// value beyond the outbox's bound (1h) is that bound, so that a broken
// proxy cannot park a sink for days.
func ParseRetryAfter(header string, now time.Time) time.Duration {
	header = strings.TrimSpace(header)
	if header == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(header, 64); err == nil {
		return RetryAfterSeconds(secs)
	}
	if t, err := http.ParseTime(header); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// RetryAfterSeconds is a wait a sink gave in seconds (a Retry-After
// header, a JSON body's retry_after), bounded as ParseRetryAfter bounds it.
func RetryAfterSeconds(secs float64) time.Duration {
	switch {
	case secs <= 0 || math.IsNaN(secs):
		return 0
	case secs >= maxRetryAfter.Seconds():
		return maxRetryAfter
	}
	return time.Duration(secs * float64(time.Second))
}
