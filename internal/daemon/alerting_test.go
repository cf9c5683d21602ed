package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// alertingYAML routes every alert to a Slack webhook sink (the fake) on a
// fast clock: rules that hold for 1 s, groups flushed within a second.
func alertingYAML(webhookFile string) string {
	return fmt.Sprintf(`alerting:
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 5m
  grace_period: 0s
  outbox: {backoff_initial: 100ms, backoff_max: 1s}
  sinks:
    - name: oncall
      type: slack_webhook
      webhook_url_file: %s
      min_interval: 0s
`, webhookFile)
}

const fastRules = `  thresholds:
    fps: {for: 1s}
    memory: {for: 1s}
`

// TestAlertingEndToEnd: an FPS drop on the simulated instance reaches the
// fake Slack as one firing message and, after recovery, one resolved
// message; silences, the outbox and notify test work through the API; the
// webhook URL never leaks.
func TestAlertingEndToEnd(t *testing.T) {
	slack := slackfaketest.Start(t)
	sentinel := slack.URL() + "/services/T0SENTINEL/B0SENTINEL/SENTINELsecretXYZ"
	dir := t.TempDir()
	webhookFile := filepath.Join(dir, "slack-webhook")
	testkit.WriteFile(t, webhookFile, sentinel+"\n")

	s := simtest.Start(t, sim.Options{})
	cfg := alertingYAML(webhookFile) + strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, cfg)
	d := startDaemon(t, configFile, daemonSetup{})
	client, err := daemon.NewClient(d.url, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// notify test reaches the fake Slack.
	res, err := client.NotifyTest(ctx, "")
	if err != nil || len(res.Results) != 1 || !res.Results[0].Delivered {
		t.Fatalf("notify test = %+v, %v", res, err)
	}

	countText := func(sub string) int { return slackMentions(slack, sub) }
	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "a firing fps_low message in Slack", func() (bool, string) {
		return countText("fps_low") >= 1, fmt.Sprintf("%d messages", len(slack.Messages()))
	})
	// The rule's values reach the sink as the monitor rendered them.
	if countText("at least 85 fps") == 0 {
		t.Errorf("no message says what fps_low expects (at least 85 fps)")
	}
	if err := s.PatchFaults([]byte(`{"fps": 90}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "a resolved fps_low message in Slack", func() (bool, string) {
		return countText("fps_low") >= 2, fmt.Sprintf("%d messages mention fps_low", countText("fps_low"))
	})
	if n := countText("fps_low"); n != 2 {
		t.Fatalf("%d messages mention fps_low, want exactly 1 firing and 1 resolved", n)
	}

	// The alert's history is in /api/v1/alerts; a silence suppresses the next one.
	sil, err := client.AddSilence(ctx, daemon.AddSilenceRequest{Target: "main", Alert: "fps_low", Duration: "1h", Comment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.Silences(ctx)
	if err != nil || len(list) != 1 || list[0].ID != sil.ID {
		t.Fatalf("silences = %+v, %v", list, err)
	}
	before := len(slack.Messages())
	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "fps_low firing (silenced) in /api/v1/alerts", func() (bool, string) {
		code, body := d.get("/api/v1/alerts")
		var resp daemon.AlertsResponse
		_ = json.Unmarshal([]byte(body), &resp)
		for _, a := range resp.Alerts {
			if a.Name == "fps_low" && a.Silenced {
				return true, ""
			}
		}
		return false, fmt.Sprint(code, " ", body)
	})
	time.Sleep(1500 * time.Millisecond) // two group intervals: a message would have gone by now
	if after := len(slack.Messages()); after != before {
		t.Fatalf("a silenced alert was notified: %d → %d messages", before, after)
	}
	if _, err := client.ExpireSilence(ctx, sil.ID); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the alert notified once its silence expired", func() (bool, string) {
		return len(slack.Messages()) > before, ""
	})

	// Slack has the message a moment before the outbox commits its
	// removal (the dispatcher removes it only after the confirmation).
	testkit.Eventually(t, 10*time.Second, "the outbox drained, no dead letter", func() (bool, string) {
		ob, err := client.Outbox(ctx)
		return err == nil && ob.Pending["oncall"] == 0 && len(ob.DeadLetters) == 0, fmt.Sprintf("%+v %v", ob, err)
	})
	_, metrics := d.get("/metrics")
	for _, want := range []string{`spacetime_alerts_firing{alert="fps_low",severity="warning",target="main"} 1`, `spacetime_watch_notifications_total{result="delivered",sink="oncall"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The webhook URL (and its secret path) appears nowhere.
	secret := "SENTINELsecretXYZ"
	_, status := d.get("/api/v1/status")
	_, alerts := d.get("/api/v1/alerts")
	for what, text := range map[string]string{"/metrics": metrics, "status": status, "alerts": alerts} {
		if strings.Contains(text, secret) {
			t.Errorf("%s contains the webhook URL's secret", what)
		}
	}
	for _, m := range slack.Messages() {
		if strings.Contains(string(m.Blocks)+m.Text, secret) {
			t.Errorf("a Slack message contains the webhook URL's secret")
		}
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(d.stateDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), secret) {
			t.Errorf("state file %s contains the webhook URL's secret", path)
		}
		return nil
	})
}
