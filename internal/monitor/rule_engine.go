package monitor

import (
	"math"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// This file holds the rule engine: a pure state machine per target that
// turns telemetry samples and stream state into rule events. The rules are
// described in rule_table.go and judged in rule_eval.go.
//
// How the rules decide, and why:
//
//   - Time. Nothing here reads a clock. Every call carries its time, taken by
//     the caller from an injected clock whose readings carry Go's monotonic
//     clock (time.Now and its Add results do), so durations computed with Sub
//     ignore wall-clock steps. The engine also keeps its own clock, advanced
//     by each call's elapsed time clamped to [0, MaxGap]: times without a
//     monotonic reading (restored, parsed or from time.Date) can step, and a
//     step must neither fire nor resolve a rule (reliability scenario 13). A step back
//     of more than MaxGap, or a gap of MaxGap or more between two samples of
//     a signal, breaks the evidence: pending timers restart.
//   - "Holds for". A condition holds for a duration when every sample in it
//     agrees, Prometheus' `for` semantics that operators already read. A
//     single contrary sample restarts the timer, so FPS is judged on its mean
//     over SmoothingWindow (5 s): one jittery frame moves that mean by a
//     fraction and cannot reset a `for` timer on its own. The alternative, a
//     ratio of breaching time within a window, fires before the breach has
//     lasted `for` and needs a second knob; it was not chosen.
//   - Hysteresis. A firing rule resolves only after its value has stayed on
//     the healthy side of threshold±hysteresis for ResolveFor; a value inside
//     the band, or a new breach, restarts that timer. With the defaults, a
//     30-s square wave across 85 FPS for an hour gives no notification at all
//     (no 60-s run below 85), and if fps_low was already firing it stays
//     firing through the flapping and resolves once, after it (reliability scenario 7).
//     The price: an oscillation faster than FPSFor never fires fps_low. Raise
//     SmoothingWindow to the flap period to judge such a stream on its mean.
//   - Stale data. Values from a dead or silent stream are never used: while
//     the stream is disconnected or silent, samples are ignored, pending
//     timers restart, the smoothing and growth windows are emptied (a stream
//     that drops often means an instance that restarted, and its memory is no
//     longer on the same line). A firing rule stays firing, flagged Stale, and
//     resolves only on ResolveFor of fresh data. Memory polled from
//     /performance is the exception: it does not depend on the stream
//     (rule_memory.go).

// engine's clock; wall times are kept for display only.
type ruleRuntime struct {
	status RuleStatus
	since  time.Time // wall time status began

	activeAt    time.Duration // when the condition began to hold
	activeSince time.Time     // the same, wall time

	recovering bool
	recoverAt  time.Duration // when the value became healthy

	value       float64
	hasValue    bool
	fresh       bool          // value judged on current data
	evaluatedAt time.Duration // when value was last judged
}

// RuleEngine evaluates one target's rules. It is a pure state machine: no
// goroutines, no clock, no I/O. It is not safe for concurrent use: the
// target's watcher goroutine owns it and publishes copies of States.
//
// Calls append events to the caller's slice and return it, so the steady
// state (no transition) allocates nothing. Time comes only from the calls'
// arguments (see the notes at the top of this file).
type RuleEngine struct {
	cfg RuleConfig

	started bool
	last    time.Time     // time of the latest call, to measure elapsed time
	clock   time.Duration // the engine's own clock: clamped elapsed time
	epoch   uint64        // bumped when the clock stepped back

	stream     StreamState
	outage     bool // no data since a disconnect, a silence or start-up
	outageAt   time.Duration
	outageWall time.Time
	dataAt     time.Duration // when data resumed after the last outage

	fps, mem         smoother
	fpsSeen, memSeen bool // a sample since the last outage
	fpsAt, memAt     time.Duration
	fpsEpoch         uint64
	memEpoch         uint64
	fpsMean, memMean float64 // last smoothed values, for States
	fpsJudged        bool
	memJudged        bool
	growth           growthWindow
	growthSpan       time.Duration // data span of the last judged fit
	growthProjects   time.Duration // projected time to MemoryMaxMB of the last fit

	memSrc    MemorySource  // where the memory judged last came from (rule_memory.go)
	memGoneAt time.Duration // when memory went missing (0: since the start)
	memBackAt time.Duration // when memory came back after missing
	memWhy    string        // why /performance gave no memory, if it was asked

	rules     [numRules]ruleRuntime
	reconcile bool // a disabled rule may still be firing (after UpdateConfig, Restore)
}

// NewRuleEngine returns an engine for one target, every rule inactive and
// the stream without data since the first call (so telemetry_down fires if
// the stream never delivers). It returns cfg's validation error, if any.
func NewRuleEngine(cfg RuleConfig) (*RuleEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &RuleEngine{cfg: cfg, outage: true}
	e.growth.setWindow(cfg.GrowthWindow)
	return e, nil
}

// Config returns the engine's configuration.
func (e *RuleEngine) Config() RuleConfig { return e.cfg }

// Stream returns the stream state last reported.
func (e *RuleEngine) Stream() StreamState { return e.stream }

// UpdateConfig swaps in cfg on reload if it validates, keeping every rule's
// state: a firing rule stays firing and is judged against the new
// thresholds from the next sample. A rule that cfg disables is dropped; if
// it was firing, the next call returns its resolved event. A changed
// GrowthWindow empties the growth window. On error the old config stays.
func (e *RuleEngine) UpdateConfig(cfg RuleConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.GrowthWindow != e.cfg.GrowthWindow {
		e.growth.setWindow(cfg.GrowthWindow)
	}
	e.cfg = cfg
	e.reconcile = true
	return nil
}

// Observe judges one sample and appends the resulting transitions to out.
// Samples that arrive while the stream is reported disconnected or silent
// are stale and ignored; use SetStream(StreamConnected) when data resumes.
// Any sample, even one with neither FPS nor memory, counts as data for the
// telemetry rules.
func (e *RuleEngine) Observe(s Sample, out []event.Event) []event.Event {
	if s.At.IsZero() || e.stream == StreamDisconnected || e.stream == StreamSilent {
		return out
	}
	if e.stream == StreamUnknown {
		e.stream = StreamConnected
	}
	e.advance(s.At)
	if e.reconcile {
		out = e.reconcileDisabled(s.At, out)
	}
	if e.outage {
		e.outage = false
		e.dataAt = e.clock
	}
	if s.HasFPS && validValue(s.FPS) {
		out = e.observeFPS(s.FPS, s.At, out)
	}
	if s.HasMemory && validValue(s.MemoryMB) {
		out = e.observeMemory(s.MemoryMB, MemoryFromTelemetry, s.At, out)
	}
	if e.rules[ruleTelemetryDown].status != RuleInactive || e.rules[ruleTelemetrySilent].status != RuleInactive {
		out = e.evalTelemetry(s.At, out)
	}
	return e.evalMemory(s.At, out)
}

// SetStream records the watcher's view of the stream at time at. Entering
// StreamDisconnected or StreamSilent starts an outage: pending FPS and
// memory timers restart, the windows are emptied and firing rules turn
// stale. StreamConnected alone does not end the outage; the next sample
// does. Unknown states are ignored.
func (e *RuleEngine) SetStream(state StreamState, at time.Time, out []event.Event) []event.Event {
	if at.IsZero() || state < StreamConnected || state > StreamSilent {
		return out
	}
	e.advance(at)
	if e.reconcile {
		out = e.reconcileDisabled(at, out)
	}
	e.stream = state
	if state != StreamConnected {
		e.beginOutage(at)
	}
	return e.evalMemory(at, e.evalTelemetry(at, out))
}

// Tick advances time without a sample, for the transitions that need none
// (telemetry_down, telemetry_silent, memory_unwatched and their
// resolution). Call it at least every MaxGap; the watcher's one-second
// tick suits.
func (e *RuleEngine) Tick(now time.Time, out []event.Event) []event.Event {
	if now.IsZero() {
		return out
	}
	e.advance(now)
	if e.reconcile {
		out = e.reconcileDisabled(now, out)
	}
	return e.evalMemory(now, e.evalTelemetry(now, out))
}

// States returns the state of every enabled rule, in RuleNames order.
func (e *RuleEngine) States() []RuleState {
	return e.AppendStates(make([]RuleState, 0, numRules))
}

// AppendStates appends what States returns to states and returns the
// extended slice.
func (e *RuleEngine) AppendStates(states []RuleState) []RuleState {
	for id := ruleID(0); id < numRules; id++ {
		def := &ruleDefs[id]
		if !def.on(&e.cfg) {
			continue
		}
		r := &e.rules[id]
		value, has := r.value, r.hasValue
		switch {
		case id <= ruleFPSHigh && e.fpsJudged:
			value, has = e.fpsMean, true
		case id == ruleMemoryHigh && e.memJudged:
			value, has = e.memMean, true
		}
		st := RuleState{
			Rule:      def.name,
			Severity:  def.severity,
			State:     r.status,
			Since:     r.since,
			Value:     value,
			HasValue:  has,
			Threshold: def.threshold(&e.cfg),
			Unit:      def.unit,
			Stale:     e.stale(id),
		}
		if def.memory {
			switch {
			case e.memKnown():
				st.Source = e.memSrc.String()
			case r.status == RuleInactive:
				st.State, st.Reason = RuleUnknown, "no memory: "+e.memoryWhy()
				st.Since, st.Value, st.HasValue = time.Time{}, 0, false
			}
		}
		states = append(states, st)
	}
	return states
}

func (e *RuleEngine) stale(id ruleID) bool {
	r := &e.rules[id]
	if r.status != RuleFiring || ruleDefs[id].dir == dirAbsent {
		return false
	}
	limit, polled := e.cfg.MaxGap, false
	if ruleDefs[id].memory {
		limit, polled = e.memLimit(e.memSrc), e.memSrc == MemoryFromPerformance
	}
	if (e.outage && !polled) || !r.fresh {
		return true
	}
	if id == ruleMemoryGrowth {
		limit += e.growth.width
	}
	return e.clock-r.evaluatedAt >= limit
}

// advance moves the engine's clock to now. Elapsed time counts up to
// MaxGap per call, so a forward wall step (or a stall) adds at most MaxGap;
// a step back of up to MaxGap freezes the clock until the wall catches up
// (this also absorbs a tick that reads slightly older than the sample just
// handled); a larger step back re-anchors and breaks every signal's
// continuity.
func (e *RuleEngine) advance(now time.Time) {
	if !e.started {
		e.started = true
		e.last = now
		if e.outage {
			e.outageWall = now
		}
		return
	}
	d := now.Sub(e.last)
	switch {
	case d >= 0 && d <= e.cfg.MaxGap:
		e.clock += d
		e.last = now
	case d > e.cfg.MaxGap:
		e.clock += e.cfg.MaxGap
		e.last = now
	case d < -e.cfg.MaxGap:
		e.last = now
		e.epoch++
	}
}

func validValue(v float64) bool { return v >= 0 && !math.IsInf(v, 1) } // false for NaN
