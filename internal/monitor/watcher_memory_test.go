package monitor

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// memoryFallbackEnv runs a watcher on a godot-profile sim whose stream is
// binary (FPS only, no memory) at 450 MB, polling /performance every
// 100 ms with perfToken. MemoryFor is 1 s: the first poll, after 500 ms,
// has answered before memory_unwatched could fire.
func memoryFallbackEnv(t *testing.T, perfToken func(sim.Info) string) (*watchEnv, *atomic.Int64) {
	t.Helper()
	s := startWatchSim(t, `{"telemetry_encoding":"binary","memory_mb":450}`, func(o *sim.Options) { o.Profile = sim.ProfileGodot })
	var polls atomic.Int64
	ct := checkTargetFor(t, s, simTarget{perfToken: perfToken(s.Info()), noTelemetry: true})
	env := newWatchEnv(t, []string{simURL(s)}, func(o *WatcherOptions) {
		o.Rules.MemoryPollInterval = 100 * time.Millisecond
		o.Rules.MemoryFor = time.Second
		o.PollMemory = func(ctx context.Context) (float64, string) {
			defer polls.Add(1)
			return performanceMemoryMB(ctx, ct)
		}
	})
	env.start(t)
	return env, &polls
}

// TestWatcherPollsMemoryWhenTheStreamCarriesNone: with the binary
// encoding, memory comes from /performance, and memory_high fires on it,
// saying so; memory is never unwatched.
func TestWatcherPollsMemoryWhenTheStreamCarriesNone(t *testing.T) {
	t.Parallel()
	env, _ := memoryFallbackEnv(t, func(i sim.Info) string { return i.PerformanceToken })
	ev := env.sink.waitEvent(t, RuleMemoryHigh, event.StateFiring)
	if ev.Source != "performance" || ev.Observed != "450.0 MB" {
		t.Errorf("memory_high firing %+v: want 450.0 MB from performance", ev)
	}
	if got := env.must(t, "spacetime_static_memory_bytes", "target", watchTarget); got != 450*mebibyte {
		t.Errorf("spacetime_static_memory_bytes = %v, want 450 MiB", got)
	}
	if got := env.must(t, "spacetime_rule_state", "target", watchTarget, "rule", RuleMemoryHigh, "state", "firing"); got != 1 {
		t.Errorf("spacetime_rule_state{memory_high,firing} = %v, want 1", got)
	}
	if _, ok := env.value(t, "spacetime_memory_bytes", "target", watchTarget); ok {
		t.Error("spacetime_memory_bytes exported: the stream carries no memory")
	}
	if evs := env.sink.find(RuleMemoryUnwatched, ""); len(evs) != 0 {
		t.Errorf("memory_unwatched events %v while /performance reports memory", evs)
	}
	if s := ruleState(env.w.Status(), RuleMemoryHigh); s.Source != "performance" {
		t.Errorf("status memory_high %+v: want source performance", s)
	}
}

// TestWatcherMemoryUnwatched: when /performance refuses its token too, the
// memory rules are unknown (status and spacetime_rule_state say why), and
// memory_unwatched fires once.
func TestWatcherMemoryUnwatched(t *testing.T) {
	t.Parallel()
	const wrong = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	env, polls := memoryFallbackEnv(t, func(sim.Info) string { return wrong })
	ev := env.sink.waitEvent(t, RuleMemoryUnwatched, event.StateFiring)
	if ev.Cause != CauseNoMemorySource || !strings.Contains(ev.Reason, "refused the token") {
		t.Errorf("memory_unwatched firing %+v: want cause %s and the refusal named", ev, CauseNoMemorySource)
	}
	if strings.Contains(ev.Reason, wrong) {
		t.Error("the reason carries the /performance token")
	}
	eventually(t, "memory_high unknown in spacetime_rule_state", func() bool {
		v, ok := env.value(t, "spacetime_rule_state", "target", watchTarget, "rule", RuleMemoryHigh, "state", "unknown")
		return ok && v == 1
	})
	st := ruleState(env.w.Status(), RuleMemoryHigh)
	if st.State != RuleUnknown || !strings.Contains(st.Reason, "refused the token") {
		t.Errorf("status memory_high %+v: want unknown, saying why", st)
	}
	data, err := json.Marshal(st)
	if err != nil || strings.Contains(string(data), `"since"`) || !strings.Contains(string(data), `"state":"unknown"`) {
		t.Errorf("status JSON %s (%v): want state unknown and no zero since", data, err)
	}
	// Polls go on failing for more than a `for`; the warning is not raised again.
	n := polls.Load()
	eventually(t, "15 more failed polls", func() bool { return polls.Load() >= n+15 })
	if evs := env.sink.find(RuleMemoryUnwatched, ""); len(evs) != 1 {
		t.Errorf("memory_unwatched events %v, want exactly one firing", evs)
	}
}
