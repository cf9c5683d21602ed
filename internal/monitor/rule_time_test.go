package monitor

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestRuleEngineClockSteps is reliability scenario 13 for times without a monotonic
// reading (the only kind whose Sub can see a wall-clock step; times from
// time.Now and its Add results carry one, and Sub then ignores steps).
func TestRuleEngineClockSteps(t *testing.T) {
	stepped := func(r *ruleRun, by time.Duration) { r.now = r.now.Add(by); r.lastTick = r.now }
	tests := []struct {
		name   string
		setup  func(r *ruleRun)               // brings a rule to the state under test
		after  func(r *ruleRun) []event.Event // the same signal, continued after the step
		by     time.Duration
		before time.Duration // no event may come this soon after the step
		want   string        // the event that must come after it
		within time.Duration
	}{
		{
			name:  "back 1h while fps_low is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.fps(70, 40*time.Second) },
			after: func(r *ruleRun) []event.Event { return r.fps(70, 2*time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "fps_low firing", within: 62 * time.Second,
		},
		{
			name:  "forward 1h while fps_low is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.fps(70, 40*time.Second) },
			after: func(r *ruleRun) []event.Event { return r.fps(70, 2*time.Minute) },
			by:    time.Hour, before: 59 * time.Second, want: "fps_low firing", within: 62 * time.Second,
		},
		{
			name:  "back 1h while fps_low is resolving",
			setup: func(r *ruleRun) { r.fps(60, 2*time.Minute); r.fps(90, 40*time.Second) },
			after: func(r *ruleRun) []event.Event { return r.fps(90, 2*time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "fps_low resolved", within: 62 * time.Second,
		},
		{
			name:  "forward 1h while fps_low is resolving",
			setup: func(r *ruleRun) { r.fps(60, 2*time.Minute); r.fps(90, 40*time.Second) },
			after: func(r *ruleRun) []event.Event { return r.fps(90, 2*time.Minute) },
			by:    time.Hour, before: 59 * time.Second, want: "fps_low resolved", within: 62 * time.Second,
		},
		{
			// The outage clock does not move back: 60 s remain to wait (plus
			// the second between the last tick and the step, lost with it).
			name:  "back 1h while telemetry_down is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.stream(StreamDisconnected); r.idle(time.Minute) },
			after: func(r *ruleRun) []event.Event { return r.idle(2 * time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "telemetry_down firing", within: 63 * time.Second,
		},
		{
			// A forward step counts as at most MaxGap (15 s) of outage: this
			// is the one case where a step brings a firing forward, and only
			// for times without a monotonic reading.
			name:  "forward 1h while telemetry_down is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.stream(StreamDisconnected); r.idle(time.Minute) },
			after: func(r *ruleRun) []event.Event { return r.idle(2 * time.Minute) },
			by:    time.Hour, before: 44 * time.Second, want: "telemetry_down firing", within: 48 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuleRun(t, testRules(), testkit.BaseTime(t))
			tt.setup(r)
			n0 := len(r.events)
			stepped(r, tt.by)
			stepAt := r.now
			evs := tt.after(r)
			if n0 != len(r.events)-len(evs) {
				t.Fatalf("setup produced late events")
			}
			if got := eventNames(evs); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("events after the step %q, want exactly [%s]", got, tt.want)
			}
			if d := evs[0].At.Sub(stepAt); d < tt.before || d > tt.within {
				t.Errorf("%s %s after the step, want between %s and %s", tt.want, d, tt.before, tt.within)
			}
		})
	}
	t.Run("a tick slightly older than the last sample changes nothing", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
		r.fps(90, time.Minute)
		drop := r.now
		r.fps(70, 30*time.Second)
		r.collect(r.e.Tick(r.now.Add(-2*r.every), nil))
		evs := r.fps(70, time.Minute)
		if !slices.Equal(eventNames(evs), []string{"fps_low firing"}) {
			t.Fatalf("events %q, want fps_low firing: a stale tick must not reset pending", eventNames(evs))
		}
		// 1 s for the 5-s mean to cross 85, then FPSFor.
		if at := evs[0].At.Sub(drop); at != 61*time.Second {
			t.Errorf("fired %s after the drop, want 1m1s as without the stale tick", at)
		}
	})
	t.Run("monotonic readings", func(t *testing.T) {
		// Times from an injected clock built on time.Now: Sub uses the
		// monotonic reading. The whole FPS walk behaves as without it.
		r := newRuleRun(t, testRules(), time.Now())
		r.fps(90, time.Minute)
		if evs := r.fps(70, 2*time.Minute); !slices.Equal(eventNames(evs), []string{"fps_low firing"}) {
			t.Errorf("events %q, want fps_low firing", eventNames(evs))
		}
	})
}

func TestRuleEngineIgnoresInvalidSamples(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	r.fps(90, time.Minute)
	r.fps(70, 50*time.Second)
	before := r.state(RuleFPSLow)
	for _, s := range []Sample{
		{At: r.now, FPS: math.NaN(), HasFPS: true},
		{At: r.now, FPS: math.Inf(1), HasFPS: true},
		{At: r.now, FPS: -1, HasFPS: true},
		{At: r.now, MemoryMB: math.NaN(), HasMemory: true},
		{At: r.now, MemoryMB: -5, HasMemory: true},
		{FPS: 10, HasFPS: true}, // no time
	} {
		if evs := r.e.Observe(s, nil); len(evs) != 0 {
			t.Errorf("Observe(%+v) = %q, want no events", s, eventNames(evs))
		}
	}
	if after := r.state(RuleFPSLow); after.Value != before.Value || after.State != RulePending {
		t.Errorf("fps_low after invalid samples %+v, want unchanged %+v", after, before)
	}
	if evs := r.e.SetStream(StreamState(42), r.now, nil); len(evs) != 0 || r.e.Stream() != StreamConnected {
		t.Errorf("SetStream(42): events %q, stream %s; want ignored", eventNames(evs), r.e.Stream())
	}
	// 0 FPS is a frozen game, not a bad value.
	if evs := r.fps(0, 2*time.Minute); !slices.Equal(eventNames(evs), []string{"fps_low firing", "fps_critical firing"}) {
		t.Errorf("events %q, want fps_low and fps_critical firing on 0 FPS", eventNames(evs))
	}
}

func TestRuleEngineSteadyStateAllocatesNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	g := NewRuleGauges(NewMetrics(reg), "vr-1")
	g.Sync(r.e.States())
	r.play(20*time.Minute, steady(90), steady(250)) // fills every window
	out := make([]event.Event, 0, 8)
	fps := []float64{89.5, 90.5}
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		r.now = r.now.Add(r.every)
		i++
		out = r.e.Observe(Sample{At: r.now, FPS: fps[i%2], HasFPS: true, MemoryMB: 250, HasMemory: true}, out[:0])
		g.Update(out)
		if i%2 == 0 {
			out = r.e.Tick(r.now, out[:0])
		}
	})
	if allocs != 0 {
		t.Errorf("steady-state Observe+Tick+Update allocates %.1f times per frame, want 0", allocs)
	}
	if len(out) != 0 {
		t.Errorf("steady state produced events %q", eventNames(out))
	}
}
