package review

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// checkOffsets refuses what the scheduler cannot order: offsets must be
// positive, ascending and name distinct reviews.
func checkOffsets(offsets []time.Duration) error {
	if len(offsets) == 0 {
		return errors.New("no review offsets: give at least one, e.g. [1h, 4h, 24h]")
	}
	seen := map[string]bool{}
	for i, off := range offsets {
		switch {
		case off <= 0:
			return fmt.Errorf("review offsets[%d] is %s: offsets must be positive", i, off)
		case i > 0 && off <= offsets[i-1]:
			return fmt.Errorf("review offsets[%d] (%s) is not after offsets[%d] (%s): list them in ascending order", i, off, i-1, offsets[i-1])
		case seen[OffsetName(off)]:
			return fmt.Errorf("review offsets[%d] (%s) has the same name as another, %s", i, off, OffsetName(off))
		}
		seen[OffsetName(off)] = true
	}
	return nil
}

// slot is one review of one deployment.
type slot struct {
	dep    store.Deployment
	index  int // in the target's offsets: picks the review's item set
	offset time.Duration
	name   string
	due    time.Time
	// ready is when the minutes of the window [start, due) are all in the
	// store: the Recorder hands a minute over a settle time after it ends.
	ready time.Time
	// until is when the next deployment of the target started (zero: this
	// is the current one): data after it is another version's.
	until time.Time
}

// schedule decides which reviews of a target are due. It is pure: what
// was delivered comes from the persisted markers and what is due from the
// wall clock's now, never from when the service last looked, so a restart
// or a step of the wall clock neither repeats nor skips a review.
type schedule struct {
	offsets []time.Duration // ascending
	// horizon is how long after its start a deployment's reviews are still
	// delivered, late: the longest offset plus a margin. Older ones are
	// left alone (their data is gone from the store anyway).
	horizon time.Duration
	// settle is how long after a minute ends the Recorder hands it over
	// (RecorderOptions.Settle).
	settle time.Duration
}

// readyAt is when a review due at due can be computed over complete data:
// its window's minutes end with the last one complete at due (see
// Compute), which the Recorder hands over settle after it ends; and never
// before due.
func (sc schedule) readyAt(due time.Time) time.Time {
	ready := due.Truncate(time.Minute).Add(sc.settle)
	if ready.Before(due) {
		return due
	}
	return ready
}

// candidates returns the deployments whose reviews may still be due at
// now, oldest first, each with the start of its successor. deps is the
// target's history, newest first (store.Deployments).
func (sc schedule) candidates(deps []store.Deployment, now time.Time) []slot {
	var out []slot
	for i, d := range deps {
		if !sc.within(d, now) {
			continue
		}
		s := slot{dep: d}
		if i > 0 {
			s.until = deps[i-1].StartedAt
		}
		out = append(out, s)
	}
	slices.Reverse(out)
	return out
}

// within reports whether d's reviews may still be due at now: it started
// at most horizon before. Once false it stays false as now moves on, so
// the candidates at a later now are those of an earlier now still within.
func (sc schedule) within(d store.Deployment, now time.Time) bool {
	return now.Sub(d.StartedAt) <= sc.horizon
}

// step is what to do with one review.
type step int

const (
	stepWait      step = iota // not yet due, or its data not yet complete
	stepDone                  // delivered, or superseded
	stepDeliver               // due (or redue after a crash): deliver it
	stepSupersede             // fell due after the next deployment started
)

// decide says what to do with the review at offsets[i] of deployment c,
// given its marker (nil: none) at wall time now.
func (sc schedule) decide(c slot, i int, m *marker, now time.Time) (slot, step) {
	s := c
	s.index, s.offset, s.name = i, sc.offsets[i], OffsetName(sc.offsets[i])
	s.due = c.dep.StartedAt.Add(s.offset)
	s.ready = sc.readyAt(s.due)
	switch {
	case m != nil && (m.State == stateDelivered || m.State == stateSuperseded):
		return s, stepDone
	case m != nil && m.State == stateDelivering:
		// Started before a crash or a failed delivery: it was due then.
		return s, stepDeliver
	case s.ready.After(now):
		return s, stepWait
	case !c.until.IsZero() && s.due.After(c.until):
		return s, stepSupersede
	}
	return s, stepDeliver
}

// names are the schedule's review names, in offset order.
func (sc schedule) names() []string {
	out := make([]string, len(sc.offsets))
	for i, off := range sc.offsets {
		out[i] = OffsetName(off)
	}
	return out
}
