package daemon_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSystemdStatus: the daemon tells systemd, in one STATUS= line, how
// many targets it watches, how many alerts fire and how many notifications
// wait in the outbox, and sends the line again only when it changed,
// although it looks every 20 ms. The line follows an FPS drop (an alert
// fires), a Slack outage (the notification waits, about 1.5 s of retries),
// Slack's recovery and the instance's recovery.
func TestSystemdStatus(t *testing.T) {
	t.Parallel()
	slack := slackfaketest.Start(t)
	dir := t.TempDir()
	webhookFile := testkit.WriteFileIn(t, dir, "slack-webhook", slack.URL()+"/services/T0/B0/status-test\n")
	main, other := simtest.Start(t, sim.Options{}), simtest.Start(t, sim.Options{})
	cfg := alertingYAML(webhookFile) + strings.Replace(configYAML(t, dir, simTarget{"main", main}, simTarget{"other", other}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := testkit.WriteFileIn(t, dir, "config.yaml", cfg)
	d := startDaemon(t, configFile, daemonSetup{statusInterval: 20 * time.Millisecond})

	statuses := func() []string {
		var out []string
		for _, s := range d.notifier.sent() {
			if line, ok := strings.CutPrefix(s, "STATUS="); ok {
				out = append(out, line)
			}
		}
		return out
	}
	// waitStatus waits for want among the lines sent since the last one
	// it found, so that a brief state is not missed between polls.
	seen := 0
	waitStatus := func(want string) {
		t.Helper()
		testkit.Eventually(t, 20*time.Second, fmt.Sprintf("STATUS=%s", want), func() (bool, string) {
			got := statuses()
			if i := slices.Index(got[seen:], want); i >= 0 {
				seen += i + 1
				return true, ""
			}
			return false, fmt.Sprintf("sent %q", got)
		})
	}

	waitStatus("watching 2 targets; 0 alerts firing; outbox 0 pending")
	slack.FailNext(slackfake.Webhook, 4, 500, "", nil)
	if err := main.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	waitStatus("watching 2 targets; 1 alert firing; outbox 1 pending")
	waitStatus("watching 2 targets; 1 alert firing; outbox 0 pending")
	if err := main.PatchFaults([]byte(`{"fps": 90}`)); err != nil {
		t.Fatal(err)
	}
	waitStatus("watching 2 targets; 0 alerts firing; outbox 0 pending")

	got := statuses()
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Errorf("STATUS=%s sent twice in a row: the daemon sends only changes; all: %q", got[i], got)
		}
	}
	if !strings.HasPrefix(d.notifier.sent()[0], "READY=1") {
		t.Errorf("first notification %q, want READY=1 before any STATUS=", d.notifier.sent()[0])
	}
}
