package spacetime

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Defaults of Backoff.
const (
	DefaultBackoffMin    = time.Second
	DefaultBackoffMax    = 60 * time.Second
	DefaultBackoffFactor = 2
	DefaultBackoffJitter = 0.2
)

// Backoff spaces out reconnection attempts: exponential growth from Min by
// Factor, capped at Max, each delay shortened by a random share of up to
// Jitter so that many daemons restarted together do not redial in step.
// The cap is a hard ceiling: no delay exceeds Max. With the defaults a
// ten-minute outage costs at most 20 attempts (docs/reliability.md §9).
//
// The zero value is ready to use. A Backoff is not safe for concurrent use:
// keep one per reconnect loop.
type Backoff struct {
	// Min is the first delay (default 1s).
	Min time.Duration
	// Max caps every delay (default 60s).
	Max time.Duration
	// Factor multiplies the delay after each attempt (default 2; values
	// below 1 mean the default).
	Factor float64
	// Jitter is the largest share of a delay removed at random, 0–1
	// (default 0.2: each delay falls in [0.8·d, d]). Negative means none.
	Jitter float64
	// Rand returns a number in [0, 1) (default math/rand/v2.Float64).
	Rand func() float64

	attempt int
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi <= 0 {
		hi = DefaultBackoffMax
	}
	factor := b.Factor
	if factor < 1 {
		factor = DefaultBackoffFactor
	}
	jitter := b.Jitter
	switch {
	case jitter == 0:
		jitter = DefaultBackoffJitter
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		jitter = 1
	}
	random := rand.Float64
	if b.Rand != nil {
		random = b.Rand
	}
	// In float64 the power saturates at +Inf instead of overflowing.
	d := math.Min(float64(lo)*math.Pow(factor, float64(b.attempt)), float64(hi))
	b.attempt++
	d -= d * jitter * random()
	return time.Duration(d)
}

// Attempt is the number of delays handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts over from Min, after a connection that worked.
func (b *Backoff) Reset() { b.attempt = 0 }

// Wait sleeps for Next(), or until ctx ends, whose error it then returns.
func (b *Backoff) Wait(ctx context.Context) error {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
