package monitor

import (
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// This file is how the engine judges: the FPS and memory rules on each
// sample, telemetry_down and telemetry_silent on time, and the events of
// their transitions, worded by the rule table.

func (e *RuleEngine) observeFPS(v float64, now time.Time, out []event.Event) []event.Event {
	if e.fpsSeen && (e.fpsEpoch != e.epoch || e.clock-e.fpsAt >= e.cfg.MaxGap) {
		e.fps.reset()
		e.interrupt(ruleFPSCritical, now)
		e.interrupt(ruleFPSLow, now)
		e.interrupt(ruleFPSHigh, now)
	}
	e.fpsSeen, e.fpsAt, e.fpsEpoch = true, e.clock, e.epoch
	mean := e.fps.add(e.clock, e.cfg.SmoothingWindow, v)
	e.fpsMean, e.fpsJudged = mean, true
	c := &e.cfg
	// The usual frame: every FPS rule inactive and nothing to start. A
	// disabled threshold is 0, which no mean is below.
	if e.rules[ruleFPSCritical].status|e.rules[ruleFPSLow].status|e.rules[ruleFPSHigh].status == RuleInactive &&
		mean >= c.FPSMin && mean >= c.FPSCriticalMin && (c.FPSMax <= 0 || mean <= c.FPSMax) {
		return out
	}
	if c.FPSCriticalMin > 0 {
		out = e.step(ruleFPSCritical, mean < c.FPSCriticalMin, mean >= c.FPSCriticalMin+c.FPSHysteresis, mean, c.FPSFor, now, out)
	}
	if c.FPSMin > 0 {
		out = e.step(ruleFPSLow, mean < c.FPSMin, mean >= c.FPSMin+c.FPSHysteresis, mean, c.FPSFor, now, out)
	}
	if c.FPSMax > 0 {
		out = e.step(ruleFPSHigh, mean > c.FPSMax, mean <= c.FPSMax-c.FPSHysteresis, mean, c.FPSFor, now, out)
	}
	return out
}

// judgeGrowth fits the growth window after a bucket closed and steps
// memory_growth when the window is covered well enough to judge.
func (e *RuleEngine) judgeGrowth(now time.Time, out []event.Event) []event.Event {
	fit, ok := e.growth.fit()
	if !ok {
		return out
	}
	c := &e.cfg
	slope := fit.slope * 60 // MB/min
	e.growthSpan = time.Duration(fit.span * float64(time.Second))
	e.growthProjects = 0
	if c.MemoryMaxMB > 0 && fit.slope > 0 {
		left := c.MemoryMaxMB - fit.at(seconds(e.clock))
		if left > 0 {
			e.growthProjects = time.Duration(left / fit.slope * float64(time.Second))
		}
	}
	return e.step(ruleMemoryGrowth, slope > c.GrowthMBPerMin, slope <= c.GrowthMBPerMin-c.GrowthHysteresisMBPerMin, slope, c.MemoryFor, now, out)
}

// step advances a threshold rule with a freshly judged value. breach is the
// firing condition; healthy is the resolving one, stricter than !breach by
// the hysteresis. A value between the two keeps the rule where it is but
// restarts the resolve timer.
func (e *RuleEngine) step(id ruleID, breach, healthy bool, value float64, hold time.Duration, now time.Time, out []event.Event) []event.Event {
	r := &e.rules[id]
	r.value, r.hasValue, r.fresh, r.evaluatedAt = value, true, true, e.clock
	switch r.status {
	case RuleInactive:
		if !breach {
			return out
		}
		r.status, r.since = RulePending, now
		r.activeAt, r.activeSince = e.clock, now
		if hold <= 0 {
			return e.fire(id, now, out)
		}
	case RulePending:
		if !breach {
			r.status, r.since = RuleInactive, now
			return out
		}
		if e.clock-r.activeAt >= hold {
			return e.fire(id, now, out)
		}
	case RuleFiring:
		if !healthy {
			r.recovering = false
			return out
		}
		if !r.recovering {
			r.recovering, r.recoverAt = true, e.clock
		}
		if e.clock-r.recoverAt >= e.cfg.ResolveFor {
			return e.resolve(id, now, e.clock-r.recoverAt, out)
		}
	}
	return out
}

// interrupt breaks a rule's evidence: pending returns to inactive, a
// resolve timer restarts, and a firing rule waits for fresh data.
func (e *RuleEngine) interrupt(id ruleID, now time.Time) {
	r := &e.rules[id]
	switch r.status {
	case RulePending:
		r.status, r.since = RuleInactive, now
	case RuleFiring:
		r.recovering = false
		r.fresh = false
	}
}

func (e *RuleEngine) beginOutage(at time.Time) {
	for id := ruleFPSCritical; id <= ruleFPSHigh; id++ {
		e.interrupt(id, at)
	}
	e.fps.reset()
	e.fpsSeen = false
	if e.memSrc != MemoryFromPerformance {
		// Memory polled from /performance does not depend on the stream.
		e.dropMemory(at)
	}
	if !e.outage {
		e.outage, e.outageAt, e.outageWall = true, e.clock, at
	}
}

// evalTelemetry steps telemetry_down and telemetry_silent. Both count from
// the start of the outage, so a stream that cycles between disconnected and
// silent without ever delivering data still fires. One outage fires one of
// them: the watcher's redial after a silence passes through disconnected in
// milliseconds, and that is not a second problem. Both resolve once data has
// flowed for ResolveFor.
func (e *RuleEngine) evalTelemetry(now time.Time, out []event.Event) []event.Event {
	if e.cfg.TelemetryDownFor <= 0 {
		return out
	}
	out = e.stepTelemetry(ruleTelemetryDown, ruleTelemetrySilent, StreamDisconnected, now, out)
	return e.stepTelemetry(ruleTelemetrySilent, ruleTelemetryDown, StreamSilent, now, out)
}

func (e *RuleEngine) stepTelemetry(id, other ruleID, want StreamState, now time.Time, out []event.Event) []event.Event {
	r := &e.rules[id]
	r.hasValue, r.fresh, r.evaluatedAt = true, true, e.clock
	r.value = 0
	if e.outage {
		r.value = (e.clock - e.outageAt).Seconds()
	}
	switch r.status {
	case RuleInactive, RulePending:
		if !e.outage || e.stream != want || e.rules[other].status == RuleFiring {
			if r.status == RulePending {
				r.status, r.since = RuleInactive, now
			}
			return out
		}
		if r.status == RuleInactive {
			r.status, r.since = RulePending, e.outageWall
			r.activeAt, r.activeSince = e.outageAt, e.outageWall
		}
		if e.clock-e.outageAt >= e.cfg.TelemetryDownFor {
			return e.fire(id, now, out)
		}
	case RuleFiring:
		if !e.outage && e.clock-e.dataAt >= e.cfg.ResolveFor {
			return e.resolve(id, now, e.clock-e.dataAt, out)
		}
	}
	return out
}

func (e *RuleEngine) fire(id ruleID, now time.Time, out []event.Event) []event.Event {
	r := &e.rules[id]
	r.status, r.since, r.recovering = RuleFiring, now, false
	ev := e.event(id, event.StateFiring, now, r.activeSince, ruleDefs[id].firing, e.clock-r.activeAt)
	if id == ruleMemoryGrowth {
		ev.ProjectedLimitIn = e.growthProjects
	}
	return append(out, ev)
}

// resolve ends a firing rule whose value has been healthy for held.
func (e *RuleEngine) resolve(id ruleID, now time.Time, held time.Duration, out []event.Event) []event.Event {
	r := &e.rules[id]
	ev := e.event(id, event.StateResolved, now, r.since, ruleDefs[id].resolved, held)
	r.status, r.since, r.recovering = RuleInactive, now, false
	return append(out, ev)
}

// event builds a rule's event, worded by its row of the rule table; an
// empty wording means the config turned the rule off.
func (e *RuleEngine) event(id ruleID, state event.State, at, since time.Time, wording string, held time.Duration) event.Event {
	def, v := &ruleDefs[id], e.rules[id].value
	ev := event.Event{
		Name:      def.name,
		Severity:  def.severity,
		Kind:      event.KindRule,
		Cause:     def.cause,
		State:     state,
		At:        at,
		Since:     since,
		Value:     v,
		Threshold: def.threshold(&e.cfg),
		Unit:      def.unit,
		Observed:  def.observed(v),
		Expected:  def.expected(&e.cfg),
		Reason:    reasonDisabled,
	}
	if state == event.StateFiring {
		ev.Hint = def.hint
	}
	if def.memory {
		ev.Source = e.memSrc.String()
	}
	if wording != "" {
		ev.Reason = def.wording(wording, &e.cfg, v, held, e.placeholders(id)...)
	}
	return ev
}

// reasonDisabled is the reason of a firing rule's resolution when the
// config turned the rule off.
const reasonDisabled = "rule disabled by configuration"

// placeholders are the engine's own values for a rule's wording.
func (e *RuleEngine) placeholders(id ruleID) []string {
	if id == ruleMemoryUnwatched {
		return []string{"{why}", e.memoryWhy(), "{source}", e.memSrc.String()}
	}
	if id != ruleMemoryGrowth {
		return nil
	}
	projection := ""
	switch {
	case e.cfg.MemoryMaxMB <= 0:
	case e.growthProjects > 0:
		projection = fmt.Sprintf("; %s MB reached in ~%s", num(e.cfg.MemoryMaxMB), e.growthProjects.Round(time.Second))
	default:
		projection = fmt.Sprintf("; already above %s MB", num(e.cfg.MemoryMaxMB))
	}
	return []string{"{span}", e.growthSpan.Round(time.Second).String(), "{projection}", projection}
}

// reconcileDisabled resolves firing rules the config turned off and clears
// the state of every disabled rule.
func (e *RuleEngine) reconcileDisabled(now time.Time, out []event.Event) []event.Event {
	e.reconcile = false
	for id := ruleID(0); id < numRules; id++ {
		if ruleDefs[id].on(&e.cfg) {
			continue
		}
		if r := &e.rules[id]; r.status == RuleFiring {
			out = append(out, e.event(id, event.StateResolved, now, r.since, "", 0))
		}
		e.rules[id] = ruleRuntime{}
	}
	return out
}

func seconds(d time.Duration) float64 { return d.Seconds() }
