package monitor

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"
)

var updateRulesGolden = flag.Bool("update-rules-golden", false, "rewrite testdata/rules_*.golden from the current rules")

// ruleEpoch has no monotonic reading, so durations between times built from
// it follow the wall clock: the tests can step it.
var ruleEpoch = time.Date(2025, 12, 16, 0, 0, 0, 0, time.UTC)

// ruleRun plays the telemetry watcher against an engine: samples at the
// stream's cadence (2 per second), a Tick every second, stream reports,
// and a record of every event.
type ruleRun struct {
	t        testing.TB
	e        *RuleEngine
	start    time.Time
	now      time.Time
	every    time.Duration
	lastTick time.Time
	events   []RuleEvent
	buf      []RuleEvent
}

func newRuleRun(t testing.TB, cfg RuleConfig, start time.Time) *ruleRun {
	t.Helper()
	e, err := NewRuleEngine(cfg)
	if err != nil {
		t.Fatalf("NewRuleEngine: %v", err)
	}
	return &ruleRun{t: t, e: e, start: start, now: start, every: 500 * time.Millisecond, lastTick: start}
}

// signal gives a value at an offset into a segment; ok=false leaves the
// sample's field out.
type signal func(off time.Duration) (v float64, ok bool)

func steady(v float64) signal { return func(time.Duration) (float64, bool) { return v, true } }

func absent(time.Duration) (float64, bool) { return 0, false }

// jitter adds uniform noise of ±amp around s.
func jitter(s signal, amp float64, rng *rand.Rand) signal {
	return func(off time.Duration) (float64, bool) {
		v, ok := s(off)
		return v + amp*(2*rng.Float64()-1), ok
	}
}

// ramp grows from v0 by perMin per minute.
func ramp(v0, perMin float64) signal {
	return func(off time.Duration) (float64, bool) { return v0 + perMin*off.Minutes(), true }
}

// square alternates low and high, starting low, half a period each.
func square(low, high float64, period time.Duration) signal {
	return func(off time.Duration) (float64, bool) {
		if off%period < period/2 {
			return low, true
		}
		return high, true
	}
}

// play feeds samples for d and returns the events they caused.
func (r *ruleRun) play(d time.Duration, fps, mem signal) []RuleEvent {
	n0 := len(r.events)
	seg, end := r.now, r.now.Add(d)
	for ; r.now.Before(end); r.now = r.now.Add(r.every) {
		s := Sample{At: r.now}
		s.FPS, s.HasFPS = fps(r.now.Sub(seg))
		s.MemoryMB, s.HasMemory = mem(r.now.Sub(seg))
		r.collect(r.e.Observe(s, r.buf[:0]))
		r.maybeTick()
	}
	return r.events[n0:]
}

// fps feeds FPS-only samples of one value for d.
func (r *ruleRun) fps(v float64, d time.Duration) []RuleEvent { return r.play(d, steady(v), absent) }

// memory feeds samples of healthy FPS and one memory value for d.
func (r *ruleRun) memory(v float64, d time.Duration) []RuleEvent {
	return r.play(d, steady(90), steady(v))
}

// idle lets d pass with ticks and no samples.
func (r *ruleRun) idle(d time.Duration) []RuleEvent {
	n0 := len(r.events)
	for end := r.now.Add(d); r.now.Before(end); r.now = r.now.Add(r.every) {
		r.maybeTick()
	}
	return r.events[n0:]
}

func (r *ruleRun) stream(s StreamState) []RuleEvent {
	n0 := len(r.events)
	r.collect(r.e.SetStream(s, r.now, r.buf[:0]))
	return r.events[n0:]
}

func (r *ruleRun) maybeTick() {
	if r.now.Sub(r.lastTick) >= time.Second {
		r.collect(r.e.Tick(r.now, r.buf[:0]))
		r.lastTick = r.now
	}
}

func (r *ruleRun) collect(evs []RuleEvent) {
	for _, ev := range evs {
		r.t.Logf("%s +%s %s", ev.At.Format("15:04:05.0"), ev.At.Sub(r.start), ev)
	}
	r.events = append(r.events, evs...)
}

func (r *ruleRun) state(rule string) RuleState {
	r.t.Helper()
	for _, s := range r.e.States() {
		if s.Rule == rule {
			return s
		}
	}
	r.t.Fatalf("rule %s not in States()", rule)
	return RuleState{}
}

func eventNames(evs []RuleEvent) []string {
	names := []string{}
	for _, ev := range evs {
		names = append(names, ev.Rule+" "+ev.State.String())
	}
	return names
}

// ruleStep is one step of a hysteresis walk: an action, the events it must
// produce, and the states it must leave (gatus's TestHandleAlerting style).
type ruleStep struct {
	name       string
	do         func(r *ruleRun) []RuleEvent
	wantEvents []string
	wantReason []string // when set, the events' reasons, in order
	want       map[string]RuleStatus
}

func runRuleSteps(t *testing.T, r *ruleRun, steps []ruleStep) {
	t.Helper()
	for i, st := range steps {
		evs := st.do(r)
		if got := eventNames(evs); !slices.Equal(got, append([]string{}, st.wantEvents...)) {
			t.Fatalf("step %d %q: events %q, want %q", i+1, st.name, got, st.wantEvents)
		}
		if st.wantReason != nil {
			var reasons []string
			for _, ev := range evs {
				reasons = append(reasons, ev.Reason)
			}
			if !slices.Equal(reasons, st.wantReason) {
				t.Fatalf("step %d %q: reasons %q, want %q", i+1, st.name, reasons, st.wantReason)
			}
		}
		for rule, want := range st.want {
			if got := r.state(rule).State; got != want {
				t.Fatalf("step %d %q: %s is %s, want %s", i+1, st.name, rule, got, want)
			}
		}
	}
}

