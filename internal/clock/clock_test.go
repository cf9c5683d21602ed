package clock_test

import (
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestScaled: a clock at 60x reads its origin at first, then an hour for
// each real minute; an hour of it takes a real minute to wait out.
func TestScaled(t *testing.T) {
	real := testkit.NewClock(t)
	origin := testkit.BaseTime(t).Add(-24 * time.Hour) // not the real clock's reading
	s := clock.NewScaled(origin, 60, real.Now)
	if got := s.Now(); !got.Equal(origin) {
		t.Errorf("at first: %v, want the origin %v", got, origin)
	}
	real.Advance(time.Minute)
	if got := s.Now(); !got.Equal(origin.Add(time.Hour)) {
		t.Errorf("after a real minute: %v, want %v", got, origin.Add(time.Hour))
	}
	real.Advance(1500 * time.Millisecond)
	if got := s.Now().Sub(origin); got != time.Hour+90*time.Second {
		t.Errorf("after 61.5 real seconds: %v elapsed, want 1h1m30s", got)
	}
	if got := s.Wait(time.Hour); got != time.Minute {
		t.Errorf("Wait(1h) = %v, want 1m", got)
	}
	if got := clock.Wait(time.Hour); got != time.Hour {
		t.Errorf("the real clock's Wait(1h) = %v", got)
	}
}
