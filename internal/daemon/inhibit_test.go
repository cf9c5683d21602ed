package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// alertNames are every alert the daemon may raise for a target.
func alertNames() []string {
	names := append([]string{monitor.ConditionTokenExpired, monitor.ConditionTokenRejected}, monitor.RuleNames()...)
	for _, c := range []string{"instance_up", "health", "status", "telemetry", "scene", "auth", "whitelist", "performance", "thresholds", "rate_limit"} {
		names = append(names, "check_"+c)
	}
	return names
}

// namedAlerts lists, per Slack message, the alerts it names: the fake
// records Block Kit and text, and every alert line carries its name.
func namedAlerts(slack *slackfake.Server) [][]string {
	var out [][]string
	for _, m := range slack.Messages() {
		body := string(m.Blocks) + m.Text
		var names []string
		for _, n := range alertNames() {
			if strings.Contains(body, n+" ") || strings.Contains(body, n+"*") || strings.Contains(body, n+"`") {
				names = append(names, n)
			}
		}
		out = append(out, names)
	}
	return out
}

// inhibitedAlerts lists the alerts /api/v1/alerts marks inhibited, as name<by.
func inhibitedAlerts(t *testing.T, d *runningDaemon) []string {
	t.Helper()
	_, body := d.get("/api/v1/alerts")
	var resp daemon.AlertsResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("/api/v1/alerts: %v: %s", err, body)
	}
	var out []string
	for _, a := range resp.Alerts {
		if a.Inhibited {
			out = append(out, a.Name+"<"+a.InhibitedBy)
		}
	}
	slices.Sort(out)
	return out
}

// startAlertingDaemon runs the daemon on a simulated instance with a fake
// Slack webhook sink, on the fast clock of the end-to-end tests.
func startAlertingDaemon(t *testing.T, s *sim.Sim) (*runningDaemon, *slackfake.Server, string) {
	t.Helper()
	slack := slackfake.New()
	t.Cleanup(slack.Close)
	dir := t.TempDir()
	webhookFile := filepath.Join(dir, "slack-webhook")
	writeFile(t, webhookFile, slack.WebhookURL()+"\n")
	cfg := alertingYAML(webhookFile) + strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := filepath.Join(dir, "config.yaml")
	writeFile(t, configFile, cfg)
	return startDaemon(t, configFile, daemonSetup{}), slack, filepath.Join(dir, "main.token")
}

// TestOneCauseOneAlert: the fault scenarios of inhibition, against the
// simulator and the fake Slack, counting alerts, not messages: every
// notification names exactly one alert, and the others the cause explains
// are listed as inhibited.
func TestOneCauseOneAlert(t *testing.T) {
	t.Run("API down", func(t *testing.T) {
		s := startSim(t, sim.Options{})
		d, slack, _ := startAlertingDaemon(t, s)
		if err := s.PatchFaults([]byte(`{"api_down": true}`)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "check_instance_up notified, the other checks inhibited", func() (bool, string) {
			inh := inhibitedAlerts(t, d)
			return len(slack.Messages()) >= 1 && len(inh) >= 2, fmt.Sprintf("messages %v, inhibited %v", namedAlerts(slack), inh)
		})
		for _, a := range inhibitedAlerts(t, d) {
			if !strings.HasSuffix(a, "<check_instance_up") && !strings.HasSuffix(a, "<telemetry_down") {
				t.Errorf("%s: inhibited by something other than the unreachable instance", a)
			}
		}
		if err := s.PatchFaults([]byte(`{"api_down": false}`)); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the resolution notified", func() (bool, string) {
			return len(slack.Messages()) >= 2, fmt.Sprint(namedAlerts(slack))
		})
		time.Sleep(2 * time.Second) // two group intervals: any further message would be here
		want := [][]string{{"check_instance_up"}, {"check_instance_up"}}
		if got := namedAlerts(slack); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("notifications name %v, want %v", got, want)
		}
	})

	t.Run("wrong token file", func(t *testing.T) {
		s := startSim(t, sim.Options{})
		d, slack, tokenFile := startAlertingDaemon(t, s)
		writeFile(t, tokenFile, "not-the-instance-token\n")
		eventually(t, 20*time.Second, "token_rejected notified", func() (bool, string) {
			return len(slack.Messages()) >= 1, fmt.Sprintf("inhibited %v", inhibitedAlerts(t, d))
		})
		body := string(slack.Messages()[0].Blocks) + slack.Messages()[0].Text
		if !strings.Contains(body, tokenFile) {
			t.Errorf("the notification does not name the token file %s: %s", tokenFile, body)
		}
		writeFile(t, tokenFile, s.Info().Token+"\n")
		eventually(t, 20*time.Second, "token_rejected resolved", func() (bool, string) {
			return len(slack.Messages()) >= 2, fmt.Sprint(namedAlerts(slack))
		})
		time.Sleep(2 * time.Second)
		want := [][]string{{"token_rejected"}, {"token_rejected"}}
		if got := namedAlerts(slack); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("notifications name %v, want %v", got, want)
		}
	})
}
