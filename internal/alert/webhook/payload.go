package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/alertmanager"
)

// Version is the payload's version: Alertmanager's webhook message, 4.
const Version = "4"

// TestLabel, with value "true", marks the alert of `spacetime-watch notify
// test`, so that a receiver can route it away from people.
const TestLabel = "spacetime_watch_test"

// Payload is the body of every POST: Alertmanager's webhook message,
// version 4, field for field (Alertmanager's notify/webhook Message and
// template.Data), so that a receiver written for Alertmanager decodes it.
type Payload struct {
	// Receiver is the sink's name.
	Receiver string `json:"receiver"`
	// Status is "firing" when any alert fires, else "resolved".
	Status string `json:"status"`
	// Alerts are the notified alerts, firing first, at most max_alerts.
	Alerts []Alert `json:"alerts"`
	// GroupLabels are the labels the alerts were grouped by (group_by).
	GroupLabels map[string]string `json:"groupLabels"`
	// CommonLabels and CommonAnnotations are those every alert shares.
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	// ExternalURL is empty: the daemon has no web interface to link.
	ExternalURL string `json:"externalURL"`
	// Version is always "4".
	Version string `json:"version"`
	// GroupKey identifies the group, as `{target="main"}`.
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts counts the alerts left out by max_alerts.
	TruncatedAlerts int `json:"truncatedAlerts"`
}

// Alert is one alert of a Payload.
type Alert struct {
	// Status is "firing" or "resolved".
	Status string `json:"status"`
	// Labels and Annotations are the Alertmanager sink's.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// StartsAt is when the condition began; EndsAt when it ended, the zero
	// time ("0001-01-01T00:00:00Z", as in Alertmanager) while it fires.
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// GeneratorURL is the alert's dashboard link, when configured.
	GeneratorURL string `json:"generatorURL"`
	// Fingerprint identifies the alert: the same for every notification
	// of one (target, alert).
	Fingerprint string `json:"fingerprint"`
}

// alertsPayload renders a group notification's firing and resolved
// alerts, cut to maxAlerts: the message lists firing and most severe
// alerts first, so those are kept. ok is false when none is left.
func (n *Notifier) alertsPayload(m alert.Message) (p Payload, ok bool) {
	var alerts []alert.Alert
	for _, a := range m.Alerts {
		if a.State == alert.StateFiring || a.State == alert.StateResolved {
			alerts = append(alerts, a)
		}
	}
	if len(alerts) == 0 {
		return Payload{}, false
	}
	truncated := 0
	if n.maxAlerts > 0 && len(alerts) > n.maxAlerts {
		alerts, truncated = alerts[:n.maxAlerts], len(alerts)-n.maxAlerts
	}
	out := make([]Alert, len(alerts))
	for i, a := range alerts {
		out[i] = Alert{
			Status:       string(a.State),
			Labels:       alertmanager.Labels(a),
			Annotations:  alertmanager.Annotations(a),
			StartsAt:     a.StartsAt.UTC(),
			EndsAt:       a.EndsAt.UTC(),
			GeneratorURL: a.DashboardURL,
			Fingerprint:  a.Fingerprint,
		}
	}
	groupLabels := maps.Clone(m.GroupLabels)
	if groupLabels == nil {
		groupLabels = map[string]string{}
	}
	return n.payload(out, groupLabels, m.GroupKey, truncated), true
}

// testPayload renders `spacetime-watch notify test`: one firing
// SpacetimeWatchTest alert, in a group of its own, ending
// alertmanager.TestAlertLifetime after now.
func (n *Notifier) testPayload(m alert.Message, now time.Time) Payload {
	summary := m.Title
	if summary == "" {
		summary = "spacetime-watch test notification"
	}
	a := alert.Alert{Name: alertmanager.TestAlertName, Target: m.Target, Severity: alert.SeverityInfo,
		Summary: summary, Reason: m.Text}
	labels := alertmanager.Labels(a)
	labels[TestLabel] = "true"
	labels["test_id"] = m.ID
	test := Alert{
		Status:      string(alert.StateFiring),
		Labels:      labels,
		Annotations: alertmanager.Annotations(a),
		StartsAt:    now.UTC(),
		EndsAt:      now.Add(alertmanager.TestAlertLifetime).UTC(),
		Fingerprint: fingerprint(labels),
	}
	group := map[string]string{"test_id": m.ID}
	return n.payload([]Alert{test}, group, `{test_id=`+strconv.Quote(m.ID)+`}`, 0)
}

// payload completes alerts into a Payload: the status, and the labels and
// annotations the alerts have in common.
func (n *Notifier) payload(alerts []Alert, groupLabels map[string]string, groupKey string, truncated int) Payload {
	p := Payload{
		Receiver:          n.name,
		Status:            string(alert.StateResolved),
		Alerts:            alerts,
		GroupLabels:       groupLabels,
		CommonLabels:      common(alerts, func(a Alert) map[string]string { return a.Labels }),
		CommonAnnotations: common(alerts, func(a Alert) map[string]string { return a.Annotations }),
		Version:           Version,
		GroupKey:          groupKey,
		TruncatedAlerts:   truncated,
	}
	for _, a := range alerts {
		if a.Status == string(alert.StateFiring) {
			p.Status = string(alert.StateFiring)
		}
	}
	return p
}

// common returns the pairs of field that every alert has, as
// Alertmanager computes commonLabels and commonAnnotations.
func common(alerts []Alert, field func(Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, field(alerts[0]))
	for _, a := range alerts[1:] {
		f := field(a)
		maps.DeleteFunc(out, func(k, v string) bool {
			w, ok := f[k]
			return !ok || w != v
		})
	}
	return out
}

// fingerprint identifies an alert by its labels, for the test alert
// (the others carry the alert manager's fingerprint): 16 hex digits, as
// Alertmanager's.
func fingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		h.Write([]byte(k + "\x00" + labels[k] + "\x00"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
