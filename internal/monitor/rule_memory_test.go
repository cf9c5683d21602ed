package monitor

import (
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestRuleEngineMemoryHighHysteresis(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	runRuleSteps(t, r, []ruleStep{
		{name: "healthy", do: func(r *ruleRun) []event.Event { return r.memory(300, time.Minute) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
		{name: "above the limit briefly", do: func(r *ruleRun) []event.Event { return r.memory(405, 30*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "below the limit resets pending", do: func(r *ruleRun) []event.Event { return r.memory(395, 10*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
		{name: "sustained", do: func(r *ruleRun) []event.Event { return r.memory(420, 2*time.Minute) },
			wantEvents: []string{"memory_high firing"},
			wantReason: []string{"memory 420.0 MB above 400 MB for 1m0s"},
			want:       map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "inside the band does not resolve", do: func(r *ruleRun) []event.Event { return r.memory(395, 5*time.Minute) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "out of the band, under ResolveFor", do: func(r *ruleRun) []event.Event { return r.memory(385, 50*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
		{name: "resolves after ResolveFor", do: func(r *ruleRun) []event.Event { return r.memory(385, time.Minute) },
			wantEvents: []string{"memory_high resolved"},
			wantReason: []string{"memory 385.0 MB back at or below 390 MB for 1m0s"},
			want:       map[string]RuleStatus{RuleMemoryHigh: RuleInactive}},
	})
}

func TestRuleEngineMemoryGrowthDetectsLeak(t *testing.T) {
	const leak = 15.0 // MB/min
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
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
			cfg := testRules()
			cfg.MemoryMaxMB = 1000
			r := newRuleRun(t, cfg, testkit.BaseTime(t))
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

func TestRuleEngineMemoryGap(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	r.memory(300, time.Minute)
	runRuleSteps(t, r, []ruleStep{
		{name: "pending", do: func(r *ruleRun) []event.Event { return r.memory(450, 50*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "FPS-only frames for 20 s: no memory evidence", do: func(r *ruleRun) []event.Event { return r.fpsOnly(90, 20*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RuleUnknown, RuleMemoryUnwatched: RulePending}},
		{name: "memory back: the timer restarted", do: func(r *ruleRun) []event.Event { return r.memory(450, 30*time.Second) },
			want: map[string]RuleStatus{RuleMemoryHigh: RulePending}},
		{name: "for since the gap", do: func(r *ruleRun) []event.Event { return r.memory(450, 31*time.Second) },
			wantEvents: []string{"memory_high firing"}},
		{name: "FPS-only frames: memory_high goes stale", do: func(r *ruleRun) []event.Event {
			evs := r.fpsOnly(90, 20*time.Second)
			if !r.state(RuleMemoryHigh).Stale {
				t.Error("memory_high not stale after 20 s without memory values")
			}
			return evs
		}, want: map[string]RuleStatus{RuleMemoryHigh: RuleFiring}},
	})
}
