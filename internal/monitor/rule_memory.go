package monitor

import (
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// This file is where the memory rules get their memory from, and what they
// say when they get none.
//
//   - Two sources. The telemetry stream's memory_usage_mb comes first. When
//     the stream carries none (the binary encoding sends FPS only), the
//     watcher polls /performance every MemoryPollInterval and hands the
//     readings to ObservePerformance; they are judged by the same rules,
//     with a gap allowance of MemoryPollInterval+MaxGap instead of MaxGap.
//     A change of source empties the windows: two sources need not measure
//     the same thing, and a slope across them would be an artefact.
//   - Polled memory does not depend on the stream: a telemetry outage
//     leaves it judged, and the memory rules' events say where their memory
//     came from (event.Event.Source), so that inhibition by telemetry_down
//     applies only to memory that came from the stream.
//   - No source. Memory never goes silently unwatched: while no source has
//     reported memory within its allowance, memory_high and memory_growth
//     are RuleUnknown in States and spacetime_rule_state, and once that has
//     held for MemoryFor while telemetry data flows, memory_unwatched fires
//     (once). During a telemetry outage telemetry_down speaks for both.

// MemorySource says where the memory the rules judge came from.
type MemorySource uint8

// Memory sources.
const (
	// MemoryFromNone: no memory judged yet.
	MemoryFromNone MemorySource = iota
	// MemoryFromTelemetry: the stream's memory_usage_mb.
	MemoryFromTelemetry
	// MemoryFromPerformance: /performance's memory.static_memory_usage.
	MemoryFromPerformance
)

// String returns "", "telemetry" or "performance".
func (s MemorySource) String() string {
	switch s {
	case MemoryFromTelemetry:
		return "telemetry"
	case MemoryFromPerformance:
		return "performance"
	}
	return ""
}

// ObservePerformance judges memory (MiB) read from /performance at time at,
// whatever the stream's state. It is ignored while the stream reports
// memory itself.
func (e *RuleEngine) ObservePerformance(at time.Time, memoryMB float64, out []event.Event) []event.Event {
	if at.IsZero() {
		return out
	}
	e.advance(at)
	if e.reconcile {
		out = e.reconcileDisabled(at, out)
	}
	if validValue(memoryMB) {
		e.memWhy = ""
		out = e.observeMemory(memoryMB, MemoryFromPerformance, at, out)
	}
	return e.evalMemory(at, out)
}

// PerformanceFailed records why the last /performance poll gave no memory,
// for memory_unwatched's reason and the memory rules' status.
func (e *RuleEngine) PerformanceFailed(why string) { e.memWhy = why }

// memLimit is how long a memory sample from src stays current.
func (e *RuleEngine) memLimit(src MemorySource) time.Duration {
	if src == MemoryFromPerformance {
		return e.cfg.MemoryPollInterval + e.cfg.MaxGap
	}
	return e.cfg.MaxGap
}

// memKnown reports whether a source reported memory within its allowance.
func (e *RuleEngine) memKnown() bool {
	return e.memSeen && e.memEpoch == e.epoch && e.clock-e.memAt < e.memLimit(e.memSrc)
}

// memoryWhy says why no source reports memory.
func (e *RuleEngine) memoryWhy() string {
	switch {
	case e.memWhy != "":
		return e.memWhy
	case e.cfg.MemoryPollInterval <= 0:
		return "the stream carries none and /performance is not polled"
	}
	return "the stream carries none and /performance has not reported any yet"
}

func (e *RuleEngine) observeMemory(v float64, src MemorySource, now time.Time, out []event.Event) []event.Event {
	known := e.memKnown()
	if src == MemoryFromPerformance && e.memSrc == MemoryFromTelemetry && known {
		return out // the stream carries memory: it comes first
	}
	if e.memSeen && (src != e.memSrc || e.memEpoch != e.epoch || e.clock-e.memAt >= e.memLimit(src)) {
		e.mem.reset()
		e.growth.reset()
		e.interrupt(ruleMemoryHigh, now)
		e.interrupt(ruleMemoryGrowth, now)
	}
	if !known {
		e.memBackAt = e.clock
	}
	e.memSrc = src
	e.memSeen, e.memAt, e.memEpoch = true, e.clock, e.epoch
	mean := e.mem.add(e.clock, e.cfg.SmoothingWindow, v)
	e.memMean, e.memJudged = mean, true
	c := &e.cfg
	if c.MemoryMaxMB > 0 && (mean > c.MemoryMaxMB || e.rules[ruleMemoryHigh].status != RuleInactive) {
		out = e.step(ruleMemoryHigh, mean > c.MemoryMaxMB, mean <= c.MemoryMaxMB-c.MemoryHysteresisMB, mean, c.MemoryFor, now, out)
	}
	if c.GrowthMBPerMin > 0 && e.growth.add(e.clock, v) {
		out = e.judgeGrowth(now, out)
	}
	return out
}

// dropMemory forgets the memory judged so far: its source stopped. Pending
// memory timers restart; firing memory rules stay firing, stale.
func (e *RuleEngine) dropMemory(at time.Time) {
	e.interrupt(ruleMemoryHigh, at)
	e.interrupt(ruleMemoryGrowth, at)
	e.mem.reset()
	e.growth.reset()
	if e.memSeen {
		e.memGoneAt = e.clock
	}
	e.memSeen, e.memJudged = false, false
}

// evalMemory notices a source that stopped and steps memory_unwatched. It
// counts only while telemetry data flows, from when memory went missing or
// data resumed, whichever is later; it resolves after ResolveFor of memory.
func (e *RuleEngine) evalMemory(now time.Time, out []event.Event) []event.Event {
	if !ruleDefs[ruleMemoryUnwatched].on(&e.cfg) {
		return out
	}
	known := e.memKnown()
	r := &e.rules[ruleMemoryUnwatched]
	if known && r.status == RuleInactive {
		return out // the usual call: memory flowing, nothing to say
	}
	if !known && e.memSeen {
		e.dropMemory(now)
	}
	r.hasValue, r.fresh, r.evaluatedAt = true, true, e.clock
	r.value = 0
	if !known {
		r.value = seconds(e.clock - e.memGoneAt)
	}
	switch r.status {
	case RuleInactive, RulePending:
		if known || e.outage {
			if r.status == RulePending {
				r.status, r.since = RuleInactive, now
			}
			return out
		}
		if r.status == RuleInactive {
			from := max(e.memGoneAt, e.dataAt)
			r.status, r.since = RulePending, now
			r.activeAt, r.activeSince = from, now.Add(-(e.clock - from))
		}
		if e.clock-r.activeAt >= e.cfg.MemoryFor {
			return e.fire(ruleMemoryUnwatched, now, out)
		}
	case RuleFiring:
		if known && e.clock-e.memBackAt >= e.cfg.ResolveFor {
			return e.resolve(ruleMemoryUnwatched, now, e.clock-e.memBackAt, out)
		}
	}
	return out
}
