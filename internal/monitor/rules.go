package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"go.uber.org/zap/zapcore"
)

// This file holds the telemetry threshold rules: a pure state machine per
// target that turns telemetry samples and stream state into rule events.
//
// How the rules decide, and why:
//
//   - Time. Nothing here reads a clock. Every call carries its time, taken by
//     the caller from an injected clock whose readings carry Go's monotonic
//     clock (time.Now and its Add results do), so durations computed with Sub
//     ignore wall-clock steps. The engine also keeps its own clock, advanced
//     by each call's elapsed time clamped to [0, MaxGap]: times without a
//     monotonic reading (restored, parsed or from time.Date) can step, and a
//     step must neither fire nor resolve a rule (RELIABILITY 13). A step back
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
//     firing through the flapping and resolves once, after it (RELIABILITY 7).
//     The price: an oscillation faster than FPSFor never fires fps_low. Raise
//     SmoothingWindow to the flap period to judge such a stream on its mean.
//   - Stale data. Values from a dead or silent stream are never used: while
//     the stream is disconnected or silent, samples are ignored, pending
//     timers restart, the smoothing and growth windows are emptied (a stream
//     that drops often means an instance that restarted, and its memory is no
//     longer on the same line). A firing rule stays firing, flagged Stale, and
//     resolves only on ResolveFor of fresh data.

// RuleConfig holds the thresholds of one target's rules. Start from
// DefaultRuleConfig: the zero value does not validate. A threshold of 0
// disables its rule (its series and states disappear, and a firing rule
// resolves with the reason "rule disabled by configuration").
type RuleConfig struct {
	// FPSMin: fps_low (warning) fires when smoothed FPS stays below it for
	// FPSFor. Default 85 (deploy/CHECKLIST.md: stable at 85–95).
	FPSMin float64
	// FPSCriticalMin: fps_critical fires when smoothed FPS stays below it
	// for FPSFor. Default 45. Must be below FPSMin.
	FPSCriticalMin float64
	// FPSMax: fps_high (warning) fires when smoothed FPS stays above it for
	// FPSFor. Default 95. Must be above FPSMin.
	FPSMax float64
	// FPSHysteresis: the FPS rules resolve only once smoothed FPS is at or
	// beyond threshold±FPSHysteresis (87 for fps_low, 93 for fps_high).
	// Default 2.
	FPSHysteresis float64
	// FPSFor: how long an FPS condition must hold before its rule fires.
	// Default 1m.
	FPSFor time.Duration

	// MemoryMaxMB: memory_high fires when smoothed memory (MiB) stays above
	// it for MemoryFor; memory_growth projects the time left until it.
	// Default 400.
	MemoryMaxMB float64
	// MemoryHysteresisMB: memory_high resolves once memory is at or below
	// MemoryMaxMB−MemoryHysteresisMB. Default 10.
	MemoryHysteresisMB float64
	// MemoryFor: how long memory_high's and memory_growth's conditions must
	// hold before they fire. Default 1m.
	MemoryFor time.Duration

	// GrowthMBPerMin: memory_growth fires when the least-squares slope of
	// memory over GrowthWindow exceeds it. Default 10.
	GrowthMBPerMin float64
	// GrowthHysteresisMBPerMin: memory_growth resolves once the slope is at
	// or below GrowthMBPerMin−GrowthHysteresisMBPerMin. Default 2.
	GrowthHysteresisMBPerMin float64
	// GrowthWindow: the span memory_growth fits its slope over. The fit uses
	// GrowthWindow/90 buckets of sample means and is judged only when the
	// data spans at least 80 % of the window with at least 20 samples.
	// Default 15m; at least 1m.
	GrowthWindow time.Duration

	// TelemetryDownFor: how long the stream may be without data (counted
	// from the first report of a disconnect or silence) before
	// telemetry_down (while disconnected) or telemetry_silent (while silent)
	// fires; one outage fires only one of the two. Default 2m; 0 disables
	// both rules.
	TelemetryDownFor time.Duration

	// ResolveFor: how long a firing rule's value must stay on the healthy
	// side of its hysteresis band (for telemetry rules: data flowing) before
	// it resolves. Default 1m.
	ResolveFor time.Duration
	// SmoothingWindow: FPS and memory are judged on their mean over this
	// window, so that single jittery frames do not reset `for` timers.
	// Default 5s; at most 10m. The mean covers at most the last 256 samples.
	SmoothingWindow time.Duration
	// MaxGap: the longest interval that counts as continuous evidence. A gap
	// of MaxGap or more between two samples of a signal restarts its pending
	// timers; no call advances the engine's clock by more than MaxGap, so
	// Tick must be called more often than that. Default 15s.
	MaxGap time.Duration
}

