package monitor

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// TestIntervalsIgnoreWallClockSteps is reliability scenario 13 for the
// schedule: the injected clock steps back an hour, then forward two, while
// the instance is down for an hour. The rounds keep their 5-minute cadence
// (timed on the bubble's monotonic clock), the outage fires and resolves
// once, and an interval schedule is never handed to the cron scheduler,
// whose next-run arithmetic is wall-clock time and would pause the checks
// for the hour the clock went back.
func TestIntervalsIgnoreWallClockSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var step atomic.Int64 // the wall clock's offset from the bubble's
		now := func() time.Time { return time.Now().Add(time.Duration(step.Load())) }
		fake := &fakeTarget{roundTime: 40 * time.Second, down: func(at time.Time) bool {
			el := at.Sub(start)
			return el >= 2*time.Hour && el < 3*time.Hour
		}}
		rec := &eventRecorder{}
		m := New(Options{
			Store: openTestStore(t, now), Metrics: NewMetrics(prometheus.NewRegistry()), Sink: rec, Now: now,
			build: fakeBuild(map[string]*fakeTarget{"main": fake}, nil),
		})
		if err := m.Apply(testConfig(t, "main")); err != nil {
			t.Fatal(err)
		}
		stop := runMonitor(t, m)
		time.Sleep(time.Hour + 2*time.Minute)
		step.Store(int64(-time.Hour))
		time.Sleep(2 * time.Hour)
		step.Store(int64(time.Hour))
		time.Sleep(3*time.Hour - 2*time.Minute - time.Second)
		if n := len(m.cron.Entries()); n != 0 {
			t.Errorf("%d cron entries for an interval schedule, want 0 (cron runs on wall-clock time)", n)
		}
		stop()
		checkCadence(t, fake, 72, 5*time.Minute)
		want := []string{"check_instance_up firing", "check_instance_up resolved"}
		if got := rec.list(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("events = %v, want %v", got, want)
		}
	})
}

// TestIntervalsKeepPaceWithAScaledClock: on a clock 60 times as fast as
// the wall clock (the demo's), the 5m interval ticks at its Wait, every 5
// real seconds: 12 rounds in a real minute, an hour of that clock.
func TestIntervalsKeepPaceWithAScaledClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		story := clock.NewScaled(time.Now(), 60, time.Now)
		fake := &fakeTarget{roundTime: 40 * time.Millisecond, down: func(time.Time) bool { return false }}
		m := New(Options{
			Store: openTestStore(t, story.Now), Metrics: NewMetrics(prometheus.NewRegistry()), Sink: &eventRecorder{},
			Now: story.Now, Wait: story.Wait,
			build: fakeBuild(map[string]*fakeTarget{"main": fake}, nil),
		})
		if err := m.Apply(testConfig(t, "main")); err != nil {
			t.Fatal(err)
		}
		stop := runMonitor(t, m)
		time.Sleep(time.Minute - time.Second)
		stop()
		checkCadence(t, fake, 12, 5*time.Second)
	})
}

// TestCronExpressionsUseTheScheduler: a cron expression names wall-clock
// times, so it stays with the cron scheduler; "@every" is an interval.
func TestCronExpressionsUseTheScheduler(t *testing.T) {
	for _, c := range []struct {
		cron     string
		interval bool
	}{{"*/5 * * * *", false}, {"CRON_TZ=UTC 0 * * * *", false}, {"@hourly", false}, {"@every 5m", true}, {"@every nonsense", false}} {
		cfg := testConfig(t, "main")
		cfg.Targets[0].Schedule.Cron = c.cron
		d, ok := scheduleInterval(cfg.Targets[0].Schedule)
		if ok != c.interval || (ok && d != 5*time.Minute) {
			t.Errorf("scheduleInterval(%q) = %v, %v; want interval %v", c.cron, d, ok, c.interval)
		}
	}
}

// TestRoundTimer: the first round after its delay, then one a period, each
// counted in the WaitGroup; none after stop, even one already due.
func TestRoundTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		var runs atomic.Int32
		rt := startRoundTimer(time.Minute, 5*time.Minute, &wg, func() { runs.Add(1) })
		for _, step := range []struct {
			after time.Duration
			want  int32
		}{{59 * time.Second, 0}, {time.Second, 1}, {5*time.Minute - time.Second, 1}, {time.Second, 2}, {10 * time.Minute, 4}} {
			time.Sleep(step.after)
			synctest.Wait()
			if got := runs.Load(); got != step.want {
				t.Fatalf("%d rounds after %s more, want %d", got, step.after, step.want)
			}
		}
		rt.stop()
		time.Sleep(time.Hour)
		wg.Wait()
		if got := runs.Load(); got != 4 {
			t.Errorf("%d rounds an hour after stop, want still 4", got)
		}

		once := startRoundTimer(0, 0, &wg, func() { runs.Add(1) })
		time.Sleep(time.Hour)
		wg.Wait()
		once.stop()
		if got := runs.Load(); got != 5 {
			t.Errorf("%d rounds after a one-off timer, want 5: one more", got)
		}
	})
}
