// Package event holds the vocabulary the monitor and the alerting layer
// share about a condition: its kind and its severity. It sits at the bottom
// of the house, so that monitor and alert agree without importing each
// other.
package event

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