// DefaultRuleConfig returns the thresholds of the deployment checklist:
// FPS 85–95 (critical below 45), memory under 400 MB growing at most
// 10 MB/min over 15 min, telemetry back within 2 min.
func DefaultRuleConfig() RuleConfig {
	return RuleConfig{
		FPSMin:                   85,
		FPSCriticalMin:           45,
		FPSMax:                   95,
		FPSHysteresis:            2,
		FPSFor:                   time.Minute,
		MemoryMaxMB:              400,
		MemoryHysteresisMB:       10,
		MemoryFor:                time.Minute,
		GrowthMBPerMin:           10,
		GrowthHysteresisMBPerMin: 2,
		GrowthWindow:             15 * time.Minute,
		TelemetryDownFor:         2 * time.Minute,
		ResolveFor:               time.Minute,
		SmoothingWindow:          5 * time.Second,
		MaxGap:                   15 * time.Second,
	}
}

// Validate reports every problem of c, each naming its field.
func (c RuleConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("RuleConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"FPSMin", c.FPSMin}, {"FPSCriticalMin", c.FPSCriticalMin}, {"FPSMax", c.FPSMax},
		{"FPSHysteresis", c.FPSHysteresis}, {"MemoryMaxMB", c.MemoryMaxMB},
		{"MemoryHysteresisMB", c.MemoryHysteresisMB}, {"GrowthMBPerMin", c.GrowthMBPerMin},
		{"GrowthHysteresisMBPerMin", c.GrowthHysteresisMBPerMin},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			bad(f.name, "must be a finite number ≥ 0 (0 disables the rule), got %v", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"FPSFor", c.FPSFor}, {"MemoryFor", c.MemoryFor}, {"TelemetryDownFor", c.TelemetryDownFor},
		{"ResolveFor", c.ResolveFor},
	} {
		if f.v < 0 {
			bad(f.name, "must be ≥ 0, got %s", f.v)
		}
	}
	if c.FPSCriticalMin > 0 && c.FPSMin > 0 && c.FPSCriticalMin >= c.FPSMin {
		bad("FPSCriticalMin", "must be below FPSMin (%v), got %v", c.FPSMin, c.FPSCriticalMin)
	}
	if c.FPSMax > 0 && c.FPSMin > 0 && c.FPSMax <= c.FPSMin {
		bad("FPSMax", "must be above FPSMin (%v), got %v", c.FPSMin, c.FPSMax)
	}
	if c.MemoryMaxMB > 0 && c.MemoryHysteresisMB >= c.MemoryMaxMB {
		bad("MemoryHysteresisMB", "must be below MemoryMaxMB (%v), got %v", c.MemoryMaxMB, c.MemoryHysteresisMB)
	}
	if c.GrowthMBPerMin > 0 {
		if c.GrowthHysteresisMBPerMin >= c.GrowthMBPerMin {
			bad("GrowthHysteresisMBPerMin", "must be below GrowthMBPerMin (%v), got %v", c.GrowthMBPerMin, c.GrowthHysteresisMBPerMin)
		}
		if c.GrowthWindow < time.Minute {
			bad("GrowthWindow", "must be at least 1m, got %s", c.GrowthWindow)
		}
	}
	if c.SmoothingWindow <= 0 || c.SmoothingWindow > 10*time.Minute {
		bad("SmoothingWindow", "must be above 0 and at most 10m, got %s", c.SmoothingWindow)
	}
	if c.MaxGap <= 0 {
		bad("MaxGap", "must be above 0, got %s", c.MaxGap)
	}
	return errors.Join(errs...)
}

