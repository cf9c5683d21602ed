package webhook

import (
	"context"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestPayloadGolden posts a group with a firing and a resolved alert, and
// a notify test, to a loopback receiver: each body is one POST of JSON,
// Alertmanager's webhook message v4 field for field, as the golden files
// show it (times as offsets from the test's base date).
func TestPayloadGolden(t *testing.T) {
	base := testkit.BaseTime(t)
	tests := []struct {
		golden string
		msg    alert.Message
	}{
		{"alerts.golden.json", group(base, fpsLow(base), memoryHigh(base))},
		{"test.golden.json", alert.Message{ID: "test-1", Kind: alert.KindTest, Title: "spacetime-watch test notification",
			Text: "This is a test sent by `spacetime-watch notify test`. Nothing is wrong.", CreatedAt: base}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			rc := &receiver{}
			n := newNotifier(t, serve(t, rc)+"/hook", Options{})
			if retry, err := n.Notify(context.Background(), tc.msg); err != nil {
				t.Fatalf("Notify = %v, %v; want delivered", retry, err)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s (%s), want POST /hook of application/json", r.Method, r.Path, r.Header.Get("Content-Type"))
			}
			r.payload(t) // decodes strictly
			checkGolden(t, tc.golden, relativeTimes(t, r.Body, base))
		})
	}
}

// TestPayloadStatusAndCommon: the payload's status is firing while any
// alert fires; common labels and annotations are those all alerts share.
func TestPayloadStatusAndCommon(t *testing.T) {
	base := testkit.BaseTime(t)
	n := newNotifier(t, "http://127.0.0.1:1/hook", Options{})
	resolvedFPS := fpsLow(base)
	resolvedFPS.State, resolvedFPS.EndsAt = alert.StateResolved, base

	p, _ := n.alertsPayload(group(base, resolvedFPS, memoryHigh(base)))
	if p.Status != "resolved" {
		t.Errorf("status of resolved alerts = %q, want resolved", p.Status)
	}
	wantCommon := map[string]string{"job": "spacetime-watch", "target": "main"}
	if !maps.Equal(p.CommonLabels, wantCommon) {
		t.Errorf("commonLabels = %v, want %v", p.CommonLabels, wantCommon)
	}
	if !maps.Equal(p.CommonAnnotations, map[string]string{"deployment_version": "1.4.2"}) {
		t.Errorf("commonAnnotations = %v, want the deployment only", p.CommonAnnotations)
	}
	if p.Alerts[0].EndsAt != base {
		t.Errorf("endsAt = %v, want %v", p.Alerts[0].EndsAt, base)
	}

	p, _ = n.alertsPayload(group(base, memoryHigh(base), fpsLow(base)))
	if p.Status != "firing" {
		t.Errorf("status with a firing alert = %q, want firing", p.Status)
	}
}

// TestMaxAlerts cuts a large group as Alertmanager's max_alerts does:
// the first alerts kept, the rest counted in truncatedAlerts.
func TestMaxAlerts(t *testing.T) {
	base := testkit.BaseTime(t)
	var alerts []alert.Alert
	for i := range 7 {
		a := fpsLow(base)
		a.Target = string(rune('a' + i))
		alerts = append(alerts, a)
	}
	rc := &receiver{}
	url := serve(t, rc)
	for _, tc := range []struct{ max, kept, truncated int }{{0, 7, 0}, {3, 3, 4}, {7, 7, 0}, {10, 7, 0}} {
		n := newNotifier(t, url, Options{MaxAlerts: tc.max})
		if _, err := n.Notify(context.Background(), group(base, alerts...)); err != nil {
			t.Fatal(err)
		}
		reqs := rc.requests()
		p := reqs[len(reqs)-1].payload(t)
		if len(p.Alerts) != tc.kept || p.TruncatedAlerts != tc.truncated {
			t.Errorf("max_alerts %d: %d alerts, %d truncated; want %d, %d", tc.max, len(p.Alerts), p.TruncatedAlerts, tc.kept, tc.truncated)
		}
		if p.Alerts[0].Labels["target"] != "a" {
			t.Errorf("max_alerts %d: first alert %v, want the message's first", tc.max, p.Alerts[0].Labels)
		}
	}
}

// TestSkipsWhatHasNoAlerts: a text message (a review) and a message with
// no firing or resolved alert are delivered without a request; an unknown
// kind is refused for good.
func TestSkipsWhatHasNoAlerts(t *testing.T) {
	base := testkit.BaseTime(t)
	rc := &receiver{}
	n := newNotifier(t, serve(t, rc), Options{})
	pending := fpsLow(base)
	pending.State = alert.StatePending
	for _, m := range []alert.Message{
		{ID: "review", Kind: alert.KindText, Title: "hour-1 review of main 1.4.2: pass", Text: "…", Target: "main"},
		group(base),
		group(base, pending),
	} {
		if retry, err := n.Notify(context.Background(), m); retry || err != nil {
			t.Errorf("Notify(%s %s) = %v, %v; want skipped as delivered", m.Kind, m.ID, retry, err)
		}
	}
	if reqs := rc.requests(); len(reqs) != 0 {
		t.Errorf("%d requests, want none", len(reqs))
	}
	retry, err := n.Notify(context.Background(), alert.Message{ID: "x", Kind: "sms"})
	if retry || err == nil {
		t.Errorf("Notify(kind sms) = %v, %v; want a permanent error", retry, err)
	}
}

// TestTestAlertsAreDistinct: two notify tests are two alerts in two
// groups, so that a receiver that deduplicates does not swallow the second.
func TestTestAlertsAreDistinct(t *testing.T) {
	base := testkit.BaseTime(t)
	n := newNotifier(t, "http://127.0.0.1:1/hook", Options{})
	a := n.testPayload(alert.Message{ID: "t1", Kind: alert.KindTest}, base)
	b := n.testPayload(alert.Message{ID: "t2", Kind: alert.KindTest}, base.Add(time.Second))
	if a.GroupKey == b.GroupKey || a.Alerts[0].Fingerprint == b.Alerts[0].Fingerprint {
		t.Errorf("two tests share a group key (%s, %s) or a fingerprint (%s, %s)",
			a.GroupKey, b.GroupKey, a.Alerts[0].Fingerprint, b.Alerts[0].Fingerprint)
	}
	if a.Alerts[0].Annotations["summary"] != "spacetime-watch test notification" {
		t.Errorf("untitled test summary = %q", a.Alerts[0].Annotations["summary"])
	}
}
