package slack

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// now is the fixtures' "message built at" time, 12:30 on the suite's base
// date; deployment is the fixtures' deployment. TestMain sets both.
var (
	now        time.Time
	deployment *alert.Deployment
)

// setFixtureTimes sets now and deployment from the suite's base date.
func setFixtureTimes() {
	now = testkit.MainBase().Add(2*time.Hour + 30*time.Minute)
	deployment = &alert.Deployment{ID: "dep-42", Version: "v2.4.1", StartedAt: now.Add(-2*time.Hour - 5*time.Minute)}
}

func fpsLow() alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-fps_low", Target: "main", Name: "fps_low", Severity: alert.SeverityCritical, State: alert.StateFiring,
		StartsAt: now.Add(-12 * time.Minute), Summary: "FPS below 85 on main", Reason: "fps 42.1 < 85 for 2m",
		Observed: "42.1 fps", Expected: "≥ 85 fps", Deployment: deployment,
		RunbookURL:   "https://runbooks.example.com/spacetime/fps_low",
		DashboardURL: "http://grafana.example.com/d/spacetime-watch?var-target=main&from=now-1h",
	}
}

func memoryHigh() alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-memory_high", Target: "main", Name: "memory_high", Severity: alert.SeverityWarning, State: alert.StateFiring,
		StartsAt: now.Add(-40 * time.Minute), Summary: "Memory above 3 GiB on main", Observed: "3.4 GiB", Expected: "< 3 GiB",
		Deployment: deployment, RunbookURL: "https://runbooks.example.com/spacetime/memory_high",
	}
}

func resolved(a alert.Alert, at time.Time) alert.Alert {
	a.State, a.EndsAt = alert.StateResolved, at
	return a
}

func group(alerts ...alert.Alert) alert.Message {
	return alert.Message{
		ID: "msg-1", Kind: alert.KindAlerts, GroupKey: `{target="main"}`, GroupLabels: map[string]string{"target": "main"},
		Alerts: alerts, Target: "main", Deployment: deployment, CreatedAt: now,
	}
}

// storm is n firing alerts on one target, as 200 breaches in 60 s make
// (docs/reliability.md scenario 6), with long summaries and reasons.
func storm(n int) alert.Message {
	alerts := make([]alert.Alert, n)
	for i := range alerts {
		a := fpsLow()
		a.Fingerprint = fmt.Sprintf("fp-%03d", i)
		a.Name = fmt.Sprintf("rule_%03d", i)
		a.Severity = []alert.Severity{alert.SeverityCritical, alert.SeverityWarning, alert.SeverityInfo}[i%3]
		a.Summary = fmt.Sprintf("Threshold %03d breached on main: the value stayed outside its band for the whole for-duration", i)
		alerts[i] = a
	}
	return group(alerts...)
}

// testClient is an http.Client of the test's own: its idle connections
// are closed at the end, so that goleak finds no keep-alive goroutine.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
