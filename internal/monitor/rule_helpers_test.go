package monitor

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

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
	events   []event.Event
	buf      []event.Event
}

// newRuleRun starts an engine at start; testkit.BaseTime has no monotonic
// reading, so durations between times built from it follow the wall clock:
// the tests can step it.
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
func (r *ruleRun) play(d time.Duration, fps, mem signal) []event.Event {
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

// fps feeds samples of one FPS value and healthy memory for d.
func (r *ruleRun) fps(v float64, d time.Duration) []event.Event {
	return r.play(d, steady(v), steady(300))
}

// fpsOnly feeds FPS-only samples of one value for d, as the binary
// encoding sends them.
func (r *ruleRun) fpsOnly(v float64, d time.Duration) []event.Event {
	return r.play(d, steady(v), absent)
}

// memory feeds samples of healthy FPS and one memory value for d.
func (r *ruleRun) memory(v float64, d time.Duration) []event.Event {
	return r.play(d, steady(90), steady(v))
}

// idle lets d pass with ticks and no samples.
func (r *ruleRun) idle(d time.Duration) []event.Event {
	n0 := len(r.events)
	for end := r.now.Add(d); r.now.Before(end); r.now = r.now.Add(r.every) {
		r.maybeTick()
	}
	return r.events[n0:]
}

func (r *ruleRun) stream(s StreamState) []event.Event {
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

func (r *ruleRun) collect(evs []event.Event) {
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

func eventNames(evs []event.Event) []string {
	names := []string{}
	for _, ev := range evs {
		names = append(names, ev.Name+" "+string(ev.State))
	}
	return names
}

// ruleStep is one step of a hysteresis walk: an action, the events it must
// produce, and the states it must leave (gatus's TestHandleAlerting style).
type ruleStep struct {
	name       string
	do         func(r *ruleRun) []event.Event
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

// testRules are the rules the daemon builds for a target of an empty
// config file: every default from internal/config, none from here.
func testRules() RuleConfig { return RuleConfigFrom(config.Default().Targets[0]) }
