package monitor

import (
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// scheduleSpec is the cron spec of a target's scheduled checks.
func scheduleSpec(s config.Schedule) string {
	if s.Cron != "" {
		return s.Cron
	}
	return "@every " + s.Interval.String()
}

// scheduleInterval is the period of a schedule that is an interval
// (interval, or cron "@every ..."), and false for a cron expression.
//
// Intervals run on a timer (roundTimer), not on the cron scheduler: robfig/cron
// computes its next run in wall-clock time, so a wall clock stepped back
// an hour (an NTP correction, a VM restored) would pause the checks for
// that hour. A timer counts on the monotonic clock, so the poll cadence
// holds across steps (reliability scenario 13). A cron expression names
// wall-clock times and follows the wall clock, as cron does.
func scheduleInterval(s config.Schedule) (time.Duration, bool) {
	if s.Cron == "" {
		return s.Interval, s.Interval > 0
	}
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Cron), "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		return d, err == nil && d > 0
	}
	return 0, false
}

// roundTimer starts a target's rounds from a timer rather than from a
// goroutine parked per target: the first after a delay, then, for an
// interval, every period on the monotonic clock, until stop. Each round
// runs on a goroutine of its own, counted in wg; the job's
// SkipIfStillRunning skips a round that falls inside the previous one.
type roundTimer struct {
	period time.Duration // 0: no rounds after the first
	wg     *sync.WaitGroup
	run    func()

	mu      sync.Mutex // orders the timer's rounds with stop
	stopped bool
	timer   *time.Timer
}

// startRoundTimer runs run after first, then every period if it is
// positive.
func startRoundTimer(first, period time.Duration, wg *sync.WaitGroup, run func()) *roundTimer {
	rt := &roundTimer{period: period, wg: wg, run: run}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.timer = time.AfterFunc(first, rt.fire)
	return rt
}

func (rt *roundTimer) fire() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.stopped {
		return
	}
	if rt.period > 0 {
		rt.timer.Reset(rt.period)
	}
	rt.wg.Go(rt.run)
}

// stop ends the rounds: none starts after it returns, and wg counts every
// one that started.
func (rt *roundTimer) stop() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.stopped = true
	rt.timer.Stop()
}

// startOffsets are how long after its start a target's first check round
// and its first telemetry dial wait, when it starts among n targets at
// once: nothing for a few (config.SpreadStartsAbove), otherwise a share of
// the interval (config.MaxDialSpread for a cron schedule) for the round
// and of min(config.MaxDialSpread, interval) for the dial, both from a
// hash of the target's name so that a name always gets the same offsets.
func startOffsets(name string, s config.Schedule, n int) (round, dial time.Duration) {
	if n <= config.SpreadStartsAbove {
		return 0, 0
	}
	every, ok := scheduleInterval(s)
	if !ok {
		every = config.MaxDialSpread
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	sum := h.Sum64()
	return time.Duration(sum % uint64(every)), time.Duration(sum % uint64(min(every, config.MaxDialSpread)))
}
