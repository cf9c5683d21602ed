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