func TestRuleEngineFPSLowHysteresis(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 2*time.Minute) },
			want: map[string]RuleStatus{RuleFPSLow: RuleInactive, RuleFPSCritical: RuleInactive, RuleFPSHigh: RuleInactive}},
		{name: "one bad frame does not start the timer", do: func(r *ruleRun) []RuleEvent {
			r.fps(20, r.every)
			return r.fps(90, 10*time.Second)
		}, want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		{name: "drop shorter than for", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 30*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RulePending, RuleFPSCritical: RuleInactive}},
		{name: "recovery resets the pending timer", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 10*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		{name: "drop again, just under for", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 59*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RulePending}},
		{name: "sustained drop fires once", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 5*time.Minute) },
			wantEvents: []string{"fps_low firing"},
			wantReason: []string{"FPS 70.0 below 85 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleInactive}},
		{name: "above the threshold but inside the band does not resolve", do: func(r *ruleRun) []RuleEvent { return r.fps(86, 5*time.Minute) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "out of the band, not yet for ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.fps(88, 30*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "back into the band restarts the resolve timer", do: func(r *ruleRun) []RuleEvent { return r.fps(86, 10*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "out of the band again, just under ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.fps(88, 59*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "healthy for ResolveFor resolves once", do: func(r *ruleRun) []RuleEvent { return r.fps(88, 5*time.Minute) },
			wantEvents: []string{"fps_low resolved"},
			wantReason: []string{"FPS 88.0 back at or above 87 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleInactive}},
	})
}

func TestRuleEngineFPSDeepDropFiresWarningAndCritical(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []RuleEvent { return r.fps(90, time.Minute) }},
		{name: "deep drop", do: func(r *ruleRun) []RuleEvent { return r.fps(30, 3*time.Minute) },
			wantEvents: []string{"fps_low firing", "fps_critical firing"},
			wantReason: []string{"FPS 30.0 below 85 for 1m0s", "FPS 30.0 below 45 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleFiring}},
		{name: "partial recovery resolves only the critical", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 3*time.Minute) },
			wantEvents: []string{"fps_critical resolved"},
			wantReason: []string{"FPS 70.0 back at or above 47 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleInactive}},
		{name: "full recovery", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 3*time.Minute) },
			wantEvents: []string{"fps_low resolved"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleInactive, RuleFPSCritical: RuleInactive}},
	})
	ev := r.events[1]
	if ev.Severity != SeverityCritical || ev.Threshold != 45 || ev.Unit != "fps" || ev.Value != 30 {
		t.Errorf("critical event = %+v, want severity critical, threshold 45, unit fps, observed 30", ev)
	}
	if held := ev.At.Sub(ev.Since); held != time.Minute {
		t.Errorf("critical event At-Since = %s, want the for duration 1m", held)
	}
}

func TestRuleEngineFPSHigh(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []RuleEvent { return r.fps(90, time.Minute) }},
		{name: "uncapped frame rate", do: func(r *ruleRun) []RuleEvent { return r.fps(120, 2*time.Minute) },
			wantEvents: []string{"fps_high firing"},
			wantReason: []string{"FPS 120.0 above 95 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSHigh: RuleFiring, RuleFPSLow: RuleInactive}},
		{name: "below the threshold, inside the band", do: func(r *ruleRun) []RuleEvent { return r.fps(94, 3*time.Minute) },
			want: map[string]RuleStatus{RuleFPSHigh: RuleFiring}},
		{name: "back in range", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 2*time.Minute) },
			wantEvents: []string{"fps_high resolved"},
			wantReason: []string{"FPS 90.0 back at or below 93 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSHigh: RuleInactive}},
	})
}

