// Package clock is the one place that reads the machine's wall clock.
//
// Every decision that depends on time (retention, pruning, rule timers,
// schedules, reviews, silences, grace) reads an injected func() time.Time;
// the daemon and the commands inject Now, tests inject their own. I/O
// deadlines on sockets, which only bound how long a call may block, go
// through Deadline. internal/archtest fails when any other non-test file
// (the simulator aside) calls time.Now, time.Since or time.Until.
package clock

import (
	"context"
	"time"
)

// Now is the real clock: the machine's wall time, with a monotonic reading.
func Now() time.Time { return time.Now() }

// Deadline is the instant d from now, for I/O deadlines (SetReadDeadline,
// SetWriteDeadline, WriteControl) that must be real time whatever clock
// the rest of the daemon runs on.
func Deadline(d time.Duration) time.Time { return time.Now().Add(d) }

// Since is the time elapsed since start on the real clock, for measuring how
// long a call took (latency histograms); never for a decision.
func Since(start time.Time) time.Duration { return time.Since(start) }

// Sleep waits d on the real clock, or less when ctx ends first; it reports
// whether d elapsed (a d of zero or less elapses at once, unless ctx has
// ended).
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Wait is the real clock's pace: d of its time takes d of the wall clock.
// Components whose periodic work must keep pace with an injected Now (the
// check schedule, the review feed) take a Wait func, default this one.
func Wait(d time.Duration) time.Duration { return d }

// Scaled is a clock that runs factor times as fast as the wall clock, from
// an origin: the demo's, on which an hour of a deployment's life passes in
// a minute. Its Now is injected wherever a component takes a clock, its
// Wait wherever one takes a pace, so that the daemon and the simulator
// share one story time. Safe for concurrent use.
type Scaled struct {
	origin time.Time
	start  time.Time
	factor float64
	real   func() time.Time
}

// NewScaled returns a clock that reads origin now and then runs factor
// times as fast as real (nil: the wall clock). factor must be positive.
// Readings carry origin's monotonic reading, if it has one.
func NewScaled(origin time.Time, factor float64, real func() time.Time) *Scaled {
	if real == nil {
		real = Now
	}
	return &Scaled{origin: origin, start: real(), factor: factor, real: real}
}

// Now is the scaled reading: origin plus factor times the real time elapsed.
func (s *Scaled) Now() time.Time {
	return s.origin.Add(time.Duration(float64(s.real().Sub(s.start)) * s.factor))
}

// Wait is how long the wall clock takes for d of this clock to pass.
func (s *Scaled) Wait(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.factor)
}
