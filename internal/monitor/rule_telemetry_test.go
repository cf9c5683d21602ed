package monitor

import (
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestRuleEngineTelemetryDown(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	down := map[string]RuleStatus{RuleTelemetryDown: RulePending, RuleTelemetrySilent: RuleInactive}
	runRuleSteps(t, r, []ruleStep{
		{name: "data flowing", do: func(r *ruleRun) []event.Event { r.stream(StreamConnected); return r.fps(90, time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
		{name: "brief disconnect", do: func(r *ruleRun) []event.Event { r.stream(StreamDisconnected); return r.idle(90 * time.Second) },
			want: down},
		{name: "reconnect and data", do: func(r *ruleRun) []event.Event { r.stream(StreamConnected); return r.fps(90, time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
		{name: "disconnected, under for", do: func(r *ruleRun) []event.Event { r.stream(StreamDisconnected); return r.idle(119 * time.Second) },
			want: down},
		{name: "disconnected for TelemetryDownFor", do: func(r *ruleRun) []event.Event { return r.idle(30 * time.Second) },
			wantEvents: []string{"telemetry_down firing"},
			wantReason: []string{"telemetry stream disconnected, no data for 2m0s"},
			want:       map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "connected without data does not resolve", do: func(r *ruleRun) []event.Event { r.stream(StreamConnected); return r.idle(2 * time.Minute) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "data under ResolveFor", do: func(r *ruleRun) []event.Event { return r.fps(90, 30*time.Second) },
			want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "a new disconnect restarts the resolve timer", do: func(r *ruleRun) []event.Event {
			r.stream(StreamDisconnected)
			r.idle(5 * time.Second)
			r.stream(StreamConnected)
			return r.fps(90, 50*time.Second)
		}, want: map[string]RuleStatus{RuleTelemetryDown: RuleFiring}},
		{name: "data for ResolveFor resolves", do: func(r *ruleRun) []event.Event { return r.fps(90, 20*time.Second) },
			wantEvents: []string{"telemetry_down resolved"},
			wantReason: []string{"telemetry data flowing again for 1m0s"},
			want:       map[string]RuleStatus{RuleTelemetryDown: RuleInactive}},
	})
}

func TestRuleEngineTelemetryDownFromStart(t *testing.T) {
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
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
	r := newRuleRun(t, testRules(), testkit.BaseTime(t))
	r.stream(StreamConnected)
	r.fps(90, time.Minute)
	// A half-open stream (reliability scenario 8): the watcher notices the silence,
	// redials, connects, and still gets nothing. The outage counts from the
	// first report, across the watcher's state changes.
	runRuleSteps(t, r, []ruleStep{
		{name: "silent", do: func(r *ruleRun) []event.Event { r.stream(StreamSilent); return r.idle(time.Minute) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RulePending, RuleTelemetryDown: RuleInactive}},
		{name: "watcher closes and redials", do: func(r *ruleRun) []event.Event { r.stream(StreamDisconnected); return r.idle(2 * time.Second) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RulePending}},
		{name: "connected, no data yet", do: func(r *ruleRun) []event.Event { r.stream(StreamConnected); return r.idle(58 * time.Second) },
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RuleInactive}},
		{name: "silent again, 2m after the first report", do: func(r *ruleRun) []event.Event { return r.stream(StreamSilent) },
			wantEvents: []string{"telemetry_silent firing"},
			wantReason: []string{"telemetry stream connected but silent, no data for 2m0s"},
			want:       map[string]RuleStatus{RuleTelemetrySilent: RuleFiring, RuleTelemetryDown: RuleInactive}},
		{name: "redial brings data back", do: func(r *ruleRun) []event.Event {
			r.stream(StreamDisconnected)
			r.stream(StreamConnected)
			return r.fps(90, 2*time.Minute)
		}, wantEvents: []string{"telemetry_silent resolved"},
			want: map[string]RuleStatus{RuleTelemetrySilent: RuleInactive, RuleTelemetryDown: RuleInactive}},
	})
}

func TestRuleEngineStaleDataNeitherFiresNorResolves(t *testing.T) {
	t.Run("firing rule survives a disconnect and resolves on fresh data only", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
		r.stream(StreamConnected)
		r.fps(60, 2*time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "recovering, not yet ResolveFor", do: func(r *ruleRun) []event.Event { return r.fps(90, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "disconnected: samples still arriving are stale and ignored", do: func(r *ruleRun) []event.Event {
				r.stream(StreamDisconnected)
				return r.fps(90, 90*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "fresh data for less than ResolveFor", do: func(r *ruleRun) []event.Event {
				if !r.state(RuleFPSLow).Stale {
					t.Error("fps_low not flagged stale during the outage")
				}
				r.stream(StreamConnected)
				return r.fps(90, 55*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
			{name: "fresh data for ResolveFor", do: func(r *ruleRun) []event.Event {
				if r.state(RuleFPSLow).Stale {
					t.Error("fps_low still stale after fresh samples")
				}
				return r.fps(90, 10*time.Second)
			}, wantEvents: []string{"fps_low resolved"}, want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
		})
	})
	t.Run("pending timer restarts after silence", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
		r.stream(StreamConnected)
		r.fps(90, time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "pending", do: func(r *ruleRun) []event.Event { return r.fps(70, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "silent", do: func(r *ruleRun) []event.Event { r.stream(StreamSilent); return r.fps(70, 20*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RuleInactive}},
			{name: "data resumes, under for since then", do: func(r *ruleRun) []event.Event {
				r.stream(StreamConnected)
				return r.fps(70, 59*time.Second)
			}, want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "for since data resumed", do: func(r *ruleRun) []event.Event { return r.fps(70, 2*time.Second) },
				wantEvents: []string{"fps_low firing"}, want: map[string]RuleStatus{RuleFPSLow: RuleFiring}},
		})
	})
	t.Run("gap in samples without a stream report", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
		r.fps(90, time.Minute)
		runRuleSteps(t, r, []ruleStep{
			{name: "pending", do: func(r *ruleRun) []event.Event { return r.fps(70, 50*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "no samples for MaxGap", do: func(r *ruleRun) []event.Event { return r.idle(15 * time.Second) }},
			{name: "the gap is not evidence", do: func(r *ruleRun) []event.Event { return r.fps(70, 30*time.Second) },
				want: map[string]RuleStatus{RuleFPSLow: RulePending}},
			{name: "for after the gap", do: func(r *ruleRun) []event.Event { return r.fps(70, 31*time.Second) },
				wantEvents: []string{"fps_low firing"}},
		})
	})
	t.Run("growth window emptied by an outage", func(t *testing.T) {
		r := newRuleRun(t, testRules(), testkit.BaseTime(t))
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