func TestRuleEngineMemoryHighHysteresis(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []RuleEvent { return r.memory(300, time.Minute) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
		{name: "above the limit briefly", do: func(r *ruleRun) []RuleEvent { return r.memory(405, 30*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "below the limit resets pending", do: func(r *ruleRun) []RuleEvent { return r.memory(395, 10*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
		{name: "sustained", do: func(r *ruleRun) []RuleEvent { return r.memory(420, 2*time.Minute) },
			wantEvents: []string{"memory_high firing"},
			wantReason: []string{"memory 420.0 MB above 400 MB for 1m0s"},
			want:       map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "inside the band does not resolve", do: func(r *ruleRun) []RuleEvent { return r.memory(395, 5*time.Minute) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "out of the band, under ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.memory(385, 50*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "resolves after ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.memory(385, time.Minute) },
			wantEvents: []string{"memory_high resolved"},
			wantReason: []string{"memory 385.0 MB back at or below 390 MB for 1m0s"},
			want:       map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
	})
}

func TestRuleEngineMemoryGrowthDetectsLeak(t *testing.T) {
	const leak = 15.0 // MB/min
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	rng := rand.New(rand.NewPCG(1, 2))
	evs := r.play(17*time.Minute, jitter(steady(90), 1, rng), jitter(ramp(100, leak), 3, rng))
	if got := eventNames(evs); !slices.Equal(got, []string{"memory_growth firing"}) {
		t.Fatalf("events %q, want one memory_growth firing", got)
	}
	ev := evs[0]
	at := ev.At.Sub(r.start)
	// Judged once the data covers 80 % of the 15-min window, then held for MemoryFor.
	if at < 12*time.Minute+time.Minute || at > 15*time.Minute+time.Minute+10*time.Second {
		t.Errorf("fired after %s, want between 13m (80%% of the window + for) and 16m10s", at)
	}
	if math.Abs(ev.Value-leak)/leak > 0.05 {
		t.Errorf("slope %.2f MB/min, want within 5%% of %v", ev.Value, leak)
	}
	truth := time.Duration((400 - (100 + leak*at.Minutes())) / leak * float64(time.Minute))
	if diff := math.Abs(float64(ev.ProjectedLimitIn - truth)); diff > 0.1*float64(truth) {
		t.Errorf("ProjectedLimitIn %s, want within 10%% of %s", ev.ProjectedLimitIn, truth)
	}
	re := regexp.MustCompile(`^memory growing 1[45]\.\d MB/min over 1[2-5]m\d+s; 400 MB reached in ~\d+m\d+s$`)
	if !re.MatchString(ev.Reason) {
		t.Errorf("reason %q does not match %s", ev.Reason, re)
	}
	if ev.Unit != "MB/min" || ev.Threshold != 10 || ev.Severity != SeverityWarning {
		t.Errorf("event %+v: want unit MB/min, threshold 10, warning", ev)
	}
}

func TestRuleEngineMemoryGrowthNoFalsePositive(t *testing.T) {
	tests := []struct {
		name string
		mem  func(rng *rand.Rand) signal
	}{
		{"noisy flat", func(rng *rand.Rand) signal { return jitter(steady(300), 5, rng) }},
		{"garbage-collector sawtooth", func(rng *rand.Rand) signal {
			return func(off time.Duration) (float64, bool) { return 250 + 30*(off%time.Minute).Minutes(), true }
		}},
		{"one scene load adds 60 MB", func(rng *rand.Rand) signal {
			return func(off time.Duration) (float64, bool) {
				if off > 20*time.Minute {
					return 320 + 2*(2*rng.Float64()-1), true
				}
				return 260 + 2*(2*rng.Float64()-1), true
			}
		}},
		{"slow growth under the threshold", func(rng *rand.Rand) signal { return jitter(ramp(100, 4), 3, rng) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultRuleConfig()
			cfg.MemoryMaxMB = 1000
			r := newRuleRun(t, cfg, ruleEpoch)
			rng := rand.New(rand.NewPCG(3, 4))
			evs := r.play(time.Hour, steady(90), tt.mem(rng))
			if len(evs) != 0 {
				t.Errorf("events %q, want none", eventNames(evs))
			}
			// The rule must have been judged, or this test proves nothing.
			if s := r.state(RuleMemoryGrowth); !s.HasValue || s.Value > 8 {
				t.Errorf("memory_growth state %+v: want a judged slope below 8 MB/min", s)
			}
		})
	}
}

func TestRuleEngineTelemetryDown(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	down := map[string]RuleStatus{RuleTelemetryDown: RulePending, RuleTelemetrySilent: RuleInactive}
	runRuleSteps(t, r, []ruleStep{
		{name: "data flowing", do: func(r *ruleRun) []RuleEvent { r.stream(StreamConnected); return r.fps(90, time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
		{name: "brief disconnect", do: func(r *ruleRun) []RuleEvent { r.stream(StreamDisconnected); return r.idle(90 * time.Second) },
			want: down},
		{name: "reconnect and data", do: func(r *ruleRun) []RuleEvent { r.stream(StreamConnected); return r.fps(90, time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
		{name: "disconnected, under for", do: func(r *ruleRun) []RuleEvent { r.stream(StreamDisconnected); return r.idle(119 * time.Second) },
			want: down},
		{name: "disconnected for TelemetryDownFor", do: func(r *ruleRun) []RuleEvent { return r.idle(30 * time.Second) },
			wantEvents: []string{"telemetry_down firing"},
			wantReason: []string{"telemetry stream disconnected, no data for 2m0s"},
			want:       map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "connected without data does not resolve", do: func(r *ruleRun) []RuleEvent { r.stream(StreamConnected); return r.idle(2 * time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "data under ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 30*time.Second) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "a new disconnect restarts the resolve timer", do: func(r *ruleRun) []RuleEvent {
			r.stream(StreamDisconnected)
			r.idle(5 * time.Second)
			r.stream(StreamConnected)
			return r.fps(90, 50*time.Second)
		}, want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "data for ResolveFor resolves", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 20*time.Second) },
			wantEvents: []string{"telemetry_down resolved"},
			wantReason: []string{"telemetry data flowing again for 1m0s"},
			want:       map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
	})
}

func TestRuleEngineTelemetryDownFromStart(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	r.stream(StreamDisconnected)
	evs := r.idle(3 * time.Minute)
	if got := eventNames(evs); !slices.Equal(got, []string{"telemetry_down firing"}) {
		t.Fatalf("events %q, want telemetry_down firing: a stream that never connects is down", got)
	}
	if at := evs[0].At.Sub(r.start); at != 2*time.Minute {
		t.Errorf("fired at +%s, want +2m", at)
	}
}

func TestRuleEngineTelemetrySilent(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	r.stream(StreamConnected)
	r.fps(90, time.Minute)
	// A half-open stream (RELIABILITY 8): the watcher notices the silence,
	// redials, connects, and still gets nothing. The outage counts from the
	// first report, across the watcher's state changes.
	runRuleSteps(t, r, []ruleStep{
		{name: "silent", do: func(r *ruleRun) []RuleEvent { r.stream(StreamSilent); return r.idle(time.Minute) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RulePending, RuleTelemetryDown: RuleInactive}},
		{name: "watcher closes and redials", do: func(r *ruleRun) []RuleEvent { r.stream(StreamDisconnected); return r.idle(2 * time.Second) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RulePending}},
		{name: "connected, no data yet", do: func(r *ruleRun) []RuleEvent { r.stream(StreamConnected); return r.idle(58 * time.Second) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RuleInactive}},
		{name: "silent again, 2m after the first report", do: func(r *ruleRun) []RuleEvent { return r.stream(StreamSilent) },
			wantEvents: []string{"telemetry_silent firing"},
			wantReason: []string{"telemetry stream connected but silent, no data for 2m0s"},
			want:       map[string]RuleStatus{RuleTelemetrySilent: RuleFiring, RuleTelemetryDown: RuleInactive}},
		{name: "redial brings data back", do: func(r *ruleRun) []RuleEvent {
			r.stream(StreamDisconnected)
			r.stream(StreamConnected)
			return r.fps(90, 2*time.Minute)
		}, wantEvents: []string{"telemetry_silent resolved"},
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RuleInactive}},
	})
}

func TestRuleEngineStaleDataNeitherFiresNorResolves(t *testing.T) {
	t.Run("firing rule survives a disconnect and resolves on fresh data only", func(t *testing.T) {
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
		r.stream(StreamConnected)
		r.fps(60, 2*time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "recovering, not yet ResolveFor", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "disconnected: samples still arriving are stale and ignored", do: func(r *ruleRun) []RuleEvent {
				r.stream(StreamDisconnected)
				return r.fps(90, 90*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "fresh data for less than ResolveFor", do: func(r *ruleRun) []RuleEvent {
				if !r.state(RuleFPSLow).Stale {
					t.Error("fps_low not flagged stale during the outage")
				}
				r.stream(StreamConnected)
				return r.fps(90, 55*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "fresh data for ResolveFor", do: func(r *ruleRun) []RuleEvent {
				if r.state(RuleFPSLow).Stale {
					t.Error("fps_low still stale after fresh samples")
				}
				return r.fps(90, 10*time.Second)
			}, wantEvents: []string{"fps_low resolved"}, want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		})
	})
	t.Run("pending timer restarts after silence", func(t *testing.T) {
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
		r.stream(StreamConnected)
		r.fps(90, time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "pending", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "silent", do: func(r *ruleRun) []RuleEvent { r.stream(StreamSilent); return r.fps(70, 20*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
			{name: "data resumes, under for since then", do: func(r *ruleRun) []RuleEvent {
				r.stream(StreamConnected)
				return r.fps(70, 59*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "for since data resumed", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 2*time.Second) },
				wantEvents: []string{"fps_low firing"}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		})
	})
	t.Run("gap in samples without a stream report", func(t *testing.T) {
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
		r.fps(90, time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "pending", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "no samples for MaxGap", do: func(r *ruleRun) []RuleEvent { return r.idle(15 * time.Second) }},
			{name: "the gap is not evidence", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 30*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "for after the gap", do: func(r *ruleRun) []RuleEvent { return r.fps(70, 31*time.Second) },
				wantEvents: []string{"fps_low firing"}},
		})
	})
	t.Run("growth window emptied by an outage", func(t *testing.T) {
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
		r.play(10*time.Minute, steady(90), ramp(100, 15))
		r.stream(StreamDisconnected)
		r.idle(20 * time.Second)
		r.stream(StreamConnected)
		// Without the outage the leak would be judged at ~12 min; the window
		// restarts, so nothing before 12 min of fresh data.
		if evs := r.play(11*time.Minute, steady(90), ramp(250, 15)); len(evs) != 0 {
			t.Errorf("events %q, want none within 11 min of fresh data", eventNames(evs))
		}
		if evs := r.play(3*time.Minute, steady(90), ramp(415, 15)); !slices.Contains(eventNames(evs), "memory_growth firing") {
			t.Errorf("events %q, want memory_growth firing after the window refills", eventNames(evs))
		}
	})
}

// TestRuleEngineFlappingFPS is RELIABILITY 7: FPS in a 30-s square wave
// across a threshold for an hour. The ceiling is 1 firing + 1 resolved per
// rule for the whole episode.
func TestRuleEngineFlappingFPS(t *testing.T) {
	tests := []struct {
		name      string
		low, high float64
		period    time.Duration
		prefire   bool // fps_low already firing when the flapping starts
		want      []string
	}{
		{name: "80/90 across fps_low", low: 80, high: 90, period: 30 * time.Second},
		{name: "60/90 deep", low: 60, high: 90, period: 30 * time.Second},
		{name: "40/90 across fps_critical", low: 40, high: 90, period: 30 * time.Second},
		{name: "84/88 straddling the band", low: 84, high: 88, period: 30 * time.Second},
		{name: "90/100 across fps_high", low: 90, high: 100, period: 30 * time.Second},
		{name: "80/90 while fps_low fires", low: 80, high: 90, period: 30 * time.Second, prefire: true,
			want: []string{"fps_low firing", "fps_low resolved"}},
		{name: "40/90 while fps_low fires", low: 40, high: 90, period: 30 * time.Second, prefire: true,
			want: []string{"fps_low firing", "fps_low resolved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
			r.stream(StreamConnected)
			r.fps(90, 10*time.Minute)
			if tt.prefire {
				r.fps(60, 2*time.Minute)
			}
			waveStart := r.now
			r.play(time.Hour, square(tt.low, tt.high, tt.period), absent)
			waveEnd := r.now
			r.fps(90, 10*time.Minute)

			want := tt.want
			if want == nil {
				want = []string{}
			}
			if got := eventNames(r.events); !slices.Equal(got, want) {
				t.Errorf("events %q, want %q", got, want)
			}
			perRule := map[string]int{}
			for _, ev := range r.events {
				perRule[ev.Rule+" "+ev.State.String()]++
				if ev.State == RuleEventResolved && ev.At.Before(waveEnd) && !ev.At.Before(waveStart) {
					t.Errorf("%s resolved at %s, inside the flapping", ev.Rule, ev.At.Format(time.TimeOnly))
				}
			}
			for k, n := range perRule {
				if n > 1 {
					t.Errorf("%d × %s, ceiling is 1 per flap episode", n, k)
				}
			}
			t.Logf("notifications in the flapping hour: %d (ceiling 2)", len(r.events))
		})
	}
}

// TestRuleEngineClockSteps is RELIABILITY 13 for times without a monotonic
// reading (the only kind whose Sub can see a wall-clock step; times from
// time.Now and its Add results carry one, and Sub then ignores steps).
func TestRuleEngineClockSteps(t *testing.T) {
	stepped := func(r *ruleRun, by time.Duration) { r.now = r.now.Add(by); r.lastTick = r.now }
	tests := []struct {
		name   string
		setup  func(r *ruleRun)             // brings a rule to the state under test
		after  func(r *ruleRun) []RuleEvent // the same signal, continued after the step
		by     time.Duration
		before time.Duration // no event may come this soon after the step
		want   string        // the event that must come after it
		within time.Duration
	}{
		{
			name:  "back 1h while fps_low is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.fps(70, 40*time.Second) },
			after: func(r *ruleRun) []RuleEvent { return r.fps(70, 2*time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "fps_low firing", within: 62 * time.Second,
		},
		{
			name:  "forward 1h while fps_low is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.fps(70, 40*time.Second) },
			after: func(r *ruleRun) []RuleEvent { return r.fps(70, 2*time.Minute) },
			by:    time.Hour, before: 59 * time.Second, want: "fps_low firing", within: 62 * time.Second,
		},
		{
			name:  "back 1h while fps_low is resolving",
			setup: func(r *ruleRun) { r.fps(60, 2*time.Minute); r.fps(90, 40*time.Second) },
			after: func(r *ruleRun) []RuleEvent { return r.fps(90, 2*time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "fps_low resolved", within: 62 * time.Second,
		},
		{
			name:  "forward 1h while fps_low is resolving",
			setup: func(r *ruleRun) { r.fps(60, 2*time.Minute); r.fps(90, 40*time.Second) },
			after: func(r *ruleRun) []RuleEvent { return r.fps(90, 2*time.Minute) },
			by:    time.Hour, before: 59 * time.Second, want: "fps_low resolved", within: 62 * time.Second,
		},
		{
			// The outage clock does not move back: 60 s remain to wait (plus
			// the second between the last tick and the step, lost with it).
			name:  "back 1h while telemetry_down is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.stream(StreamDisconnected); r.idle(time.Minute) },
			after: func(r *ruleRun) []RuleEvent { return r.idle(2 * time.Minute) },
			by:    -time.Hour, before: 59 * time.Second, want: "telemetry_down firing", within: 63 * time.Second,
		},
		{
			// A forward step counts as at most MaxGap (15 s) of outage: this
			// is the one case where a step brings a firing forward, and only
			// for times without a monotonic reading.
			name:  "forward 1h while telemetry_down is pending",
			setup: func(r *ruleRun) { r.fps(90, time.Minute); r.stream(StreamDisconnected); r.idle(time.Minute) },
			after: func(r *ruleRun) []RuleEvent { return r.idle(2 * time.Minute) },
			by:    time.Hour, before: 44 * time.Second, want: "telemetry_down firing", within: 48 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
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
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
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
		r := newRuleRun(t, DefaultRuleConfig(), time.Now())
		r.fps(90, time.Minute)
		if evs := r.fps(70, 2*time.Minute); !slices.Equal(eventNames(evs), []string{"fps_low firing"}) {
			t.Errorf("events %q, want fps_low firing", eventNames(evs))
		}
	})
}

func TestRuleEngineIgnoresInvalidSamples(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
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

func TestRuleConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *RuleConfig)
		want   string // "" for valid
	}{
		{"default", func(*RuleConfig) {}, ""},
		{"fps rules disabled", func(c *RuleConfig) { c.FPSMin, c.FPSCriticalMin, c.FPSMax = 0, 0, 0 }, ""},
		{"critical above min", func(c *RuleConfig) { c.FPSCriticalMin = 90 },
			"RuleConfig.FPSCriticalMin: must be below FPSMin (85), got 90"},
		{"max below min", func(c *RuleConfig) { c.FPSMax = 80 },
			"RuleConfig.FPSMax: must be above FPSMin (85), got 80"},
		{"NaN threshold", func(c *RuleConfig) { c.FPSHysteresis = math.NaN() },
			"RuleConfig.FPSHysteresis: must be a finite number ≥ 0 (0 disables the rule), got NaN"},
		{"negative memory", func(c *RuleConfig) { c.MemoryMaxMB = -1 },
			"RuleConfig.MemoryMaxMB: must be a finite number ≥ 0 (0 disables the rule), got -1"},
		{"memory hysteresis too wide", func(c *RuleConfig) { c.MemoryHysteresisMB = 400 },
			"RuleConfig.MemoryHysteresisMB: must be below MemoryMaxMB (400), got 400"},
		{"growth hysteresis too wide", func(c *RuleConfig) { c.GrowthHysteresisMBPerMin = 12 },
			"RuleConfig.GrowthHysteresisMBPerMin: must be below GrowthMBPerMin (10), got 12"},
		{"growth window too short", func(c *RuleConfig) { c.GrowthWindow = 30 * time.Second },
			"RuleConfig.GrowthWindow: must be at least 1m, got 30s"},
		{"negative for", func(c *RuleConfig) { c.FPSFor = -time.Second },
			"RuleConfig.FPSFor: must be ≥ 0, got -1s"},
		{"no smoothing", func(c *RuleConfig) { c.SmoothingWindow = 0 },
			"RuleConfig.SmoothingWindow: must be above 0 and at most 10m, got 0s"},
		{"no max gap", func(c *RuleConfig) { c.MaxGap = 0 },
			"RuleConfig.MaxGap: must be above 0, got 0s"},
		{"every problem reported", func(c *RuleConfig) { c.FPSMax, c.MaxGap = 1, 0 },
			"RuleConfig.FPSMax: must be above FPSMin (85), got 1\nRuleConfig.MaxGap: must be above 0, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultRuleConfig()
			tt.modify(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			if _, nerr := NewRuleEngine(c); (nerr != nil) != (tt.want != "") {
				t.Errorf("NewRuleEngine error = %v, want error %v", nerr, tt.want != "")
			}
		})
	}
	if _, err := NewRuleEngine(RuleConfig{}); err == nil {
		t.Error("NewRuleEngine(RuleConfig{}) accepted the zero config")
	}
}

func TestRuleEngineUpdateConfig(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	r.fps(60, 2*time.Minute)
	if s := r.state(RuleFPSLow); s.State != RuleFiring {
		t.Fatalf("setup: fps_low %s, want firing", s.State)
	}

	bad := DefaultRuleConfig()
	bad.FPSMax = 10
	if err := r.e.UpdateConfig(bad); err == nil || !strings.Contains(err.Error(), "RuleConfig.FPSMax") {
		t.Fatalf("UpdateConfig(bad) = %v, want the FPSMax error", err)
	}
	if r.e.Config() != DefaultRuleConfig() {
		t.Fatalf("a rejected config replaced the running one")
	}

	lower := DefaultRuleConfig()
	lower.FPSMin = 55
	if err := r.e.UpdateConfig(lower); err != nil {
		t.Fatal(err)
	}
	runRuleSteps(t, r, []ruleStep{
		{name: "reload keeps the firing state", do: func(r *ruleRun) []RuleEvent { return r.e.Tick(r.now, nil) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "judged on the new threshold", do: func(r *ruleRun) []RuleEvent { return r.fps(60, 2*time.Minute) },
			wantEvents: []string{"fps_low resolved"},
			wantReason: []string{"FPS 60.0 back at or above 57 for 1m0s"}},
		{name: "fires again on the new threshold", do: func(r *ruleRun) []RuleEvent { return r.fps(50, 2*time.Minute) },
			wantEvents: []string{"fps_low firing"}},
	})

	off := DefaultRuleConfig()
	off.FPSMin, off.FPSCriticalMin = 0, 0
	if err := r.e.UpdateConfig(off); err != nil {
		t.Fatal(err)
	}
	evs := r.stream(StreamConnected)
	if len(evs) != 1 || evs[0].Rule != RuleFPSLow || evs[0].State != RuleEventResolved || evs[0].Reason != "rule disabled by configuration" {
		t.Fatalf("events after disabling fps_low: %+v, want one resolved with the reason \"rule disabled by configuration\"", evs)
	}
	for _, s := range r.e.States() {
		if s.Rule == RuleFPSLow || s.Rule == RuleFPSCritical {
			t.Errorf("States() lists disabled rule %s", s.Rule)
		}
	}
	if evs := r.fps(10, 5*time.Minute); len(evs) != 0 {
		t.Errorf("disabled rules produced %q", eventNames(evs))
	}
}

func TestRuleEngineSnapshotRestore(t *testing.T) {
	before := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	before.play(2*time.Minute, steady(60), steady(450))
	data, err := before.e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int `json:"version"`
		Rules   []struct {
			Rule        string    `json:"rule"`
			FiringSince time.Time `json:"firing_since"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("snapshot is not JSON: %v\n%s", err, data)
	}
	if doc.Version != 1 || len(doc.Rules) != 2 || doc.Rules[0].Rule != RuleFPSLow || doc.Rules[1].Rule != RuleMemoryHigh {
		t.Fatalf("snapshot %s: want version 1 with fps_low and memory_high", data)
	}

	// The daemon restarts 5 minutes later.
	r := newRuleRun(t, DefaultRuleConfig(), before.now.Add(5*time.Minute))
	if err := r.e.Restore(data); err != nil {
		t.Fatal(err)
	}
	low := r.state(RuleFPSLow)
	if low.State != RuleFiring || !low.Stale || !low.Since.Equal(doc.Rules[0].FiringSince) {
		t.Fatalf("restored fps_low %+v, want firing, stale, since %s", low, doc.Rules[0].FiringSince)
	}
	runRuleSteps(t, r, []ruleStep{
		{name: "still bad after restart: no duplicate firing", do: func(r *ruleRun) []RuleEvent {
			r.stream(StreamConnected)
			return r.play(5*time.Minute, steady(60), steady(200))
		}, wantEvents: []string{"memory_high resolved"},
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleMemoryHigh: RuleInactive}},
		{name: "recovers once", do: func(r *ruleRun) []RuleEvent { return r.play(2*time.Minute, steady(90), steady(200)) },
			wantEvents: []string{"fps_low resolved"}},
	})
	if r.state(RuleFPSLow).Stale {
		t.Error("fps_low stale after fresh samples")
	}

	t.Run("a restored rule the config disables resolves on the next call", func(t *testing.T) {
		cfg := DefaultRuleConfig()
		cfg.MemoryMaxMB = 0
		r := newRuleRun(t, cfg, before.now)
		if err := r.e.Restore(data); err != nil {
			t.Fatal(err)
		}
		evs := r.e.Tick(r.now, nil)
		if got := eventNames(evs); !slices.Equal(got, []string{"memory_high resolved"}) {
			t.Errorf("events %q, want memory_high resolved", got)
		}
	})

	t.Run("bad snapshots", func(t *testing.T) {
		tests := []struct{ name, data, want string }{
			{"not JSON", "{", "restore rule snapshot: unexpected end of JSON input"},
			{"future version", `{"version":2,"rules":[]}`, "restore rule snapshot: version 2 not supported (want 1); discard the stored state"},
			{"wrong type", `{"version":1,"rules":[{"rule":"fps_low","value":"x"}]}`, "restore rule snapshot: json: cannot unmarshal string into Go struct field ruleSnapshotEntry.rules.value of type float64"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
				r.fps(60, 2*time.Minute)
				want := r.e.States()
				err := r.e.Restore([]byte(tt.data))
				if err == nil || err.Error() != tt.want {
					t.Fatalf("Restore = %v, want %q", err, tt.want)
				}
				if got := r.e.States(); !slices.Equal(got, want) {
					t.Errorf("a failed Restore changed the states:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	})

	t.Run("unknown rules are skipped", func(t *testing.T) {
		r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
		if err := r.e.Restore([]byte(`{"version":1,"rules":[{"rule":"gone","value":1},{"rule":"fps_high","value":120}]}`)); err != nil {
			t.Fatal(err)
		}
		if s := r.state(RuleFPSHigh); s.State != RuleFiring {
			t.Errorf("fps_high %s, want firing", s.State)
		}
	})
}

func TestRuleFiringGauges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	g := NewRuleFiringGauges(m.RuleFiring, "vr-1")
	g.Sync(r.e.States())
	g.Update(r.fps(60, 2*time.Minute))

	want := `
# HELP spacetime_rule_firing 1 while the threshold rule's condition has held for its ` + "`for`" + ` duration, else 0.
# TYPE spacetime_rule_firing gauge
spacetime_rule_firing{rule="fps_critical",severity="critical",target="vr-1"} 0
spacetime_rule_firing{rule="fps_high",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="fps_low",severity="warning",target="vr-1"} 1
spacetime_rule_firing{rule="memory_growth",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_high",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="telemetry_down",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="telemetry_silent",severity="warning",target="vr-1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacetime_rule_firing"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg, "spacetime_rule_firing"); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	cfg := DefaultRuleConfig()
	cfg.FPSMax, cfg.TelemetryDownFor = 0, 0
	if err := r.e.UpdateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	g.Update(r.fps(90, 2*time.Minute))
	g.Sync(r.e.States())
	want = `
# HELP spacetime_rule_firing 1 while the threshold rule's condition has held for its ` + "`for`" + ` duration, else 0.
# TYPE spacetime_rule_firing gauge
spacetime_rule_firing{rule="fps_critical",severity="critical",target="vr-1"} 0
spacetime_rule_firing{rule="fps_low",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_growth",severity="warning",target="vr-1"} 0
spacetime_rule_firing{rule="memory_high",severity="warning",target="vr-1"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "spacetime_rule_firing"); err != nil {
		t.Errorf("after disabling fps_high and the telemetry rules: %v", err)
	}
}

func TestRuleEngineSteadyStateAllocatesNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	g := NewRuleFiringGauges(NewMetrics(reg).RuleFiring, "vr-1")
	g.Sync(r.e.States())
	r.play(20*time.Minute, steady(90), steady(250)) // fills every window
	out := make([]RuleEvent, 0, 8)
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

func TestRuleEventStringAndLog(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	evs := r.fps(61.2, 2*time.Minute)
	if len(evs) != 1 {
		t.Fatalf("events %q, want one", eventNames(evs))
	}
	if got, want := evs[0].String(), "fps_low firing (warning): FPS 61.2 below 85 for 1m0s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	enc := zapcore.NewMapObjectEncoder()
	if err := evs[0].MarshalLogObject(enc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"rule": "fps_low", "severity": "warning", "state": "firing", "observed": "61.2 fps", "expected": "at least 85 fps"} {
		if enc.Fields[k] != want {
			t.Errorf("log field %s = %v, want %v", k, enc.Fields[k], want)
		}
	}
	if _, ok := enc.Fields["projected_limit_in"]; ok {
		t.Error("projected_limit_in logged for an FPS event")
	}
	data, err := json.Marshal(evs[0])
	if err != nil || !strings.Contains(string(data), `"state":"firing"`) || !strings.Contains(string(data), `"severity":"warning"`) {
		t.Errorf("JSON %s (%v): want state and severity as strings", data, err)
	}
}

// TestRuleEngineDay plays a scripted 24-hour day at 2 samples/s under a
// controlled clock, with the watcher's one-second tick, and checks every
// transition against the script and against testdata/rules_day.golden
// (rewrite with -update-rules-golden after an intended change, and read
// the diff).
func TestRuleEngineDay(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	rng := rand.New(rand.NewPCG(24, 1))
	var got []RuleEvent
	sink := RuleEventSinkFunc(func(target string, ev RuleEvent) {
		if target != "vr-1" {
			t.Errorf("sink got target %q", target)
		}
		got = append(got, ev)
	})
	healthyFPS := jitter(steady(90), 1.5, rng)
	healthyMem := jitter(steady(150), 2, rng)
	until := func(hhmm string, fps, mem signal) {
		d, err := time.ParseDuration(hhmm)
		if err != nil {
			t.Fatal(err)
		}
		r.play(r.start.Add(d).Sub(r.now), fps, mem)
	}
	outage := func(state StreamState, d time.Duration) {
		r.stream(state)
		r.idle(d)
		r.stream(StreamConnected)
	}

	began := time.Now()
	r.stream(StreamConnected)
	until("2h", healthyFPS, healthyMem)
	until("2h10m", jitter(steady(60), 1.5, rng), healthyMem) // a heavy scene
	until("4h", healthyFPS, healthyMem)
	until("4h5m", jitter(steady(30), 1.5, rng), healthyMem) // a deep drop
	until("6h", healthyFPS, healthyMem)
	until("6h3m", jitter(steady(120), 1.5, rng), healthyMem) // vsync off
	until("8h", healthyFPS, healthyMem)
	until("9h", square(80, 90, 30*time.Second), healthyMem) // flapping: no notification
	until("10h", healthyFPS, healthyMem)
	until("10h30m", healthyFPS, jitter(ramp(150, 15), 2, rng)) // a leak: 150 → 600 MB
	until("11h", healthyFPS, jitter(steady(600), 2, rng))
	outage(StreamDisconnected, 20*time.Second) // the instance restarts
	until("14h", healthyFPS, healthyMem)
	outage(StreamDisconnected, 5*time.Minute) // telemetry server down
	until("16h", healthyFPS, healthyMem)
	outage(StreamSilent, 3*time.Minute) // half-open stream
	until("24h", healthyFPS, healthyMem)
	elapsed := time.Since(began)

	for _, ev := range r.events {
		sink.RuleEvent("vr-1", ev)
	}
	samples := 2 * 86400
	t.Logf("24 h, %d samples, %d events in %s", samples, len(got), elapsed)
	// About 60 ms plain, 0.7 s under -race on a loaded 2-core machine; the
	// bound catches an accidental O(n²), the benchmarks guard the rest.
	if elapsed > 5*time.Second {
		t.Errorf("a 24-hour run took %s, want well under a second (5 s allowed for -race on a shared machine)", elapsed)
	}

	// The script's transitions, each within its window of the day.
	expected := []struct {
		event  string
		from   string
		before string
	}{
		{"fps_low firing", "2h1m", "2h1m5s"},
		{"fps_low resolved", "2h11m", "2h11m5s"},
		{"fps_low firing", "4h1m", "4h1m5s"},
		{"fps_critical firing", "4h1m", "4h1m5s"},
		{"fps_critical resolved", "4h6m", "4h6m5s"},
		{"fps_low resolved", "4h6m", "4h6m5s"},
		{"fps_high firing", "6h1m", "6h1m5s"},
		{"fps_high resolved", "6h4m", "6h4m5s"},
		// The window is already full of flat data when the leak starts: the
		// slope of the hinge passes 10 MB/min after ~9 min of leak, + for.
		{"memory_growth firing", "10h9m", "10h12m"},
		{"memory_high firing", "10h17m30s", "10h18m"},
		{"memory_growth resolved", "10h30m", "10h45m"},
		{"memory_high resolved", "11h1m20s", "11h1m30s"},
		{"telemetry_down firing", "14h2m", "14h2m1s"},
		{"telemetry_down resolved", "14h6m", "14h6m1s"},
		{"telemetry_silent firing", "16h2m", "16h2m1s"},
		{"telemetry_silent resolved", "16h4m", "16h4m1s"},
	}
	if len(got) != len(expected) {
		t.Errorf("%d events, want %d:\n%s", len(got), len(expected), strings.Join(eventNames(got), "\n"))
	}
	for i := range min(len(got), len(expected)) {
		ev, want := got[i], expected[i]
		from, _ := time.ParseDuration(want.from)
		before, _ := time.ParseDuration(want.before)
		at := ev.At.Sub(r.start)
		if name := ev.Rule + " " + ev.State.String(); name != want.event || at < from || at >= before {
			t.Errorf("event %d: %s at +%s, want %s in [+%s, +%s)", i+1, name, at, want.event, from, before)
		}
	}
	for _, s := range r.e.States() {
		if s.State != RuleInactive {
			t.Errorf("%s %s at the end of the day, want inactive", s.Rule, s.State)
		}
	}

	var b strings.Builder
	b.WriteString("# at (since start)  rule  state  observed  expected  reason\n")
	for _, ev := range got {
		fmt.Fprintf(&b, "+%-10s %-16s %-8s %-17s %-17s %s\n", ev.At.Sub(r.start), ev.Rule, ev.State, ev.Observed, ev.Expected, ev.Reason)
	}
	golden := filepath.Join("testdata", "rules_day.golden")
	if *updateRulesGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-rules-golden to create it)", err)
	}
	if b.String() != string(want) {
		t.Errorf("the day's events differ from %s:\n got:\n%s\nwant:\n%s", golden, b.String(), want)
	}
}

func TestRuleNamesAndSeverities(t *testing.T) {
	want := []string{"fps_critical", "fps_low", "fps_high", "memory_high", "memory_growth", "telemetry_down", "telemetry_silent"}
	if got := RuleNames(); !slices.Equal(got, want) {
		t.Errorf("RuleNames() = %q, want %q", got, want)
	}
	for _, name := range want {
		sev, ok := RuleSeverity(name)
		wantSev := SeverityWarning
		if name == RuleFPSCritical {
			wantSev = SeverityCritical
		}
		if !ok || sev != wantSev {
			t.Errorf("RuleSeverity(%q) = %q, %v; want %q", name, sev, ok, wantSev)
		}
	}
	if _, ok := RuleSeverity("fps"); ok {
		t.Error(`RuleSeverity("fps") reported a rule`)
	}
}

// TestRuleStatesJSON pins the shape /api/v1/status serves.
func TestRuleStatesJSON(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	r.stream(StreamConnected)
	r.fps(60, 2*time.Minute)
	r.stream(StreamDisconnected)
	if got, _ := r.e.Stream().MarshalText(); string(got) != "disconnected" {
		t.Errorf("Stream() = %s, want disconnected", got)
	}
	data, err := json.Marshal(r.state(RuleFPSLow))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rule":"fps_low","severity":"warning","state":"firing","since":"2025-12-16T00:01:00Z","value":60,"has_value":true,"threshold":85,"unit":"fps","stale":true}`
	if string(data) != want {
		t.Errorf("JSON\n got %s\nwant %s", data, want)
	}
	if s := r.state(RuleTelemetryDown); s.State != RulePending || s.Stale || s.Unit != "s" {
		t.Errorf("telemetry_down %+v, want pending, never stale, unit s", s)
	}
}

func TestRuleEngineZeroForFiresOnFirstBreach(t *testing.T) {
	cfg := DefaultRuleConfig()
	cfg.FPSFor, cfg.ResolveFor, cfg.SmoothingWindow = 0, 0, time.Millisecond
	r := newRuleRun(t, cfg, ruleEpoch)
	r.fps(90, time.Second)
	if evs := r.fps(80, r.every); !slices.Equal(eventNames(evs), []string{"fps_low firing"}) {
		t.Errorf("events %q, want fps_low firing on the first breaching sample", eventNames(evs))
	}
	if evs := r.fps(86, 10*time.Second); len(evs) != 0 {
		t.Errorf("events %q inside the hysteresis band, want none", eventNames(evs))
	}
	if evs := r.fps(87, r.every); !slices.Equal(eventNames(evs), []string{"fps_low resolved"}) {
		t.Errorf("events %q, want fps_low resolved on the first healthy sample", eventNames(evs))
	}
}

func TestRuleEngineMemoryGap(t *testing.T) {
	r := newRuleRun(t, DefaultRuleConfig(), ruleEpoch)
	r.memory(300, time.Minute)
	runRuleSteps(t, r, []ruleStep{
		{name: "pending", do: func(r *ruleRun) []RuleEvent { return r.memory(450, 50*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "FPS-only frames for 20 s: no memory evidence", do: func(r *ruleRun) []RuleEvent { return r.fps(90, 20*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "memory back: the timer restarted", do: func(r *ruleRun) []RuleEvent { return r.memory(450, 30*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "for since the gap", do: func(r *ruleRun) []RuleEvent { return r.memory(450, 31*time.Second) },
			wantEvents: []string{"memory_high firing"}},
		{name: "FPS-only frames: memory_high goes stale", do: func(r *ruleRun) []RuleEvent {
			evs := r.fps(90, 20*time.Second)
			if !r.state(RuleMemoryHigh).Stale {
				t.Error("memory_high not stale after 20 s without memory values")
			}
			return evs
		}, want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
	})
}
