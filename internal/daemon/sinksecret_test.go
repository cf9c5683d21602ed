package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMissingSinkSecretHealsWithoutRestart: the daemon starts although
// one sink's webhook file does not exist; that sink is unhealthy (the
// metric and notify test name the file to create), NotificationsFailing
// reaches the other sink, and creating the file heals the sink at its next
// attempt, with the daemon still running.
func TestMissingSinkSecretHealsWithoutRestart(t *testing.T) {
	slack := slackfaketest.Start(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "oncall-webhook") // created later
	teamFile := testkit.WriteFileIn(t, dir, "team-webhook", slack.WebhookURL()+"\n")
	s := simtest.Start(t, sim.Options{})
	cfg := alertingYAML(missing) + fmt.Sprintf("    - {name: team, type: slack_webhook, webhook_url_file: %s, min_interval: 0s}\n", teamFile) +
		configYAML(t, dir, simTarget{"main", s})
	d := startDaemon(t, testkit.WriteFileIn(t, dir, "config.yaml", cfg), daemonSetup{})
	ctx := context.Background()
	unavailable := map[string]string{"sink": "oncall", "source": "file " + missing}

	waitValue(t, d.reg, 10*time.Second, "spacetime_watch_sink_secret_unavailable", unavailable, 1)
	var out, errOut testkit.Buffer
	code := cli.NotifyTest(ctx, cli.DaemonOptions{URL: d.url}, "oncall", &out, &errOut)
	if code != cli.ExitError || !strings.Contains(out.String(), "secret file "+missing+" does not exist: create it") {
		t.Errorf("notify test: exit %d, does not name the file to create:\n%s%s", code, out.String(), errOut.String())
	}
	testkit.Eventually(t, 10*time.Second, "NotificationsFailing naming the file to create, at the team sink", func() (bool, string) {
		return slackMentions(slack, alert.AlertNotificationsFailing) > 0 && slackMentions(slack, missing) > 0,
			fmt.Sprintf("%d messages: %v", len(slack.Messages()), slack.Messages())
	})

	testkit.WriteFile(t, missing, slack.WebhookURL()+"\n")
	waitValue(t, d.reg, 10*time.Second, "spacetime_watch_sink_secret_unavailable", unavailable, 0)
	// The queued NotificationsFailing reached the healed sink, whose
	// delivery resolves it: a resolved message at the team.
	testkit.Eventually(t, 10*time.Second, "NotificationsFailing resolved", func() (bool, string) {
		ob, body := d.get("/api/v1/outbox")
		return strings.Contains(body, `"oncall": 0`) && slackMentions(slack, "RESOLVED") > 0, fmt.Sprint(ob, body)
	})
	out = testkit.Buffer{}
	if code := cli.NotifyTest(ctx, cli.DaemonOptions{URL: d.url}, "oncall", &out, &errOut); code != cli.ExitOK {
		t.Errorf("notify test after the heal: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}
