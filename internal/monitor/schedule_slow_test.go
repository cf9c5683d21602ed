package monitor

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestSlowSimKeepsTheSchedule is reliability scenario 15 against the real
// simulator, with the monitor's real build and scheduler; the test only
// watches each round's start and end. Every API answer takes 40 s
// (api_latency_ms); durations are divided by a scale so that the test
// takes seconds:
//
//   - "10s request timeout": requests give up after 10 s, rounds every
//     5 min with a 60-s deadline (the defaults);
//   - "answers past the round deadline": requests would wait 50 s, so a
//     round (status, then check 1) would take 80 s; its 60-s deadline cuts
//     it, and the next starts 75 s after the last, not 80 s.
//
// Rounds never overlap, each ends by its deadline, the starts keep the
// interval without drift, and the timeouts count as failures:
// check_instance_up fails with cause timeout and fires after
// failure_threshold (2) rounds.
func TestSlowSimKeepsTheSchedule(t *testing.T) {
	cases := []struct {
		name                                   string
		scale                                  time.Duration
		requestTimeout, roundTimeout, interval time.Duration
	}{
		{"10s request timeout", 400, 10 * time.Second, 60 * time.Second, 5 * time.Minute},
		// Scaled less: the round ends 15 s (scaled) before the next tick,
		// and a loaded machine must not miss that tick.
		{"answers past the round deadline", 100, 50 * time.Second, 60 * time.Second, 75 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var (
				latency        = 40 * time.Second / c.scale
				requestTimeout = c.requestTimeout / c.scale
				roundTimeout   = c.roundTimeout / c.scale
				interval       = c.interval / c.scale
				// slack is how late a round may end or start on a loaded
				// machine (-race, two cores shared).
				slack = roundTimeout / 2
			)
			s := simtest.Start(t, sim.Options{})
			if err := s.PatchFaults(fmt.Appendf(nil, `{"api_latency_ms":%d}`, latency.Milliseconds())); err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			tc := cfg.Targets[0]
			tc.Name = "main"
			tc.APIURL = &url.URL{Scheme: "http", Host: s.Info().API}
			tc.TelemetryURLs = nil
			tc.Schedule.Interval, tc.Schedule.Timeout = interval, roundTimeout
			tc.Checks.RequestTimeout, tc.Checks.TelemetryTimeout = requestTimeout, requestTimeout
			cfg.Targets = []config.Target{tc}

			rounds := &roundLog{}
			rec := &eventRecorder{}
			m := New(Options{
				Store: openTestStore(t, time.Now), Metrics: NewMetrics(prometheus.NewRegistry()), Sink: rec,
				build: func(tc config.Target, m *Monitor) (*target, error) {
					tg, err := buildTarget(tc, m)
					if err == nil {
						rounds.watch(&tg.runner.deps)
					}
					return tg, err
				},
			})
			if err := m.Apply(&cfg); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- m.Run(ctx) }()
			const want = 5
			deadline := time.Now().Add(want*interval + 10*time.Second)
			for rounds.ended() < want && time.Now().Before(deadline) {
				time.Sleep(interval / 10)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			rs := rounds.list()
			if len(rs) < want {
				t.Fatalf("%d rounds ended, want %d: %+v", len(rs), want, rs)
			}
			if n := rounds.maxInFlight(); n != 1 {
				t.Errorf("%d rounds in flight at once, want 1", n)
			}
			first := rs[0].start
			for i, r := range rs {
				took := r.end.Sub(r.start)
				t.Logf("round %d: start +%v, took %v, check_instance_up %s (%s)", i, r.start.Sub(first).Round(time.Millisecond),
					took.Round(time.Millisecond), r.instanceUp.Status, r.instanceUp.Cause)
				if r.end.IsZero() {
					continue // cut short by the test's end
				}
				if took > roundTimeout+slack {
					t.Errorf("round %d took %v, want it ended by its %v deadline", i, took, roundTimeout)
				}
				if r.instanceUp.Status != CheckFail || r.instanceUp.Cause != CauseTimeout {
					t.Errorf("round %d: check_instance_up %s (%s), want fail with cause timeout", i, r.instanceUp.Status, r.instanceUp.Cause)
				}
				// Ticks count from the first round, which runs at once: the
				// i-th starts i intervals after it, whatever the rounds took.
				if off := r.start.Sub(first) - time.Duration(i)*interval; off < -slack || off > slack {
					t.Errorf("round %d started at +%v, want +%v (drift %v)", i, r.start.Sub(first), time.Duration(i)*interval, off)
				}
			}
			if got := rec.list(); len(got) == 0 || got[0] != "check_instance_up firing" {
				t.Errorf("events %v, want check_instance_up firing first", got)
			}
		})
	}
}

// roundLog records each scheduled round's start (its status request, the
// first thing a round does) and end (its checks' return).
type roundLog struct {
	mu        sync.Mutex
	rounds    []slowRound
	inFlight  int
	maxFlight int
}

type slowRound struct {
	start, end time.Time
	instanceUp CheckResult
}

// watch wraps a runner's dependencies to record the rounds.
func (l *roundLog) watch(deps *runnerDeps) {
	status, checks := deps.status, deps.checks
	deps.status = func(ctx context.Context) (*spacetime.Status, error) {
		l.mu.Lock()
		l.inFlight++
		l.maxFlight = max(l.maxFlight, l.inFlight)
		l.rounds = append(l.rounds, slowRound{start: time.Now()})
		l.mu.Unlock()
		return status(ctx)
	}
	deps.checks = func(ctx context.Context) []CheckResult {
		results := checks(ctx)
		l.mu.Lock()
		defer l.mu.Unlock()
		r := &l.rounds[len(l.rounds)-1]
		r.end = time.Now()
		l.inFlight--
		for _, res := range results {
			if res.Check == config.CheckInstanceUp {
				r.instanceUp = res
			}
		}
		return results
	}
}

func (l *roundLog) maxInFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.maxFlight
}

func (l *roundLog) ended() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.rounds {
		if !r.end.IsZero() {
			n++
		}
	}
	return n
}

func (l *roundLog) list() []slowRound {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slowRound(nil), l.rounds...)
}
