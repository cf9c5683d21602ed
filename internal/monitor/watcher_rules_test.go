package monitor

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestWatcherFPSRuleFiresAndResolves: an FPS drop to 60 fires fps_low
// (and not fps_critical) through the sink and the gauge, and recovery
// resolves it once.
func TestWatcherFPSRuleFiresAndResolves(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })
	firing := func() float64 {
		return env.must(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSLow, "severity", "warning")
	}

	patchSim(t, s, `{"fps":60}`)
	ev := env.sink.waitEvent(t, RuleFPSLow, event.StateFiring)
	if math.Abs(ev.Value-60) > 0.5 || ev.Threshold != 85 || ev.Severity != SeverityWarning {
		t.Errorf("firing event %+v, want observed 60 below 85, warning", ev)
	}
	eventually(t, "fps_low gauge 1", func() bool { return firing() == 1 })
	if st := ruleState(env.w.Status(), RuleFPSLow); st.State != RuleFiring {
		t.Errorf("Status rule fps_low = %+v, want firing", st)
	}

	patchSim(t, s, `{"fps":90}`)
	env.sink.waitEvent(t, RuleFPSLow, event.StateResolved)
	eventually(t, "fps_low gauge 0", func() bool { return firing() == 0 })
	if n := len(env.sink.find(RuleFPSLow, "")); n != 2 {
		t.Errorf("%d fps_low events, want exactly 1 firing + 1 resolved: %v", n, env.sink.all())
	}
	if evs := env.sink.find(RuleFPSCritical, ""); len(evs) > 0 {
		t.Errorf("fps_critical events at 60 FPS (critical below 45): %v", evs)
	}
}

func ruleState(st WatcherStatus, rule string) RuleState {
	for _, r := range st.Rules {
		if r.Rule == rule {
			return r
		}
	}
	return RuleState{}
}

// TestWatcherInstanceEvents: the VR announcement every new client hears is
// flagged as a greeting; a restart's announcement on a live connection is
// not (the lead's restart detection relies on this).
func TestWatcherInstanceEvents(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	var mu sync.Mutex
	var got []InstanceEvent
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.OnInstanceEvent = func(ev InstanceEvent) {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	env.start(t)
	eventually(t, "the greeting", func() bool { return count() == 1 })
	s.Restart("2.0.0")
	eventually(t, "the restart's announcement", func() bool { return count() == 2 })
	mu.Lock()
	defer mu.Unlock()
	if got[0].Kind != spacetime.KindVRInitialized || !got[0].Greeting {
		t.Errorf("first event %+v, want a vr_initialized greeting", got[0])
	}
	if got[1].Kind != spacetime.KindVRInitialized || got[1].Greeting || got[1].Received.IsZero() {
		t.Errorf("second event %+v, want a vr_initialized that is not a greeting", got[1])
	}
}

// TestWatcherDesktopFallback: the warning of an instance that failed to
// start VR reaches OnInstanceEvent as desktop_fallback.
func TestWatcherDesktopFallback(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, `{"vr_mode":"desktop_fallback"}`)
	evs := make(chan InstanceEvent, 16)
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.OnInstanceEvent = func(ev InstanceEvent) {
			select {
			case evs <- ev:
			default:
			}
		}
	})
	env.start(t)
	select {
	case ev := <-evs:
		if ev.Kind != spacetime.KindDesktopFallback || !ev.Greeting || !strings.Contains(ev.Message, "desktop") {
			t.Errorf("event %+v, want a desktop_fallback greeting", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no instance event")
	}
}

// TestWatcherUpdateRules: a reload while running judges the next frames
// against the new thresholds, drops the series of a disabled rule, and a
// bad config changes nothing.
func TestWatcherUpdateRules(t *testing.T) {
	t.Parallel()
	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, nil)
	env.start(t)
	eventually(t, "connected", func() bool { return env.connected(t) == 1 })

	bad := fastRules()
	bad.FPSMax = 80
	if err := env.w.UpdateRules(bad); err == nil || !strings.Contains(err.Error(), "FPSMax") {
		t.Errorf("UpdateRules(FPSMax below FPSMin) = %v, want an error naming FPSMax", err)
	}
	slow := fastRules()
	slow.MaxGap = 10 * time.Millisecond
	if err := env.w.UpdateRules(slow); err == nil || !strings.Contains(err.Error(), "TickInterval") {
		t.Errorf("UpdateRules(MaxGap below the tick) = %v, want an error naming TickInterval", err)
	}

	cfg := fastRules()
	cfg.FPSMin, cfg.FPSMax = 92, 0 // 90 FPS is now low; fps_high is off
	if err := env.w.UpdateRules(cfg); err != nil {
		t.Fatalf("UpdateRules: %v", err)
	}
	ev := env.sink.waitEvent(t, RuleFPSLow, event.StateFiring)
	if ev.Threshold != 92 {
		t.Errorf("fps_low fired with threshold %v, want 92", ev.Threshold)
	}
	eventually(t, "fps_high series gone", func() bool {
		_, ok := env.value(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSHigh)
		return !ok
	})
	if st := ruleState(env.w.Status(), RuleFPSHigh); st.Rule != "" {
		t.Errorf("Status lists disabled rule fps_high: %+v", st)
	}
	if len(env.w.RuleSnapshot()) == 0 || !strings.Contains(string(env.w.RuleSnapshot()), RuleFPSLow) {
		t.Errorf("RuleSnapshot = %s, want fps_low firing", env.w.RuleSnapshot())
	}
}

// TestWatcherRestoresRules: a rule firing before a restart stays firing
// (gauge 1), is re-announced once to the sink with its original start (an
// alert manager killed before it wrote the first event down learns of it;
// one that did changes nothing), then resolves on fresh healthy data.
func TestWatcherRestoresRules(t *testing.T) {
	t.Parallel()
	e, err := NewRuleEngine(fastRules())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e.SetStream(StreamConnected, now, nil)
	for i := range 40 {
		e.Observe(Sample{At: now.Add(time.Duration(i) * 20 * time.Millisecond), FPS: 60, HasFPS: true}, nil)
	}
	snap, err := e.Snapshot()
	if err != nil || !strings.Contains(string(snap), RuleFPSLow) {
		t.Fatalf("Snapshot = %s, %v; want fps_low firing", snap, err)
	}

	s := startWatchSim(t, "")
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) { o.RestoreRules = snap })
	env.start(t)
	gauge := func() float64 {
		v, _ := env.value(t, "spacetime_rule_firing", "target", watchTarget, "rule", RuleFPSLow, "severity", "warning")
		return v
	}
	// Resolving takes 200ms of healthy data: the gauge is seen at 1 first.
	eventually(t, "the restored fps_low gauge at 1", func() bool { return gauge() == 1 })
	env.sink.waitEvent(t, RuleFPSLow, event.StateResolved)
	evs := env.sink.find(RuleFPSLow, event.StateFiring)
	if len(evs) != 1 || !evs[0].Since.Equal(now) || evs[0].Target != watchTarget {
		t.Errorf("firing events after the restore: %v, want one re-announcement on %s since the original start %v", evs, watchTarget, now)
	}
	if g := gauge(); g != 0 {
		t.Errorf("fps_low gauge = %v after resolving, want 0", g)
	}
}
