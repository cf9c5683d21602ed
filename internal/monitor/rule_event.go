package monitor

import (
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"go.uber.org/zap/zapcore"
)

// The rules' vocabulary: what goes into the engine (samples, stream
// states) and what comes out of it (events, states).

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
	// RuleUnknown: the rule has nothing to judge (memory_high and
	// memory_growth while no source reports memory). Only States reports
	// it; a firing rule stays firing, stale.
	RuleUnknown
	numRuleStatuses
)

// String returns "inactive", "pending", "firing" or "unknown".
func (s RuleStatus) String() string {
	switch s {
	case RuleUnknown:
		return "unknown"
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
	// Hint is the likely cause and the next step, from the rule, check or
	// condition's row of its table; people read it next to a firing alert.
	Hint string `json:"hint,omitempty"`
	// Source is, for memory_high and memory_growth, where the memory judged
	// came from: "telemetry" or "performance" (RuleEngine.ObservePerformance).
	// Inhibition by telemetry_down concerns only memory from telemetry.
	Source string `json:"source,omitempty"`
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
	// State is inactive, pending, firing, or unknown (a memory rule while
	// no source reports memory).
	State RuleStatus `json:"state"`
	// Since is when State began; zero, and left out of JSON, while the rule
	// never left inactive or is unknown.
	Since time.Time `json:"since,omitzero"`
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
	// Source is, for memory rules, where their memory comes from:
	// "telemetry" or "performance"; empty while unknown.
	Source string `json:"source,omitempty"`
	// Reason says why a rule is unknown ("no memory: the stream carries
	// none and /performance refused the token: ...").
	Reason string `json:"reason,omitempty"`
}

// ruleRuntime is one rule's mutable state. Times named *At are on the