// Sample is one telemetry data frame, reduced to what the rules judge.
type Sample struct {
	// At is when the frame was received, from the caller's injected clock
	// (with a monotonic reading). A zero At makes the sample ignored.
	At time.Time
	// FPS is frames per second; used when HasFPS. NaN, ±Inf and negative
	// values are ignored.
	FPS    float64
	HasFPS bool
	// MemoryMB is memory use in MiB (telemetry's memory_usage_mb); used
	// when HasMemory. NaN, ±Inf and negative values are ignored.
	MemoryMB  float64
	HasMemory bool
}

// StreamState is the telemetry connection's state, as the watcher sees it.
type StreamState uint8

// Stream states. StreamUnknown is the state before the watcher reports one;
// a sample then counts as proof of a connection.
const (
	StreamUnknown StreamState = iota
	StreamConnected
	StreamDisconnected
	StreamSilent
)

// String returns "unknown", "connected", "disconnected" or "silent".
func (s StreamState) String() string {
	switch s {
	case StreamConnected:
		return "connected"
	case StreamDisconnected:
		return "disconnected"
	case StreamSilent:
		return "silent"
	}
	return "unknown"
}

// MarshalText encodes the state as its String form.
func (s StreamState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RuleStatus is where a rule stands.
type RuleStatus uint8

// Rule statuses.
const (
	// RuleInactive: the condition does not hold.
	RuleInactive RuleStatus = iota
	// RulePending: the condition holds, not yet for the rule's `for`.
	RulePending
	// RuleFiring: the condition held for the rule's `for`, and the value has
	// not yet been healthy for ResolveFor.
	RuleFiring
)

// String returns "inactive", "pending" or "firing".
func (s RuleStatus) String() string {
	switch s {
	case RulePending:
		return "pending"
	case RuleFiring:
		return "firing"
	}
	return "inactive"
}

// MarshalText encodes the status as its String form.
func (s RuleStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RuleEventState says whether an event starts or ends a firing.
type RuleEventState uint8

// Event states.
const (
	RuleEventFiring RuleEventState = iota + 1
	RuleEventResolved
)

// String returns "firing" or "resolved".
func (s RuleEventState) String() string {
	if s == RuleEventResolved {
		return "resolved"
	}
	return "firing"
}

// MarshalText encodes the state as its String form.
func (s RuleEventState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RuleEvent is a rule's transition to firing or back to resolved: what the
// alerting layer turns into a notification.
type RuleEvent struct {
	// Rule is one of the Rule* names.
	Rule string `json:"rule"`
	// Severity is the rule's severity.
	Severity Severity `json:"severity"`
	// Kind is rule for a threshold rule, check for a failing check,
	// condition for a cause derived from checks (token_expired).
	Kind event.Kind `json:"kind"`
	// Cause classifies a check failure for machines (one of the Cause*
	// constants); empty for rules and unclassified failures.
	Cause string `json:"cause,omitempty"`
	// State is firing or resolved.
	State RuleEventState `json:"state"`
	// At is the time of the call that made the transition.
	At time.Time `json:"at"`
	// Since is, for a firing event, when the condition began to hold (the
	// start of the outage for telemetry rules); for a resolved event, when
	// the rule started firing.
	Since time.Time `json:"since"`
	// Value is the value judged at the transition: smoothed FPS, smoothed
	// MB, MB/min, or seconds without data (0 once data flows again).
	Value float64 `json:"value"`
	// Threshold is the rule's firing threshold, in the same Unit.
	Threshold float64 `json:"threshold"`
	// Unit is "fps", "MB", "MB/min" or "s"; empty for check events.
	Unit string `json:"unit,omitempty"`
	// Observed is what was seen, rendered for people in its unit ("60.3
	// fps", "no data for 130 s"; for a check, the check's own).
	Observed string `json:"observed,omitempty"`
	// Expected is what the rule or check wants, rendered the same way ("at
	// least 85 fps", "data within 120 s").
	Expected string `json:"expected,omitempty"`
	// Reason is one line naming the cause, e.g. "FPS 61.2 below 85 for 1m0s".
	Reason string `json:"reason"`
	// ProjectedLimitIn is, for memory_growth firing, the projected time
	// until memory reaches MemoryMaxMB (0 when already there or unknown).
	ProjectedLimitIn time.Duration `json:"projected_limit_in,omitempty"`
}

// String returns a one-line summary: "fps_low firing (warning): FPS 61.2 below 85 for 1m0s".
func (ev RuleEvent) String() string {
	return ev.Rule + " " + ev.State.String() + " (" + string(ev.Severity) + "): " + ev.Reason
}

// MarshalLogObject lets zap.Object("event", ev) log the event with the
// house's snake_case keys.
func (ev RuleEvent) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("rule", ev.Rule)
	enc.AddString("severity", string(ev.Severity))
	enc.AddString("state", ev.State.String())
	enc.AddTime("at", ev.At)
	enc.AddTime("since", ev.Since)
	enc.AddString("observed", ev.Observed)
	enc.AddString("expected", ev.Expected)
	enc.AddString("reason", ev.Reason)
	if ev.ProjectedLimitIn > 0 {
		enc.AddDuration("projected_limit_in", ev.ProjectedLimitIn)
	}
	return nil
}

// RuleEventSink receives rule events. The daemon implements it; the alerting
// issue consumes it (until then the daemon logs the events and exports
// spacetime_rule_firing). Calls come from the target's watcher goroutine, in
// order; an implementation must not block for long.
type RuleEventSink interface {
	RuleEvent(target string, ev RuleEvent)
}

// RuleEventSinkFunc adapts a function to RuleEventSink.
type RuleEventSinkFunc func(target string, ev RuleEvent)

// RuleEvent calls f.
func (f RuleEventSinkFunc) RuleEvent(target string, ev RuleEvent) { f(target, ev) }

// RuleState is one rule's current state, for /api/v1/status and
// spacetime_rule_firing.
type RuleState struct {
	// Rule is one of the Rule* names.
	Rule string `json:"rule"`
	// Severity is the rule's severity.
	Severity Severity `json:"severity"`
	// State is inactive, pending or firing.
	State RuleStatus `json:"state"`
	// Since is when State began (zero if the rule never left inactive).
	Since time.Time `json:"since"`
	// Value is the last value judged, in Unit; meaningful when HasValue.
	Value    float64 `json:"value"`
	HasValue bool    `json:"has_value"`
	// Threshold is the firing threshold, in Unit.
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit"`
	// Stale is true while a firing rule has no fresh data to judge: the
	// stream is down or silent, its signal stopped, or the state was
	// restored and not yet re-judged.
	Stale bool `json:"stale"`
}

// ruleRuntime is one rule's mutable state. Times named *At are on the
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
func (e *RuleEngine) Observe(s Sample, out []RuleEvent) []RuleEvent {
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
		out = e.observeMemory(s.MemoryMB, s.At, out)
	}
	if e.rules[ruleTelemetryDown].status != RuleInactive || e.rules[ruleTelemetrySilent].status != RuleInactive {
		out = e.evalTelemetry(s.At, out)
	}
	return out
}

// SetStream records the watcher's view of the stream at time at. Entering
// StreamDisconnected or StreamSilent starts an outage: pending FPS and
// memory timers restart, the windows are emptied and firing rules turn
// stale. StreamConnected alone does not end the outage; the next sample
// does. Unknown states are ignored.
func (e *RuleEngine) SetStream(state StreamState, at time.Time, out []RuleEvent) []RuleEvent {
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
	return e.evalTelemetry(at, out)
}

// Tick advances time without a sample, for the transitions that need none
// (telemetry_down, telemetry_silent and their resolution). Call it at least
// every MaxGap; the watcher's one-second tick suits.
func (e *RuleEngine) Tick(now time.Time, out []RuleEvent) []RuleEvent {
	if now.IsZero() {
		return out
	}
	e.advance(now)
	if e.reconcile {
		out = e.reconcileDisabled(now, out)
	}
	return e.evalTelemetry(now, out)
}

// States returns the state of every enabled rule, in RuleNames order.
func (e *RuleEngine) States() []RuleState {
	states := make([]RuleState, 0, numRules)
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
		states = append(states, RuleState{
			Rule:      def.name,
			Severity:  def.severity,
			State:     r.status,
			Since:     r.since,
			Value:     value,
			HasValue:  has,
			Threshold: def.threshold(&e.cfg),
			Unit:      def.unit,
			Stale:     e.stale(id),
		})
	}
	return states
}

