package monitor

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// probeRig is a target runner whose instance_up is a switch, the probe
// loop running against it, and a record of what the loop called. It lives
// in a synctest bubble: time.Now is the bubble's clock.
type probeRig struct {
	probe  *apiProbe
	runner *targetRunner
	events *eventRecorder
	apiUp  atomic.Bool

	mu     sync.Mutex
	probes []time.Time // when instance_up was probed
	rounds []time.Time // when a full round was asked for
}

// startProbeRig runs the loop with failure_threshold 2 and spacing 10s
// until the test ends.
func startProbeRig(t *testing.T) *probeRig {
	t.Helper()
	g := &probeRig{events: &eventRecorder{}}
	g.apiUp.Store(true)
	deps := runnerDeps{instanceUp: func(context.Context) CheckResult {
		g.mu.Lock()
		g.probes = append(g.probes, time.Now())
		g.mu.Unlock()
		if g.apiUp.Load() {
			return result(config.CheckInstanceUp, CheckPass)
		}
		return result(config.CheckInstanceUp, CheckFail)
	}}
	g.runner = newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1, timeout: 5 * time.Second}, deps,
		NewMetrics(prometheus.NewRegistry()), openTestStore(t, time.Now), g.events, zap.NewNop(), time.Now)
	g.probe = newAPIProbe(10*time.Second, zap.NewNop())
	ctx, cancel := context.WithCancel(t.Context())
	g.probe.start(ctx, g.runner, func() {
		g.mu.Lock()
		g.rounds = append(g.rounds, time.Now())
		g.mu.Unlock()
		// The round finds the instance answering again.
		g.runner.apply([]CheckResult{result(config.CheckInstanceUp, CheckPass)}, time.Now())
	})
	t.Cleanup(func() { cancel(); g.probe.stop() })
	return g
}

// stream reports a stream change and lets the loop act on it.
func (g *probeRig) stream(s StreamState) {
	g.probe.streamChanged(s)
	synctest.Wait()
}

// probing reports whether the probe's goroutine runs: only while a
// change asks for probes.
func (g *probeRig) probing() bool {
	g.probe.mu.Lock()
	defer g.probe.mu.Unlock()
	return g.probe.running
}

func (g *probeRig) calls() (probes, rounds []time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.probes), slices.Clone(g.rounds)
}

// sinceStart renders times as offsets from start, for messages.
func sinceStart(start time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(start)
	}
	return out
}

// TestAPIProbeCrash: the stream drops with the API: instance_up is probed
// at once and again one spacing later, which makes check_instance_up fire
// 10s after the drop (not at the next scheduled round); then nothing more
// while the outage lasts. When data flows again, one full round runs at
// once and resolves it.
func TestAPIProbeCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := startProbeRig(t)
		start := time.Now()
		g.apiUp.Store(false)
		g.stream(StreamDisconnected)
		time.Sleep(5 * time.Minute)
		probes, _ := g.calls()
		if got, want := sinceStart(start, probes), []time.Duration{0, 10 * time.Second}; !slices.Equal(got, want) {
			t.Fatalf("probes at %v, want %v", got, want)
		}
		if got := g.events.list(); !slices.Equal(got, []string{"check_instance_up firing"}) {
			t.Fatalf("events %v, want check_instance_up firing", got)
		}
		g.events.mu.Lock()
		firedAt := g.events.events[0].At
		g.events.mu.Unlock()
		if at := firedAt.Sub(start); at != 10*time.Second {
			t.Errorf("check_instance_up fired %v after the drop, want 10s", at)
		}
		if g.probing() {
			t.Error("the probe's goroutine still runs once check_instance_up decided")
		}

		g.apiUp.Store(true)
		back := time.Now()
		g.stream(StreamConnected)
		time.Sleep(time.Minute)
		probes, rounds := g.calls()
		if got := sinceStart(back, rounds); !slices.Equal(got, []time.Duration{0}) {
			t.Errorf("rounds at %v after the stream came back, want one at once", got)
		}
		if len(probes) != 2 {
			t.Errorf("%d probes, want no more once the stream is back", len(probes))
		}
		if got := g.events.list(); !slices.Equal(got, []string{"check_instance_up firing", "check_instance_up resolved"}) {
			t.Errorf("events %v, want check_instance_up firing, then resolved", got)
		}
	})
}

// TestAPIProbeStreamOnly: the stream drops but the API answers: one probe
// says so, and nothing else happens (telemetry_down is the cause, alone).
func TestAPIProbeStreamOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := startProbeRig(t)
		if g.probing() {
			t.Error("the probe's goroutine runs before any stream change")
		}
		g.stream(StreamSilent)
		time.Sleep(5 * time.Minute)
		if g.probing() {
			t.Error("the probe's goroutine still runs once the API answered")
		}
		g.stream(StreamConnected)
		time.Sleep(time.Minute)
		probes, rounds := g.calls()
		if len(probes) != 1 || len(rounds) != 0 || len(g.events.list()) != 0 {
			t.Errorf("%d probes, %d rounds, events %v; want 1 probe and nothing else", len(probes), len(rounds), g.events.list())
		}
	})
}

// TestAPIProbeFlapping: a stream that drops every second for a minute,
// with the API up, gets probes at most one spacing apart: it cannot make
// the daemon hammer the instance.
func TestAPIProbeFlapping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := startProbeRig(t)
		start := time.Now()
		for range 60 {
			g.stream(StreamDisconnected)
			time.Sleep(500 * time.Millisecond)
			g.stream(StreamConnected)
			time.Sleep(500 * time.Millisecond)
		}
		probes, _ := g.calls()
		if len(probes) < 2 || len(probes) > 7 {
			t.Errorf("%d probes in a minute of flapping (at %v), want 2 to 7 at 10s spacing", len(probes), sinceStart(start, probes))
		}
		for i := 1; i < len(probes); i++ {
			if gap := probes[i].Sub(probes[i-1]); gap < 10*time.Second {
				t.Errorf("probes %d and %d %v apart, want at least the 10s spacing", i-1, i, gap)
			}
		}
	})
}

// TestProbeSpacing: failure_threshold probes fit in the first half of
// telemetry.down_for, bounded by the schedule and a floor; no telemetry
// rule, no telemetry stream: no probe.
func TestProbeSpacing(t *testing.T) {
	cases := []struct {
		name string
		edit func(*config.Target)
		want time.Duration
	}{
		{"defaults: 2 probes in the first minute of 2m", func(*config.Target) {}, 30 * time.Second},
		{"failure_threshold 3", func(t *config.Target) { t.Checks.FailureThreshold = 3 }, 20 * time.Second},
		{"never slower than the schedule", func(t *config.Target) { t.Schedule.Interval = 10 * time.Second }, 10 * time.Second},
		{"a floor for tiny settings", func(t *config.Target) { t.Telemetry.DownFor = time.Second; t.Checks.FailureThreshold = 10 }, minProbeSpacing},
		{"down_for 0: nothing to be ahead of", func(t *config.Target) { t.Telemetry.DownFor = 0 }, 0},
		{"no telemetry stream", func(t *config.Target) { t.TelemetryURLs = nil }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := config.Default().Targets[0]
			tc.edit(&target)
			if got := probeSpacing(&target); got != tc.want {
				t.Errorf("probeSpacing = %v, want %v", got, tc.want)
			}
		})
	}
}
