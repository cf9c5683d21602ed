package alertmanager

import (
	"maps"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// postableAlert is one element of the POST /api/v2/alerts body
// (PostableAlert in Alertmanager's OpenAPI specification). Alertmanager
// identifies an alert by its labels alone; annotations and times are the
// latest word on it.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// fromAlert renders a firing or resolved alert. A firing alert ends a
// keep-alive window after now, unless re-sent; a resolved one ends when it
// ended, which lies in the past, so Alertmanager resolves it at once.
func (n *Notifier) fromAlert(a alert.Alert, now time.Time) postableAlert {
	labels := n.baseLabels()
	if a.Target == alert.InternalTarget {
		maps.Copy(labels, n.ownLabels)
	}
	maps.Copy(labels, Labels(a))
	ann := Annotations(a)

	starts := a.StartsAt
	if starts.IsZero() || starts.After(now) {
		// Alertmanager rejects an alert that ends before it starts; a
		// start in the future can only be clock skew.
		starts = now
	}
	var ends time.Time
	if a.State == alert.StateResolved {
		ends = a.EndsAt
		if ends.IsZero() {
			ends = now
		}
		if ends.Before(starts) {
			ends = starts
		}
	} else {
		ends = now.Add(n.window())
	}
	generator := n.generator
	if absoluteURL(a.DashboardURL) {
		generator = a.DashboardURL
	}
	return postableAlert{
		Labels:       labels,
		Annotations:  ann,
		StartsAt:     starts.UTC(),
		EndsAt:       ends.UTC(),
		GeneratorURL: generator,
	}
}

// heartbeat is the always-firing dead man's switch. It starts when the
// notifier was made, so that re-sends do not restart it, and ends a
// keep-alive window after now: when the daemon stops, Alertmanager
// resolves it within 4 × ResendInterval.
func (n *Notifier) heartbeat(now time.Time) postableAlert {
	labels := n.baseLabels()
	maps.Copy(labels, n.ownLabels)
	maps.Copy(labels, n.hbLabels)
	labels["alertname"] = HeartbeatAlertName
	labels["severity"] = "none"
	starts := n.started
	if starts.After(now) {
		starts = now
	}
	return postableAlert{
		Labels: labels,
		Annotations: map[string]string{
			"summary": "spacetime-watch is running",
			"description": "Always firing while spacetime-watch runs (a dead man's switch): " +
				"route it to a receiver that alerts when it stops arriving.",
		},
		StartsAt:     starts.UTC(),
		EndsAt:       now.Add(n.window()).UTC(),
		GeneratorURL: n.generator,
	}
}

// testAlert is `spacetime-watch notify test`: a clearly named alert that
// resolves by itself after TestAlertLifetime. TestLabel="true" lets a
// route send it to a receiver that pages no one (an external label cannot
// take it away: the alert's own labels win). Its test_id label makes each
// test a new alert, so that a second test within the lifetime is notified
// too instead of being deduplicated into the first.
func (n *Notifier) testAlert(m alert.Message, now time.Time) postableAlert {
	labels := n.baseLabels()
	labels["alertname"] = TestAlertName
	labels["severity"] = string(alert.SeverityInfo)
	labels[TestLabel] = "true"
	put(labels, "target", m.Target)
	put(labels, "test_id", m.ID)
	summary := m.Title
	if summary == "" {
		summary = "spacetime-watch test notification"
	}
	ann := map[string]string{"summary": summary}
	put(ann, "description", m.Text)
	return postableAlert{
		Labels:       labels,
		Annotations:  ann,
		StartsAt:     now.UTC(),
		EndsAt:       now.Add(TestAlertLifetime).UTC(),
		GeneratorURL: n.generator,
	}
}

// baseLabels are the labels every alert carries: the external labels and
// the job.
func (n *Notifier) baseLabels() map[string]string {
	labels := maps.Clone(n.labels)
	labels["job"] = Job
	return labels
}

// put sets m[k] unless v is empty: Alertmanager treats an empty label as
// an absent one, and an empty annotation says nothing.
func put(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}
