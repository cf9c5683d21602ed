// Package event holds the vocabulary the monitor and the alerting layer
// share about a condition: the Event itself, its kind, severity and state.
// It sits at the bottom of the house, so that monitor and alert agree
// without importing each other.
package event

import (
	"time"

	"go.uber.org/zap/zapcore"
)

// Kind says what raised a condition.
type Kind string

// Kinds of conditions.
const (
	// KindCheck is a scheduled check failing (check_health, ...).
	KindCheck Kind = "check"
	// KindRule is a telemetry threshold rule (fps_low, telemetry_down, ...).
	KindRule Kind = "rule"
	// KindCondition is a cause derived from several results (token_expired,
	// token_rejected), or the daemon's own (NotificationsFailing).
	KindCondition Kind = "condition"
)

// Severity ranks a condition. It is a string so that it works as a metric
// label and a JSON value as it is.
type Severity string

// Severities, most urgent first.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// State says whether an event starts or ends a condition.
type State string

// Event states.
const (
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Event is a condition's transition: a threshold rule, a check or a
// derived condition starting to hold (firing) or ending (resolved). The
// monitor emits it, the alert manager tracks it, every sink renders from
// what it carries; nothing downstream needs to know a rule or a check by
// name to find its direction, unit or wording.
//
// The deployment an event happened during is not carried: the alert
// manager attaches the target's current deployment when it handles the
// event, from the same tracker the monitor updates.
type Event struct {
	// Target is the configured target's name.
	Target string `json:"target"`
	// Name is the condition's name: a rule (fps_low), a check's condition
	// (check_health) or a derived condition (token_expired).
	Name string `json:"name"`
	// Kind says what raised it.
	Kind Kind `json:"kind"`
	// Severity is the condition's severity.
	Severity Severity `json:"severity"`
	// State is firing or resolved.
	State State `json:"state"`
	// Cause classifies a failure for machines (connection_refused,
	// token_rejected, ...): inhibition matches on it. Empty when unknown.
	Cause string `json:"cause,omitempty"`
	// Source says where a memory rule's memory came from: telemetry, or
	// performance (/performance polled while the stream carries none).
	// Inhibition by telemetry_down concerns only memory from telemetry.
	// Empty for other events.
	Source string `json:"source,omitempty"`
	// At is when the transition happened. Since is, for a firing event,
	// when the condition began to hold (the start of the outage for
	// telemetry rules, the first failure of a check's streak); for a
	// resolved event, when it started firing.
	At    time.Time `json:"at"`
	Since time.Time `json:"since,omitzero"`
	// Value is the number judged at the transition (smoothed FPS, MB,
	// MB/min, seconds without data), in Unit; Threshold the rule's firing
	// threshold in the same unit. Both are zero for checks.
	Value     float64 `json:"value,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	// Unit is "fps", "MB", "MB/min" or "s"; empty for checks.
	Unit string `json:"unit,omitempty"`
	// Observed is what was seen, rendered for people in its unit ("60.3
	// fps", "HTTP 503"); Expected what the rule or check wants ("at least
	// 85 fps", "HTTP 200").
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	// Reason is one line naming the cause, e.g. "FPS 61.2 below 85 for 1m0s".
	Reason string `json:"reason"`
	// Hint is the likely cause and the next step, for a firing event: from
	// the rule's, check's or condition's row of its table, the one place it
	// is described. Empty for a resolved event.
	Hint string `json:"hint,omitempty"`
	// ProjectedLimitIn is, for memory_growth firing, the projected time
	// until memory reaches its limit (0 when already there or unknown).
	ProjectedLimitIn time.Duration `json:"projected_limit_in,omitempty"`
}

// Firing reports whether the event starts a condition.
func (e Event) Firing() bool { return e.State == StateFiring }

// String returns a one-line summary: "fps_low firing (warning): FPS 61.2 below 85 for 1m0s".
func (e Event) String() string {
	return e.Name + " " + string(e.State) + " (" + string(e.Severity) + "): " + e.Reason
}

// MarshalLogObject lets zap.Object("event", ev) log the event with the
// house's snake_case keys.
func (e Event) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("target", e.Target)
	enc.AddString("name", e.Name)
	enc.AddString("kind", string(e.Kind))
	enc.AddString("severity", string(e.Severity))
	enc.AddString("state", string(e.State))
	if e.Cause != "" {
		enc.AddString("cause", e.Cause)
	}
	if e.Source != "" {
		enc.AddString("source", e.Source)
	}
	enc.AddTime("at", e.At)
	enc.AddTime("since", e.Since)
	enc.AddString("observed", e.Observed)
	enc.AddString("expected", e.Expected)
	enc.AddString("reason", e.Reason)
	if e.ProjectedLimitIn > 0 {
		enc.AddDuration("projected_limit_in", e.ProjectedLimitIn)
	}
	return nil
}

// Sink receives events. Calls come from the monitor's goroutines (a
// target's watcher, its check runner), in order per target and condition;
// an implementation must not block for long.
type Sink interface {
	Handle(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Handle calls f.
func (f SinkFunc) Handle(ev Event) { f(ev) }

// StateOf is StateFiring when firing is true, StateResolved otherwise.
func StateOf(firing bool) State {
	if firing {
		return StateFiring
	}
	return StateResolved
}
