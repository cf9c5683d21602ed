package monitor

import (
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestRuleEngineFPSLowHysteresis(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []event.Event { return r.fps(90, 2*time.Minute) },
			want: map[string]RuleStatus{RuleFPSLow: RuleInactive, RuleFPSCritical: RuleInactive, RuleFPSHigh: RuleInactive}},
		{name: "one bad frame does not start the timer", do: func(r *ruleRun) []event.Event {
			r.fps(20, r.every)
			return r.fps(90, 10*time.Second)
		}, want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		{name: "drop shorter than for", do: func(r *ruleRun) []event.Event { return r.fps(70, 30*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RulePending, RuleFPSCritical: RuleInactive}},
		{name: "recovery resets the pending timer", do: func(r *ruleRun) []event.Event { return r.fps(90, 10*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		{name: "drop again, just under for", do: func(r *ruleRun) []event.Event { return r.fps(70, 59*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RulePending}},
		{name: "sustained drop fires once", do: func(r *ruleRun) []event.Event { return r.fps(70, 5*time.Minute) },
			wantEvents: []string{"fps_low firing"},
			wantReason: []string{"FPS 70.0 below 85 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleInactive}},
		{name: "above the threshold but inside the band does not resolve", do: func(r *ruleRun) []event.Event { return r.fps(86, 5*time.Minute) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "out of the band, not yet for ResolveFor", do: func(r *ruleRun) []event.Event { return r.fps(88, 30*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "back into the band restarts the resolve timer", do: func(r *ruleRun) []event.Event { return r.fps(86, 10*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "out of the band again, just under ResolveFor", do: func(r *ruleRun) []event.Event { return r.fps(88, 59*time.Second) },
			want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		{name: "healthy for ResolveFor resolves once", do: func(r *ruleRun) []event.Event { return r.fps(88, 5*time.Minute) },
			wantEvents: []string{"fps_low resolved"},
			wantReason: []string{"FPS 88.0 back at or above 87 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleInactive}},
	})
}

func TestRuleEngineFPSDeepDropFiresWarningAndCritical(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []event.Event { return r.fps(90, time.Minute) }},
		{name: "deep drop", do: func(r *ruleRun) []event.Event { return r.fps(30, 3*time.Minute) },
			wantEvents: []string{"fps_low firing", "fps_critical firing"},
			wantReason: []string{"FPS 30.0 below 85 for 1m0s", "FPS 30.0 below 45 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleFiring}},
		{name: "partial recovery resolves only the critical", do: func(r *ruleRun) []event.Event { return r.fps(70, 3*time.Minute) },
			wantEvents: []string{"fps_critical resolved"},
			wantReason: []string{"FPS 70.0 back at or above 47 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSLow: RuleFiring, RuleFPSCritical: RuleInactive}},
		{name: "full recovery", do: func(r *ruleRun) []event.Event { return r.fps(90, 3*time.Minute) },
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
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []event.Event { return r.fps(90, time.Minute) }},
		{name: "uncapped frame rate", do: func(r *ruleRun) []event.Event { return r.fps(120, 2*time.Minute) },
			wantEvents: []string{"fps_high firing"},
			wantReason: []string{"FPS 120.0 above 95 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSHigh: RuleFiring, RuleFPSLow: RuleInactive}},
		{name: "below the threshold, inside the band", do: func(r *ruleRun) []event.Event { return r.fps(94, 3*time.Minute) },
			want: map[string]RuleStatus{RuleFPSHigh: RuleFiring}},
		{name: "back in range", do: func(r *ruleRun) []event.Event { return r.fps(90, 2*time.Minute) },
			wantEvents: []string{"fps_high resolved"},
			wantReason: []string{"FPS 90.0 back at or below 93 for 1m0s"},
			want:       map[string]RuleStatus{RuleFPSHigh: RuleInactive}},
	})
}

// TestRuleEngineFlappingFPS is reliability scenario 7: FPS in a 30-s square wave
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
			r := newRuleRun(t, testRules(), testkit.BaseTime(t))
			r.stream(StreamConnected)
			r.fps(90, 10*time.Minute)
			if tt.prefire {
				r.fps(60, 2*time.Minute)
			}
			waveStart := r.now
			r.play(time.Hour, square(tt.low, tt.high, tt.period), steady(300))
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
				perRule[ev.Name+" "+string(ev.State)]++
				if ev.State == event.StateResolved && ev.At.Before(waveEnd) && !ev.At.Before(waveStart) {
					t.Errorf("%s resolved at %s, inside the flapping", ev.Name, ev.At.Format(time.TimeOnly))
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

func TestRuleEngineZeroForFiresOnFirstBreach(t *testing.T) {
	cfg := testRules()
	cfg.FPSFor, cfg.ResolveFor, cfg.SmoothingWindow = 0, 0, time.Millisecond
	r := newRuleRun(t, cfg, testkit.BaseTime(t))
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
