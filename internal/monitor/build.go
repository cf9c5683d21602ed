package monitor

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// ruleSnapshotKey is the rule-state key under which a target's threshold
// rules are kept, so that a rule firing before a restart is still firing
// after it (and not announced again).
const ruleSnapshotKey = "rules"

// RuleConfigFrom builds the rule engine's config from a target's
// thresholds and telemetry settings and the config's rule tunables: every
// value from internal/config. A rule resolves after its value stayed
// healthy as long as it had to stay bad to fire: the same patience both
// ways.
func RuleConfigFrom(t config.Target) RuleConfig {
	fps, mem := t.Thresholds.FPS, t.Thresholds.Memory
	rc := RuleConfig{
		FPSMin: fps.Min, FPSMax: fps.Max, FPSCriticalMin: fps.CriticalMin, FPSHysteresis: fps.Hysteresis, FPSFor: fps.For,
		MemoryMaxMB: mem.MaxMB, MemoryHysteresisMB: mem.HysteresisMB, MemoryFor: mem.For,
		GrowthMBPerMin: mem.GrowthMBPerMin, GrowthHysteresisMBPerMin: config.GrowthHysteresisMBPerMin, GrowthWindow: mem.GrowthWindow,
		TelemetryDownFor:   t.Telemetry.DownFor,
		MemoryPollInterval: t.Telemetry.PerformancePollInterval,
		ResolveFor:         fps.For,
		SmoothingWindow:    config.RuleSmoothingWindow,
		MaxGap:             config.RuleMaxGap,
	}
	if rc.GrowthHysteresisMBPerMin >= rc.GrowthMBPerMin {
		rc.GrowthHysteresisMBPerMin = rc.GrowthMBPerMin / 5
	}
	return rc
}

// buildTarget turns a target's config into its runtime parts: the checks'
// client, the telemetry watcher (which doubles as the probe of checks 4 and
// 10, so that the instance sees one telemetry connection), and the runner
// of the scheduled rounds.
func buildTarget(tc config.Target, m *Monitor) (*target, error) {
	log := m.log.With(zap.String("target", tc.Name))
	rules := RuleConfigFrom(tc)
	if err := rules.Validate(); err != nil {
		return nil, fmt.Errorf("thresholds: %w", err)
	}
	var restore []byte
	if states, err := m.opts.Store.RuleStates(tc.Name); err == nil {
		restore = states[ruleSnapshotKey]
	} else {
		log.Warn("cannot read saved rule state; rules start afresh", zap.Error(err))
	}

	var runner *targetRunner
	var probe *apiProbe
	if spacing := probeSpacing(&tc); spacing > 0 {
		probe = newAPIProbe(spacing, log)
	}
	var watcher *Watcher
	var watchErr error
	rec := newRecorder(tc, m.opts.RecorderSettle)
	// ct is set once NewCheckTarget returns; the watcher polls through it
	// only once it runs, later.
	var ct *CheckTarget
	pollMemory := func(ctx context.Context) (float64, string) {
		ctx, cancel := context.WithTimeout(ctx, tc.Checks.RequestTimeout)
		defer cancel()
		return performanceMemoryMB(ctx, ct)
	}
	ct, err := NewCheckTarget(tc, TargetOptions{
		Now: m.opts.Now,
		// Every request the daemon makes counts in the reviews' own figures
		// (requests, errors, 401s, 429s) where the instance reports none.
		Observe: func(o spacetime.Observation) {
			if o.Code == 401 && !o.Authenticated {
				// A deliberate request without a token (check 6's): not an
				// authentication failure anyone should count.
				return
			}
			rec.ObserveHTTP(m.opts.Now(), o.Code, o.Err != nil || o.Code >= 500)
		},
		Telemetry: func(opts spacetime.StreamOptions) TelemetryProbe {
			wo := WatcherOptionsFrom(tc)
			wo.Stream = opts
			wo.RestoreRules = restore
			wo.Metrics = m.opts.Metrics
			wo.Sink = m.opts.Sink
			wo.Logger = m.log // the watcher names its target itself
			wo.Now = m.opts.Now
			wo.Health = m.opts.Health
			wo.PollMemory = pollMemory
			wo.TickInterval = watcherTick(m.opts.Wait)
			wo.OnStream = func(s StreamState) {
				if probe != nil {
					probe.streamChanged(s)
				}
			}
			wo.OnInstanceEvent = func(ev InstanceEvent) {
				// A vr_initialized after the greeting means the instance
				// restarted: run a round now rather than at the next tick.
				switch ev.Kind {
				case spacetime.KindVRInitialized:
					rec.ObserveVR(m.opts.Now(), false)
				case spacetime.KindDesktopFallback:
					rec.ObserveVR(m.opts.Now(), true)
				}
				if ev.Kind == spacetime.KindVRInitialized && !ev.Greeting {
					m.kick(tc.Name)
				}
			}
			watcher, watchErr = NewWatcher(wo)
			if watchErr != nil {
				return nil
			}
			return watcher
		},
	})
	if err != nil {
		return nil, err
	}
	if watchErr != nil {
		ct.Close()
		return nil, fmt.Errorf("telemetry: %w", watchErr)
	}
	runner = newTargetRunner(tc.Name, settingsFromConfig(&tc), runnerDeps{
		checks: func(ctx context.Context) []CheckResult { return RunChecks(ctx, ct, ModeScheduled, nil) },
		status: ct.Client.Status,
		instanceUp: func(ctx context.Context) CheckResult {
			return RunChecks(ctx, ct, ModeScheduled, []config.CheckName{config.CheckInstanceUp})[0]
		},
		peerCert: ct.Client.PeerCert,
	}, m.opts.Metrics, m.opts.Store, m.opts.Sink, log, m.opts.Now)
	runner.recorder = rec
	t := &target{cfg: tc, runner: runner, recorder: rec}
	if watcher != nil {
		t.watcher, t.probe = watcher, probe
		runner.saveRules = func() {
			if snap := watcher.RuleSnapshot(); snap != nil {
				if err := m.opts.Store.PutRuleState(tc.Name, ruleSnapshotKey, snap); err != nil {
					log.Warn("cannot save rule state", zap.Error(err))
				}
			}
		}
	}
	t.closer = func() {
		if runner.saveRules != nil {
			runner.saveRules()
		}
		ct.Close()
	}
	return t, nil
}

// minWatcherTick bounds how often a watcher ticks on a fast clock.
const minWatcherTick = 10 * time.Millisecond

// watcherTick is how often a watcher judges its rules and starts a due
// /performance poll, in wall time: a second of the monitor's clock, so
// that on a scaled clock (the demo's) memory is polled as often in story
// time as on the wall clock; at least minWatcherTick.
func watcherTick(wait func(time.Duration) time.Duration) time.Duration {
	return max(wait(config.WatcherTickInterval), minWatcherTick)
}
