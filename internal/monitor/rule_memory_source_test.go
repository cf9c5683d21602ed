package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// pollEvery plays FPS-only samples for d, with a /performance reading of mb
// every interval, as the watcher's fallback delivers them.
func (r *ruleRun) pollEvery(interval, d time.Duration, mb float64) []event.Event {
	n0 := len(r.events)
	for end := r.now.Add(d); r.now.Before(end); {
		r.fpsOnly(90, interval)
		r.collect(r.e.ObservePerformance(r.now, mb, r.buf[:0]))
	}
	return r.events[n0:]
}

// TestMemoryUnwatchedWithoutASource: a stream without memory and nothing
// polled leaves the memory rules unknown, and memory_unwatched fires once,
// MemoryFor after data began, worded by the table; memory back resolves it.
func TestMemoryUnwatchedWithoutASource(t *testing.T) {
	rules := testRules()
	rules.MemoryPollInterval = 0 // telemetry.performance_poll_interval: 0, the fallback off
	r := newRuleRun(t, rules, testkit.BaseTime(t))
	r.stream(StreamConnected)
	evs := r.fpsOnly(90, 5*time.Minute)
	if got := eventNames(evs); len(got) != 1 || got[0] != "memory_unwatched firing" {
		t.Fatalf("events %q, want one memory_unwatched firing", got)
	}
	ev := evs[0]
	if at := ev.At.Sub(r.start); at < time.Minute || at > time.Minute+time.Second {
		t.Errorf("fired after %s, want MemoryFor (1m)", at)
	}
	if ev.Cause != CauseNoMemorySource || ev.Severity != SeverityWarning || ev.Kind != "rule" {
		t.Errorf("event %+v: want cause %s, a warning of kind rule", ev, CauseNoMemorySource)
	}
	if ev.Observed != "no memory data for 60 s" || ev.Expected != "memory data within 60 s" {
		t.Errorf("observed %q expected %q", ev.Observed, ev.Expected)
	}
	if want := "memory unwatched for 1m0s: the stream carries none and /performance is not polled; memory_high and memory_growth cannot judge"; ev.Reason != want {
		t.Errorf("reason %q\nwant   %q", ev.Reason, want)
	}
	for _, rule := range []string{RuleMemoryHigh, RuleMemoryGrowth} {
		if s := r.state(rule); s.State != RuleUnknown || s.HasValue || !s.Since.IsZero() || !strings.Contains(s.Reason, "not polled") {
			t.Errorf("%s state %+v: want unknown, no value, no since, and why", rule, s)
		}
	}

	evs = r.memory(300, 2*time.Minute)
	if got := eventNames(evs); len(got) != 1 || got[0] != "memory_unwatched resolved" {
		t.Fatalf("events %q, want memory_unwatched resolved", got)
	}
	if want := "memory reported again, by telemetry, for 1m0s"; evs[0].Reason != want || evs[0].Observed != "memory data flowing" {
		t.Errorf("resolved: reason %q observed %q", evs[0].Reason, evs[0].Observed)
	}
	if s := r.state(RuleMemoryHigh); s.State != RuleInactive || s.Source != "telemetry" || s.Value != 300 {
		t.Errorf("memory_high state %+v: want inactive on telemetry's 300 MB", s)
	}
}

// TestPolledMemoryKeepsTheMemoryRulesWorking: readings from /performance
// every 30 s judge memory_high as the stream's would, its events say where
// the memory came from, and a telemetry outage does not interrupt them.
func TestPolledMemoryKeepsTheMemoryRulesWorking(t *testing.T) {
	cfg := testRules()
	cfg.MemoryPollInterval = 30 * time.Second
	r := newRuleRun(t, cfg, testkit.BaseTime(t))
	r.stream(StreamConnected)
	r.pollEvery(30*time.Second, 2*time.Minute, 300)
	if s := r.state(RuleMemoryHigh); s.State != RuleInactive || s.Source != "performance" || s.Stale {
		t.Fatalf("memory_high state %+v: want inactive, from performance", s)
	}
	evs := r.pollEvery(30*time.Second, 2*time.Minute, 450)
	if got := eventNames(evs); len(got) != 1 || got[0] != "memory_high firing" {
		t.Fatalf("events %q, want memory_high firing (and no memory_unwatched)", got)
	}
	if evs[0].Source != "performance" || evs[0].Observed != "450.0 MB" || evs[0].Expected != "at most 400 MB" {
		t.Errorf("event %+v: want source performance, 450.0 MB against at most 400 MB", evs[0])
	}

	// The stream goes down; the polls go on, and keep judging.
	r.stream(StreamDisconnected)
	n0 := len(r.events)
	for range 5 {
		r.idle(30 * time.Second)
		r.collect(r.e.ObservePerformance(r.now, 450, r.buf[:0]))
		if s := r.state(RuleMemoryHigh); s.State != RuleFiring || s.Stale {
			t.Fatalf("memory_high %+v during the outage: want firing on fresh polled data", s)
		}
	}
	if got := eventNames(r.events[n0:]); len(got) != 1 || got[0] != "telemetry_down firing" {
		t.Errorf("events during the outage %q, want telemetry_down firing only", got)
	}
	for range 4 {
		r.idle(30 * time.Second)
		r.collect(r.e.ObservePerformance(r.now, 300, r.buf[:0]))
	}
	if got := eventNames(r.events[n0+1:]); len(got) != 1 || got[0] != "memory_high resolved" || r.events[n0+1].Source != "performance" {
		t.Errorf("events %q, want memory_high resolved on polled memory", got)
	}
}

// TestTelemetryMemoryComesFirst: while the stream carries memory, a late
// /performance reading changes nothing.
func TestTelemetryMemoryComesFirst(t *testing.T) {
	cfg := testRules()
	cfg.MemoryPollInterval = 30 * time.Second
	r := newRuleRun(t, cfg, testkit.BaseTime(t))
	r.stream(StreamConnected)
	for range 6 {
		r.memory(300, 30*time.Second)
		r.collect(r.e.ObservePerformance(r.now, 900, r.buf[:0]))
	}
	if len(r.events) != 0 {
		t.Errorf("events %q, want none", eventNames(r.events))
	}
	if s := r.state(RuleMemoryHigh); s.State != RuleInactive || s.Source != "telemetry" || s.Value != 300 {
		t.Errorf("memory_high state %+v: want inactive on telemetry's 300 MB", s)
	}
}

// TestMemoryUnwatchedSaysWhyPollingFails: the reason of a failed poll
// reaches memory_unwatched and the memory rules' status.
func TestMemoryUnwatchedSaysWhyPollingFails(t *testing.T) {
	cfg := testRules()
	cfg.MemoryPollInterval = 30 * time.Second
	r := newRuleRun(t, cfg, testkit.BaseTime(t))
	r.stream(StreamConnected)
	why := "the stream carries none and /performance refused the token: the configured /performance token was refused"
	r.fpsOnly(90, 20*time.Second)
	r.e.PerformanceFailed(why)
	evs := r.fpsOnly(90, 2*time.Minute)
	if got := eventNames(evs); len(got) != 1 || got[0] != "memory_unwatched firing" || !strings.Contains(evs[0].Reason, why) {
		t.Fatalf("events %q (%+v), want memory_unwatched firing naming %q", got, evs, why)
	}
	if s := r.state(RuleMemoryHigh); s.State != RuleUnknown || s.Reason != "no memory: "+why {
		t.Errorf("memory_high state %+v: want unknown with the poll's reason", s)
	}
}
