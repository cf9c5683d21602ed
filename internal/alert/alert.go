// Package alert turns the monitor's condition events into notifications
// on-call engineers trust: one alert per (target, rule or check) with a
// pending → firing → resolved lifecycle, grouping as Alertmanager does it,
// deployment grace, silences, state that survives restarts, and a durable
// outbox that delivers every notification at least once, in order, to each
// sink (one sub-package per sink: slack, slackbot, alertmanager, webhook,
// console).
//
// alert never imports monitor: the daemon adapts monitor events to Event.
package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// Severity ranks an alert. It is a label value and a JSON value as it is.
type Severity = event.Severity

// Severities, most urgent first.
const (
	SeverityCritical = event.SeverityCritical
	SeverityWarning  = event.SeverityWarning
	SeverityInfo     = event.SeverityInfo
)

// State is where an alert stands.
type State string

// Alert states.
const (
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// Deployment is the deployment an alert happened during.
type Deployment struct {
	ID        string    `json:"id"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// Alert is one alert's state as it is notified.
type Alert struct {
	// Fingerprint identifies the alert: stable across restarts for the
	// same (target, name).
	Fingerprint string `json:"fingerprint"`
	// Target, Name and Severity are the alert's labels.
	Target   string   `json:"target"`
	Name     string   `json:"alert"`
	Severity Severity `json:"severity"`
	// State is firing or resolved in a notification (pending in /api/v1/alerts).
	State State `json:"state"`
	// StartsAt is when the condition began; EndsAt when it ended (zero while firing).
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Summary says what is wrong in one line ("FPS below 85 on main").
	Summary string `json:"summary"`
	// Reason is the monitor's one-line cause; Observed and Expected the values behind it.
	Reason   string `json:"reason"`
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	// Hint is the likely cause and the next step, while firing (empty once
	// resolved, and for alerts the monitor has no hint for).
	Hint string `json:"hint,omitempty"`
	// Deployment is the target's current deployment, when known.
	Deployment *Deployment `json:"deployment,omitempty"`
	// RunbookURL and DashboardURL come from the config's templates.
	RunbookURL   string `json:"runbook_url,omitempty"`
	DashboardURL string `json:"dashboard_url,omitempty"`
	// Kind is check, rule or condition; Cause the failure's class, if known.
	Kind  event.Kind `json:"kind,omitempty"`
	Cause string     `json:"cause,omitempty"`
	// Silenced, Held and Inhibited say why a tracked alert is not notified
	// (in /api/v1/alerts); InhibitedBy names the firing alert that explains
	// it, InhibitRule the dependency ("instance unreachable").
	Silenced    bool   `json:"silenced,omitempty"`
	Held        bool   `json:"held,omitempty"`
	Inhibited   bool   `json:"inhibited,omitempty"`
	InhibitedBy string `json:"inhibited_by,omitempty"`
	InhibitRule string `json:"inhibit_rule,omitempty"`
}

// MessageKind says what a Message carries.
type MessageKind string

// Message kinds.
const (
	// KindAlerts is a group notification: firing and/or resolved alerts.
	KindAlerts MessageKind = "alerts"
	// KindTest is `spacetime-watch notify test`: clearly marked, no alerts.
	KindTest MessageKind = "test"
	// KindText is free text (reviews, operator notices), in the
	// deployment's thread where a sink has threads.
	KindText MessageKind = "text"
)

// Message is one notification: what a sink renders and delivers. It is
// JSON-encoded into the outbox before any delivery is attempted.
type Message struct {
	// ID is unique per message; sinks may use it for idempotency.
	ID string `json:"id"`
	// Kind says what the message carries.
	Kind MessageKind `json:"kind"`
	// GroupKey identifies the alert group (e.g. `{target="main"}`).
	GroupKey string `json:"group_key,omitempty"`
	// GroupLabels are the group_by labels and their values.
	GroupLabels map[string]string `json:"group_labels,omitempty"`
	// Alerts are the group's alerts to notify, firing first (most severe
	// first), then resolved. A sink that cannot show them all says how many
	// more there are ("… 37 more alerts"); /api/v1/alerts has the full list.
	Alerts []Alert `json:"alerts,omitempty"`
	// Title and Text carry KindTest and KindText messages.
	Title string `json:"title,omitempty"`
	Text  string `json:"text,omitempty"`
	// Target and Deployment place the message: the bot sink posts in the
	// deployment's thread.
	Target     string      `json:"target,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"`
	// CreatedAt is when the message was built.
	CreatedAt time.Time `json:"created_at"`
}

// Firing returns the message's firing alerts.
func (m Message) Firing() []Alert { return m.filter(StateFiring) }

// Resolved returns the message's resolved alerts.
func (m Message) Resolved() []Alert { return m.filter(StateResolved) }

func (m Message) filter(s State) []Alert {
	var out []Alert
	for _, a := range m.Alerts {
		if a.State == s {
			out = append(out, a)
		}
	}
	return out
}

// Notifier delivers messages to one sink. Notify returns retry=true when
// the failure is transient (5xx, 429, connection reset: try again later)
// and false when retrying cannot help (invalid token, channel not found,
// invalid payload): the message then goes to the dead-letter list. A
// *DeliveryError carries the details (HTTP code, the sink's reason,
// Retry-After). Errors never contain a secret (webhook URL, token).
type Notifier interface {
	// Name is the sink's configured name, used in metrics and logs.
	Name() string
	// Notify delivers m, honouring ctx's deadline.
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

// NotifierFunc adapts a function to Notifier (tests).
type NotifierFunc struct {
	SinkName string
	Fn       func(ctx context.Context, m Message) (bool, error)
}

// Name returns SinkName.
func (f NotifierFunc) Name() string { return f.SinkName }

// Notify calls Fn.
func (f NotifierFunc) Notify(ctx context.Context, m Message) (bool, error) { return f.Fn(ctx, m) }

// DeliveryError is a failed delivery, as precise as the sink's answer.
type DeliveryError struct {
	// Sink is the sink's name.
	Sink string
	// Code is the HTTP status, 0 for a transport failure.
	Code int
	// Reason is the sink's own error word (invalid_token, channel_not_found,
	// rate_limited, ...) or a short description.
	Reason string
	// RetryAfter is how long the sink asked us to wait (Retry-After header,
	// or a body field where the sink only says it there); 0 when unknown.
	RetryAfter time.Duration
	// Err is the underlying error, already free of secrets.
	Err error
}

func (e *DeliveryError) Error() string {
	msg := fmt.Sprintf("%s: delivery failed", e.Sink)
	if e.Code != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.Code)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	// A sink's answer can echo its secret in any form its redactor did
	// not foresee: the process-wide one knows every secret by value.
	return secret.Clean(msg)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// RetryAfter returns the wait a sink asked for in err, or 0.
func RetryAfter(err error) time.Duration {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.RetryAfter
	}
	return 0
}

// KV is the small durable key-value space a sink gets for its own state
// (the bot's message timestamps per alert and thread), backed by the store.
type KV interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
	Delete(key string) error
}

// TransportReason is a short word for a failure that got no HTTP answer,
// for DeliveryError.Reason: canceled, timeout, connection refused,
// connection reset, or transport error.
func TransportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	default:
		return "transport error"
	}
}
