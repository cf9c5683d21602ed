// Package labels names the labels an alert has and holds the matchers that
// select alerts by them, as Alertmanager's do: alert=fps_low,
// target!=canary, alert=~"fps_.*". Silences (internal/alert, the daemon's
// API) and inhibit rules (built in, and the config's
// alerting.inhibit_rules) share this one parser, so a matcher means the
// same wherever it is written. The package sits at the bottom of the
// house: config, alert and the daemon import it; it imports only event.
package labels

import (
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// The labels of an alert.
const (
	// Alert is the alert's name (the rule, check or condition).
	Alert = "alert"
	// Severity is critical, warning or info.
	Severity = "severity"
	// Target is the target's name.
	Target = "target"
	// Kind is check, rule or condition.
	Kind = "kind"
	// Cause is the machine-readable cause of a failing check
	// (connection_refused, token_rejected, ...); empty when unknown.
	Cause = "cause"
	// Source says where a rule's value came from (telemetry or
	// performance, for memory); empty when there is one source only.
	Source = "source"
)

// names lists every label, in the order messages list them.
var names = []string{Alert, Severity, Target, Kind, Cause, Source}

// Names returns every label name: alert, severity, target, kind, cause and
// source. The slice is the caller's.
func Names() []string { return slices.Clone(names) }

// Known reports whether name is one of the labels alerts have.
func Known(name string) bool { return slices.Contains(names, name) }

// List returns the label names for messages: "alert, severity, target,
// kind, cause or source".
func List() string {
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Severities returns the severities, most urgent first.
func Severities() []string {
	return []string{string(event.SeverityCritical), string(event.SeverityWarning), string(event.SeverityInfo)}
}

// Kinds returns the kinds: check, rule and condition.
func Kinds() []string {
	return []string{string(event.KindCheck), string(event.KindRule), string(event.KindCondition)}
}

// Getter is an alert's labels as matchers read them: the value of a label,
// "" for one the alert does not have.
type Getter interface {
	Get(name string) string
}
