package daemon_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSlackOutageKeepsDaemonHealthy: a sink answering 503 for several
// watchdog intervals (the dispatcher backing off) and then hanging within
// its timeout (the dispatcher in a bounded call) is waiting, not wedged:
// /-/healthy stays 200 and WATCHDOG=1 keeps coming.
func TestSlackOutageKeepsDaemonHealthy(t *testing.T) {
	const watchdog = 2 * time.Second // a busy budget of 1 s
	slack := slackfaketest.Start(t)
	faults := make([]slackfake.Fault, 0, 12)
	for range 10 {
		faults = append(faults, slackfake.ServerError(503))
	}
	faults = append(faults, slackfake.Hang(), slackfake.Hang())
	slack.Inject(slackfake.Webhook, faults...)

	// The sink's attempts are bounded by 3 s, longer than the budget.
	configFile := fpsLowSetup(t, slack, "      timeout: 3s\n")
	d := startDaemon(t, configFile, daemonSetup{watchdog: watchdog})

	// Through the 503s and into the hangs, checked on every answer.
	var checks int
	testkit.Eventually(t, 60*time.Second, "the sink's 503s used up and a hang in progress", func() (bool, string) {
		if code, body, err := tryGet(d.url + "/-/healthy"); err != nil || code != 200 {
			t.Fatalf("/-/healthy during the Slack outage: %d %q %v", code, body, err)
		}
		checks++
		return slack.PendingFaults(slackfake.Webhook) == 0, fmt.Sprintf("%d faults left", slack.PendingFaults(slackfake.Webhook))
	})
	pings := d.notifier.count("WATCHDOG=1")
	// Through both hangs (3 s each, beyond the watchdog interval).
	testkit.Eventually(t, 30*time.Second, "fps_low delivered after the outage", func() (bool, string) {
		if code, body, err := tryGet(d.url + "/-/healthy"); err != nil || code != 200 {
			t.Fatalf("/-/healthy during a hanging send: %d %q %v", code, body, err)
		}
		return slackMentions(slack, "fps_low") >= 1, fmt.Sprintf("%d messages", len(slack.Messages()))
	})
	if n := d.notifier.count("WATCHDOG=1"); n <= pings {
		t.Errorf("WATCHDOG=1 sent %d times before the hangs and %d after: the watchdog stopped during a bounded send", pings, n)
	}
	t.Logf("%d /-/healthy checks during the outage, all 200", checks)
}

// fpsLowSetup writes a config whose one target ("main", a simulated
// instance already at 60 FPS) fires fps_low within seconds, routed to the
// Slack webhook sink "oncall" on slack; sinkExtra is appended to the sink's
// keys. It returns the config file's path.
func fpsLowSetup(t *testing.T, slack *slackfake.Server, sinkExtra string) string {
	t.Helper()
	dir := t.TempDir()
	webhookFile := filepath.Join(dir, "slack-webhook")
	testkit.WriteFile(t, webhookFile, slack.WebhookURL()+"\n")
	s := simtest.Start(t, sim.Options{})
	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, alertingYAML(webhookFile)+sinkExtra+
		strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1))
	return configFile
}
