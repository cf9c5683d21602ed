//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestTwoDaemonsOneSlackMessage is reliability scenario 20 on the
// documented HA path: two daemons, each with its own state dir, watch the
// same instance and send to one Alertmanager (Debian's
// prometheus-alertmanager on loopback), whose slack_configs post to the
// fake Slack's incoming webhook. The FPS drops and recovers: both daemons
// deliver the firing alert and its resolution, and the channel gets one
// firing message and one resolved message, because Alertmanager knows the
// two copies for one alert: their labels are the same, whichever daemon
// and host sent them. Daemons posting to Slack
// directly would post twice: the README says such a daemon must be the
// only one per channel.
func TestTwoDaemonsOneSlackMessage(t *testing.T) {
	bin := testkit.Tool(t, "prometheus-alertmanager")
	began := time.Now()
	fake := slackfaketest.Start(t)

	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(config, fmt.Appendf(nil, `route:
  receiver: slack
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: slack
    slack_configs:
      - api_url: %s
        channel: '#oncall'
        send_resolved: true
`, fake.WebhookURL()), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAlertmanager(t, bin, dir, config, "am", freePort(t, false), "--cluster.listen-address=")
	waitReady(t, a)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	inst := startChecklistSim(t)
	alerting := alertmanagerSink(a.url)
	daemons := []string{startDaemon(t, ctx, inst, "vr", alerting), startDaemon(t, ctx, inst, "vr", alerting)}
	for _, metrics := range daemons {
		waitMetric(t, metrics, `spacetime_telemetry_connected{target="vr"} 1`)
	}
	t.Logf("Alertmanager and two daemons ready in %s", time.Since(began).Round(time.Millisecond))

	if err := inst.PatchFaults([]byte(`{"fps":60}`)); err != nil {
		t.Fatal(err)
	}
	// Both daemons deliver the firing alert (and later its resolution):
	// the one message below is Alertmanager's doing, not a lost alert.
	for _, metrics := range daemons {
		waitMetric(t, metrics, `spacetime_alerts_firing{alert="fps_low",severity="warning",target="vr"} 1`)
	}
	waitSlack(t, fake, "FIRING")
	// One alert, whichever daemon sent it: its labels name nothing of the
	// daemon (no instance=<hostname>, which would make two daemons on two
	// hosts two alerts, and two messages).
	var held []map[string]string
	for _, labels := range activeAlerts(t, a.url) {
		if labels["alertname"] == "fps_low" {
			held = append(held, labels)
		}
	}
	if len(held) != 1 || held[0]["instance"] != "" {
		t.Errorf("Alertmanager holds fps_low as %v, want one alert without an instance label", held)
	}
	if err := inst.PatchFaults([]byte(`{"fps":90}`)); err != nil {
		t.Fatal(err)
	}
	waitSlack(t, fake, "RESOLVED")
	// Alertmanager gives no signal when it decides not to notify: two
	// group_interval flushes and a keep-alive resend are the window for a
	// second message.
	time.Sleep(2500 * time.Millisecond)

	var firing, resolved int
	for _, m := range fake.MessagesOf(slackfake.Webhook) {
		body := string(m.Attachments)
		t.Logf("Slack message: %s", body)
		switch {
		case !strings.Contains(body, "fps_low"):
		case strings.Contains(body, "FIRING"):
			firing++
		case strings.Contains(body, "RESOLVED"):
			resolved++
		}
	}
	if firing != 1 || resolved != 1 {
		t.Errorf("Slack got %d firing and %d resolved messages for fps_low from two daemons, want 1 and 1", firing, resolved)
	}
	t.Logf("end to end in %s", time.Since(began).Round(time.Millisecond))
}

// waitReady waits until the Alertmanager answers /-/ready.
func waitReady(t *testing.T, a *am) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(a.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if exited(a) || time.Now().After(deadline) {
			t.Fatalf("%s not ready within 15 s (%v); output:\n%s", a.name, err, a.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSlack waits until the fake Slack got a webhook message about
// fps_low whose attachments say state (FIRING or RESOLVED).
func waitSlack(t *testing.T, fake *slackfake.Server, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range fake.MessagesOf(slackfake.Webhook) {
			if body := string(m.Attachments); strings.Contains(body, "fps_low") && strings.Contains(body, state) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s Slack message for fps_low within 30 s; got %d messages, %d requests", state,
				len(fake.MessagesOf(slackfake.Webhook)), fake.Requests())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
