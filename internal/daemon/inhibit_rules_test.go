package daemon_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestUserInhibitRuleFromConfig: a rule written in the config file
// (alerting.inhibit_rules) mutes what it says on the running daemon: with
// FPS at 30, fps_critical is notified and fps_low, which it explains, is
// listed as inhibited under "inhibit_rules[0]"; when FPS comes back to 70,
// fps_low is notified on its own after inhibit_release.
func TestUserInhibitRuleFromConfig(t *testing.T) {
	slack := slackfaketest.Start(t)
	dir := t.TempDir()
	webhookFile := filepath.Join(dir, "slack-webhook")
	testkit.WriteFile(t, webhookFile, slack.WebhookURL()+"\n")
	s := simtest.Start(t, sim.Options{})
	rules := `  inhibit_rules:
    - source_matchers: ['alert="fps_critical"']
      target_matchers: [alert=fps_low]
  inhibit_release: 1s
`
	cfg := alertingYAML(webhookFile) + rules + strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, cfg)
	d := startDaemon(t, configFile, daemonSetup{})

	alerts := func() map[string]alert.Alert {
		_, body := d.get("/api/v1/alerts")
		var resp daemon.AlertsResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("/api/v1/alerts: %v: %s", err, body)
		}
		out := map[string]alert.Alert{}
		for _, a := range resp.Alerts {
			out[a.Name] = a
		}
		return out
	}

	if err := s.PatchFaults([]byte(`{"fps": 30}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "fps_critical notified, fps_low inhibited by it", func() (bool, string) {
		low := alerts()["fps_low"]
		return slackMentions(slack, "fps_critical") >= 1 && low.Inhibited, fmt.Sprintf("fps_low %+v; %d messages", low, len(slack.Messages()))
	})
	if low := alerts()["fps_low"]; low.InhibitedBy != "fps_critical" || low.InhibitRule != "inhibit_rules[0]" {
		t.Errorf("fps_low inhibited by %q under %q, want fps_critical under inhibit_rules[0]", low.InhibitedBy, low.InhibitRule)
	}
	if n := slackMentions(slack, "fps_low"); n != 0 {
		t.Fatalf("%d messages name the inhibited fps_low", n)
	}

	if err := s.PatchFaults([]byte(`{"fps": 70}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "fps_low notified once fps_critical resolved", func() (bool, string) {
		return slackMentions(slack, "fps_low") >= 1, fmt.Sprintf("alerts %+v", alerts())
	})
}

// TestUserInhibitRuleUnknownAlert: an inhibit rule naming an alert the
// daemon does not raise stops the daemon at start, with the path, the line
// and the likely name.
func TestUserInhibitRuleUnknownAlert(t *testing.T) {
	dir := t.TempDir()
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, "alerting:\n  inhibit_rules:\n    - source_matchers: [alert=check_instance_up]\n      target_matchers: [alert=fps_lwo]\n")
	_, err := daemon.LoadConfig(configFile)
	var cfgErr *daemon.ConfigError
	runErr := daemon.Run(t.Context(), daemon.Options{ConfigFile: configFile, StateDir: t.TempDir()})
	for _, e := range []error{err, runErr} {
		if e == nil || !strings.Contains(e.Error(), "line 4: alerting.inhibit_rules[0].target_matchers[0]: `alert=fps_lwo`: \"fps_lwo\" is not a known alert (did you mean fps_low?)") {
			t.Errorf("error %v, want the unknown alert named with its line and fps_low suggested", e)
		}
	}
	if !errors.As(runErr, &cfgErr) {
		t.Errorf("Run = %T, want a *daemon.ConfigError (exit status 3)", runErr)
	}
}
