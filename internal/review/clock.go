package review

import "time"

// The service keeps two clocks apart, so that a step of the wall clock
// (NTP, a VM resumed) neither repeats nor skips a review:
//
//   - the wall clock (ServiceOptions.Now) says what is due: deadlines are
//     wall instants, StartedAt + offset, persisted with the deployment, and
//     each tick compares them with the wall time of that tick;
//   - the runtime clock (time.Timer, monotonic; testing/synctest fakes it)
//     only paces the ticks. A sleep is computed from the wall time but
//     never longer than one interval, so after any step the next tick comes
//     within an interval and re-evaluates everything against the new wall
//     time.
//
// A step back therefore delays what is not yet due (it is not due on the
// wall clock either) and cannot repeat what was delivered (its marker says
// so); a step forward makes what fell inside the skipped span due at once,
// delivered and marked late by the wall clock's account.

// nextTick is the first tick after now: the next multiple of interval on
// the wall clock plus delay, so that an observation made at the boundary
// is in, or ready when that comes first (a review becomes ready between
// ticks).
func nextTick(now time.Time, interval, delay time.Duration, ready time.Time) time.Time {
	next := now.Add(-delay).Truncate(interval).Add(interval + delay)
	if !ready.IsZero() && ready.After(now) && ready.Before(next) {
		next = ready
	}
	return next
}

// sleepFor turns the wall instant next into a wait on the runtime clock,
// at least a millisecond (never a busy loop) and at most interval (a wall
// step is noticed within an interval).
func sleepFor(now, next time.Time, interval time.Duration) time.Duration {
	return min(max(next.Sub(now), time.Millisecond), interval)
}