func (e *RuleEngine) stale(id ruleID) bool {
	r := &e.rules[id]
	if r.status != RuleFiring || id == ruleTelemetryDown || id == ruleTelemetrySilent {
		return false
	}
	if e.outage || !r.fresh {
		return true
	}
	limit := e.cfg.MaxGap
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

func (e *RuleEngine) observeFPS(v float64, now time.Time, out []RuleEvent) []RuleEvent {
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

func (e *RuleEngine) observeMemory(v float64, now time.Time, out []RuleEvent) []RuleEvent {
	if e.memSeen && (e.memEpoch != e.epoch || e.clock-e.memAt >= e.cfg.MaxGap) {
		e.mem.reset()
		e.interrupt(ruleMemoryHigh, now)
		e.interrupt(ruleMemoryGrowth, now)
	}
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

// judgeGrowth fits the growth window after a bucket closed and steps
// memory_growth when the window is covered well enough to judge.
func (e *RuleEngine) judgeGrowth(now time.Time, out []RuleEvent) []RuleEvent {
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
func (e *RuleEngine) step(id ruleID, breach, healthy bool, value float64, hold time.Duration, now time.Time, out []RuleEvent) []RuleEvent {
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
	for id := ruleFPSCritical; id <= ruleMemoryGrowth; id++ {
		e.interrupt(id, at)
	}
	e.fps.reset()
	e.mem.reset()
	e.growth.reset()
	e.fpsSeen, e.memSeen = false, false
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
func (e *RuleEngine) evalTelemetry(now time.Time, out []RuleEvent) []RuleEvent {
	if e.cfg.TelemetryDownFor <= 0 {
		return out
	}
	out = e.stepTelemetry(ruleTelemetryDown, ruleTelemetrySilent, StreamDisconnected, now, out)
	return e.stepTelemetry(ruleTelemetrySilent, ruleTelemetryDown, StreamSilent, now, out)
}

func (e *RuleEngine) stepTelemetry(id, other ruleID, want StreamState, now time.Time, out []RuleEvent) []RuleEvent {
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

func (e *RuleEngine) fire(id ruleID, now time.Time, out []RuleEvent) []RuleEvent {
	r := &e.rules[id]
	r.status, r.since, r.recovering = RuleFiring, now, false
	ev := e.event(id, RuleEventFiring, now, r.activeSince, ruleDefs[id].firing, e.clock-r.activeAt)
	if id == ruleMemoryGrowth {
		ev.ProjectedLimitIn = e.growthProjects
	}
	return append(out, ev)
}

// resolve ends a firing rule whose value has been healthy for held.
func (e *RuleEngine) resolve(id ruleID, now time.Time, held time.Duration, out []RuleEvent) []RuleEvent {
	r := &e.rules[id]
	ev := e.event(id, RuleEventResolved, now, r.since, ruleDefs[id].resolved, held)
	r.status, r.since, r.recovering = RuleInactive, now, false
	return append(out, ev)
}

// event builds a rule's event, worded by its row of the rule table; an
// empty wording means the config turned the rule off.
func (e *RuleEngine) event(id ruleID, state RuleEventState, at, since time.Time, wording string, held time.Duration) RuleEvent {
	def, v := &ruleDefs[id], e.rules[id].value
	ev := RuleEvent{
		Rule:      def.name,
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
func (e *RuleEngine) reconcileDisabled(now time.Time, out []RuleEvent) []RuleEvent {
	e.reconcile = false
	for id := ruleID(0); id < numRules; id++ {
		if ruleDefs[id].on(&e.cfg) {
			continue
		}
		if r := &e.rules[id]; r.status == RuleFiring {
			out = append(out, e.event(id, RuleEventResolved, now, r.since, "", 0))
		}
		e.rules[id] = ruleRuntime{}
	}
	return out
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// smootherCap bounds the samples a smoothing window holds: at the stream's
// 2–10 frames/s a 5-s window needs 10–50. A power of two, for the mask.
const smootherCap = 256

// smoother is the mean of the samples within a span of the latest one.
type smoother struct {
	at      [smootherCap]time.Duration
	v       [smootherCap]float64
	head, n int
	sum     float64
}

func (s *smoother) reset() { s.head, s.n, s.sum = 0, 0, 0 }

// add records v at clock c and returns the mean of the samples in (c−span, c].
func (s *smoother) add(c, span time.Duration, v float64) float64 {
	for s.n > 0 && (c-s.at[s.head] >= span || s.n == smootherCap) {
		s.sum -= s.v[s.head]
		s.head = (s.head + 1) & (smootherCap - 1)
		s.n--
	}
	if s.n == 0 {
		s.sum = 0 // drop accumulated rounding
	}
	i := (s.head + s.n) & (smootherCap - 1)
	s.at[i], s.v[i] = c, v
	s.n++
	s.sum += v
	return s.sum / float64(s.n)
}

// Growth fit parameters: the window is cut into growthBuckets buckets of
// sample means, and judged only when its data spans growthMinCoverage of
// the window with at least growthMinSamples samples, so that a slope is
// never read off a few minutes after a reconnect.
const (
	growthBuckets     = 90
	growthMinCoverage = 0.8
	growthMinSamples  = 20
)

type growthBucket struct {
	k          int64 // bucket number: clock / width
	n          float64
	sumT, sumY float64 // seconds on the engine clock, MB
}

// growthWindow keeps bucketed memory samples over the growth window.
// Bucketing bounds memory and makes each fit O(growthBuckets) once per
// bucket, instead of O(samples) per sample.
type growthWindow struct {
	width   time.Duration
	b       [growthBuckets]growthBucket // closed buckets, a ring
	head, n int
	cur     growthBucket
	curOpen bool
}

func (g *growthWindow) setWindow(window time.Duration) {
	g.width = max(window/growthBuckets, time.Millisecond)
	g.reset()
}

func (g *growthWindow) reset() { g.head, g.n, g.curOpen = 0, 0, false }

// add records a memory sample and reports whether a bucket closed, the
// moment to judge the window again.
func (g *growthWindow) add(c time.Duration, y float64) (closed bool) {
	k := int64(c / g.width)
	if g.curOpen && k != g.cur.k {
		for g.n > 0 && (g.b[g.head].k <= k-growthBuckets || g.n == growthBuckets) {
			g.head = (g.head + 1) % growthBuckets
			g.n--
		}
		g.b[(g.head+g.n)%growthBuckets] = g.cur
		g.n++
		g.curOpen, closed = false, true
	}
	if !g.curOpen {
		g.cur, g.curOpen = growthBucket{k: k}, true
	}
	g.cur.n++
	g.cur.sumT += seconds(c)
	g.cur.sumY += y
	return closed
}

// growthFit is a least-squares line through the bucket means, weighted by
// their sample counts.
type growthFit struct {
	slope        float64 // MB per second
	tMean, yMean float64
	span         float64 // seconds between the first and last bucket means
}

// at is the fitted memory at time t (seconds).
func (f growthFit) at(t float64) float64 { return f.yMean + f.slope*(t-f.tMean) }

// fit returns the window's line, and false while the window is too thin
// to judge.
func (g *growthWindow) fit() (growthFit, bool) {
	if g.n < 2 {
		return growthFit{}, false
	}
	var w, st, sy float64
	for i := 0; i < g.n; i++ {
		b := &g.b[(g.head+i)%growthBuckets]
		w, st, sy = w+b.n, st+b.sumT, sy+b.sumY
	}
	f := growthFit{tMean: st / w, yMean: sy / w}
	var sxx, sxy float64
	for i := 0; i < g.n; i++ {
		b := &g.b[(g.head+i)%growthBuckets]
		dt, dy := b.sumT/b.n-f.tMean, b.sumY/b.n-f.yMean
		sxx += b.n * dt * dt
		sxy += b.n * dt * dy
	}
	first, last := &g.b[g.head], &g.b[(g.head+g.n-1)%growthBuckets]
	f.span = last.sumT/last.n - first.sumT/first.n
	window := seconds(g.width * growthBuckets)
	if w < growthMinSamples || f.span < growthMinCoverage*window || sxx <= 0 {
		return growthFit{}, false
	}
	f.slope = sxy / sxx
	return f, true
}

// Snapshot format version; Restore refuses others.
const ruleSnapshotVersion = 1

type ruleSnapshot struct {
	Version int                 `json:"version"`
	Rules   []ruleSnapshotEntry `json:"rules"`
}

type ruleSnapshotEntry struct {
	Rule        string    `json:"rule"`
	ActiveSince time.Time `json:"active_since"`
	FiringSince time.Time `json:"firing_since"`
	Value       float64   `json:"value"`
}

// Snapshot encodes the firing rules (JSON, wall-clock instants) for the
// daemon to persist in the store. Pending timers are not kept: after a
// restart a condition must hold for its full `for` again.
func (e *RuleEngine) Snapshot() ([]byte, error) {
	s := ruleSnapshot{Version: ruleSnapshotVersion, Rules: []ruleSnapshotEntry{}}
	for id := ruleID(0); id < numRules; id++ {
		r := &e.rules[id]
		if r.status != RuleFiring {
			continue
		}
		s.Rules = append(s.Rules, ruleSnapshotEntry{
			Rule:        ruleDefs[id].name,
			ActiveSince: r.activeSince.Round(0),
			FiringSince: r.since.Round(0),
			Value:       r.value,
		})
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode rule snapshot: %w", err)
	}
	return data, nil
}

// Restore replaces every rule's state with a Snapshot, before the first
// sample after a restart. Restored rules are firing and stale, without a
// new firing event: they resolve (once) after ResolveFor of fresh healthy
// data, or stay firing. A restored rule the config disables resolves on
// the next call. Names of unknown rules are skipped. On error nothing
// changes.
func (e *RuleEngine) Restore(data []byte) error {
	var s ruleSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("restore rule snapshot: %w", err)
	}
	if s.Version != ruleSnapshotVersion {
		return fmt.Errorf("restore rule snapshot: version %d not supported (want %d); discard the stored state", s.Version, ruleSnapshotVersion)
	}
	var rules [numRules]ruleRuntime
	for _, en := range s.Rules {
		id, ok := ruleByName(en.Rule)
		if !ok {
			continue
		}
		if math.IsNaN(en.Value) || math.IsInf(en.Value, 0) {
			return fmt.Errorf("restore rule snapshot: rule %s: value %v is not finite", en.Rule, en.Value)
		}
		rules[id] = ruleRuntime{
			status:      RuleFiring,
			since:       en.FiringSince,
			activeAt:    e.clock,
			activeSince: en.ActiveSince,
			value:       en.Value,
			hasValue:    true,
		}
	}
	e.rules = rules
	e.reconcile = true
	return nil
}

// RuleFiringGauges drives one target's spacetime_rule_firing series: 1
// while a rule fires, else 0. It resolves each series once, so Update does
// not allocate or hash labels on the telemetry path.
type RuleFiringGauges struct {
	vec    *prometheus.GaugeVec
	target string
	g      [numRules]prometheus.Gauge
}

// NewRuleFiringGauges binds the target to vec, whose labels are target,
// rule and severity in that order (Metrics.RuleFiring). Call Sync before
// the first Update so that every enabled rule's series starts at its value.
func NewRuleFiringGauges(vec *prometheus.GaugeVec, target string) *RuleFiringGauges {
	return &RuleFiringGauges{vec: vec, target: target}
}

// Sync sets the series of every rule in states (RuleEngine.States) and
// deletes those of rules no longer listed (disabled). Call it after
// NewRuleEngine, Restore and UpdateConfig.
func (g *RuleFiringGauges) Sync(states []RuleState) {
	var listed [numRules]bool
	for _, s := range states {
		id, ok := ruleByName(s.Rule)
		if !ok {
			continue
		}
		listed[id] = true
		g.gauge(id).Set(firingValue(s.State == RuleFiring))
	}
	for id := ruleID(0); id < numRules; id++ {
		if !listed[id] && g.g[id] != nil {
			g.vec.DeleteLabelValues(g.target, ruleDefs[id].name, string(ruleDefs[id].severity))
			g.g[id] = nil
		}
	}
}

// Update applies events as they come from the engine.
func (g *RuleFiringGauges) Update(events []RuleEvent) {
	for i := range events {
		if id, ok := ruleByName(events[i].Rule); ok {
			g.gauge(id).Set(firingValue(events[i].State == RuleEventFiring))
		}
	}
}

func (g *RuleFiringGauges) gauge(id ruleID) prometheus.Gauge {
	if g.g[id] == nil {
		g.g[id] = g.vec.WithLabelValues(g.target, ruleDefs[id].name, string(ruleDefs[id].severity))
	}
	return g.g[id]
}

func firingValue(firing bool) float64 {
	if firing {
		return 1
	}
	return 0
}
