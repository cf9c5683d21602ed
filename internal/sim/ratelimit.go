package sim

import (
	"sync"
	"time"
)

// Per-minute limits of the rate-limit buckets. The godot profile follows
// security_config.gd (docs/instance.md, "Rate limiting"); the checklist profile
// follows the deployment checklist, which adds /status and drops /scene/reload.
var (
	godotLimits = map[string]float64{
		"/scene":         30, // shared by GET, POST and PUT
		"/scene/reload":  20,
		"/scenes":        60,
		"/scene/history": 100,
	}
	checklistLimits = map[string]float64{
		"/scene":         30,
		"/scenes":        60,
		"/scene/history": 100,
		"/status":        100,
	}
)

// rateLimiter is a set of token buckets keyed by endpoint and shared by all
// clients (the shipped server cannot tell clients apart: docs/instance.md, "Rate limiting"). Each
// bucket starts full at limit tokens and refills continuously at limit/60
// tokens per second.
type rateLimiter struct {
	mu      sync.Mutex
	limits  map[string]float64
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(limits map[string]float64) *rateLimiter {
	return &rateLimiter{limits: limits, buckets: map[string]*bucket{}}
}

// take spends one token of endpoint's bucket at now. When the bucket is
// empty it returns false and the seconds until one token has refilled,
// (1 − tokens) × 60 / limit. An endpoint without a limit always passes.
func (l *rateLimiter) take(endpoint string, now time.Time) (ok bool, retryAfter float64) {
	limit, limited := l.limits[endpoint]
	if !limited {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[endpoint]
	if b == nil {
		b = &bucket{tokens: limit, last: now}
		l.buckets[endpoint] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(limit, b.tokens+elapsed*limit/60)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, (1 - b.tokens) * 60 / limit
}
