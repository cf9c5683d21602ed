package testkit

import (
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock for tests: it stands still until told to move.
// Safe for concurrent use; inject its Now wherever a component takes a clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at BaseTime.
func NewClock(tb testing.TB) *Clock {
	tb.Helper()
	return &Clock{now: BaseTime(tb)}
}

// NewClockAt returns a clock standing at t.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (negative: a step back, as NTP may do).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
