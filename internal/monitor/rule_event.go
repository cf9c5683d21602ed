package monitor

import (
	"time"
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
