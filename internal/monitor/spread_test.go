package monitor

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// TestStartsSpreadOverTheInterval: a fleet added at once does not check in
// one burst. Each target's first round waits its own offset, the same for
// the same name, inside the interval; its rounds then keep the interval.
// A few targets still start at once.
func TestStartsSpreadOverTheInterval(t *testing.T) {
	const n, every = 40, 5 * time.Minute
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("fleet-%03d", i)
	}
	synctest.Test(t, func(t *testing.T) {
		fakes := map[string]*fakeTarget{}
		for _, name := range append(names, "solo-a", "solo-b") {
			fakes[name] = &fakeTarget{roundTime: time.Second}
		}
		m := New(Options{Store: openTestStore(t, time.Now), Metrics: NewMetrics(prometheus.NewRegistry()), build: fakeBuild(fakes, nil)})
		stop := runMonitor(t, m)
		if err := m.Apply(testConfig(t, "solo-a", "solo-b")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, name := range []string{"solo-a", "solo-b"} {
			if got := len(fakes[name].startTimes()); got != 1 {
				t.Errorf("%s: %d rounds right after its start, want 1: two targets start at once", name, got)
			}
		}
		start := time.Now()
		if err := m.Apply(testConfig(t, append(names, "solo-a", "solo-b")...)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*every - time.Millisecond) // offsets are below the interval: three rounds each
		stop()

		firsts := map[time.Duration]bool{}
		for _, name := range names {
			round, dial := startOffsets(name, config.Schedule{Interval: every}, n+2)
			if round >= every || dial >= min(every, config.MaxDialSpread) {
				t.Errorf("%s: offsets round %v, dial %v: want round < %v and dial < %v", name, round, dial, every, config.MaxDialSpread)
			}
			starts := fakes[name].startTimes()
			if len(starts) != 3 {
				t.Fatalf("%s: %d rounds in three intervals, want 3", name, len(starts))
			}
			if got := starts[0].Sub(start); got != round {
				t.Errorf("%s: first round %v after the apply, want its offset %v", name, got, round)
			}
			for i := 1; i < len(starts); i++ {
				if gap := starts[i].Sub(starts[i-1]); gap != every {
					t.Errorf("%s: round %d came %v after the previous, want %v", name, i, gap, every)
				}
			}
			firsts[round.Truncate(every/10)] = true
		}
		if len(firsts) < 8 {
			t.Errorf("the first rounds of %d targets fall in %d of 10 tenths of the interval: not spread", n, len(firsts))
		}
	})
}

// TestStartOffsetsFollowTheName: the same name gets the same offsets, so a
// restart spreads the fleet the same way; a short interval bounds them.
func TestStartOffsetsFollowTheName(t *testing.T) {
	s := config.Schedule{Interval: 10 * time.Second}
	for i := range 200 {
		name := fmt.Sprintf("t%d", i)
		r1, d1 := startOffsets(name, s, 1000)
		r2, d2 := startOffsets(name, s, 1000)
		if r1 != r2 || d1 != d2 {
			t.Fatalf("%s: offsets differ between calls: %v/%v, %v/%v", name, r1, d1, r2, d2)
		}
		if r1 >= s.Interval || d1 >= s.Interval {
			t.Fatalf("%s: offsets %v, %v not below the 10s interval", name, r1, d1)
		}
	}
	if r, d := startOffsets("x", config.Schedule{Cron: "*/5 * * * *"}, 1000); r >= config.MaxDialSpread || d >= config.MaxDialSpread {
		t.Errorf("a cron target's offsets %v, %v: want both below %v", r, d, config.MaxDialSpread)
	}
	if r, d := startOffsets("x", s, config.SpreadStartsAbove); r != 0 || d != 0 {
		t.Errorf("offsets %v, %v for a small batch, want none", r, d)
	}
}
