package alert

import (
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// The labels of an alert, as groups, silences and inhibit rules see them
// (package labels names them; these are its names in this package).
const (
	// LabelTarget is the target's name.
	LabelTarget = labels.Target
	// LabelAlert is the alert's name (the rule or check).
	LabelAlert = labels.Alert
	// LabelSeverity is critical, warning or info.
	LabelSeverity = labels.Severity
	// LabelKind is check, rule or condition.
	LabelKind = labels.Kind
	// LabelCause is the machine-readable cause of a failing check
	// (connection_refused, token_rejected, ...); empty when unknown.
	LabelCause = labels.Cause
	// LabelSource says where a rule's value came from (telemetry or
	// performance, for memory); empty when there is one source only.
	LabelSource = labels.Source
)

// Severities lists the severities, most urgent first.
func Severities() []Severity { return []Severity{SeverityCritical, SeverityWarning, SeverityInfo} }

// Labels are an alert's labels (LabelTarget, LabelAlert, LabelSeverity), as
// groups and silences see them. Every alert has all three, never empty.
type Labels struct {
	Target, Alert string
	Severity      Severity
	// Kind, Cause and Source are what inhibit rules match on besides:
	// check|rule|condition, the failure's class, where a value came from.
	Kind          event.Kind
	Cause, Source string
}

// Get returns the value of the label name, "" for a label alerts do not
// have. Labels is a labels.Getter.
func (l Labels) Get(name string) string {
	switch name {
	case LabelAlert:
		return l.Alert
	case LabelTarget:
		return l.Target
	case LabelSeverity:
		return string(l.Severity)
	case LabelKind:
		return string(l.Kind)
	case LabelCause:
		return l.Cause
	case LabelSource:
		return l.Source
	}
	return ""
}
