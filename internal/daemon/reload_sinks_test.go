package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// sinksYAML is an alerting section on a fast clock with one Slack webhook
// sink per name, each reading its URL from the file of that name in dir.
func sinksYAML(dir string, names ...string) string {
	var b strings.Builder
	b.WriteString(strings.SplitAfter(alertingYAML(""), "  sinks:\n")[0])
	for _, n := range names {
		fmt.Fprintf(&b, "    - {name: %s, type: slack_webhook, webhook_url_file: %s, min_interval: 0s}\n", n, filepath.Join(dir, n+".url"))
	}
	return b.String()
}

// TestReloadSinks: a reload rebuilds the sinks. A changed sink keeps its
// queue (what it could not deliver before goes out through its new URL); an
// added sink delivers; a removed sink's undelivered messages become dead
// letters "sink removed by reload" without NotificationsFailing. A reload
// with a sink that cannot be built changes nothing (neither sinks nor
// targets), logs each problem and sets the reload metric to 0.
func TestReloadSinks(t *testing.T) {
	t.Parallel()
	slack := slackfaketest.Start(t)
	down := slackfake.New()
	downURL := down.WebhookURL()
	down.Close() // connection refused: every attempt fails, to be retried

	s := simtest.Start(t, sim.Options{})
	beta := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	testkit.WriteFileIn(t, dir, "oncall.url", downURL+"\n")
	testkit.WriteFileIn(t, dir, "gone.url", downURL+"\n")
	configFile := filepath.Join(dir, "config.yaml")
	targets := func(tgs ...simTarget) string {
		return strings.Replace(configYAML(t, dir, tgs...), "defaults:\n", "defaults:\n"+fastRules, 1)
	}
	testkit.WriteFile(t, configFile, sinksYAML(dir, "oncall", "gone")+targets(simTarget{"main", s}))
	core, logs := observer.New(zap.ErrorLevel)
	d := startDaemon(t, configFile, daemonSetup{logger: zap.New(core)})
	client, err := daemon.NewClient(d.url, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// fps_low fires; neither sink can deliver it.
	if err := s.PatchFaults([]byte(`{"fps": 60}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "fps_low queued for both sinks", func() (bool, string) {
		ob, err := client.Outbox(ctx)
		return err == nil && ob.Pending["oncall"] > 0 && ob.Pending["gone"] > 0, fmt.Sprint(ob.Pending, err)
	})

	t.Run("a sink that cannot be built fails the whole reload", func(t *testing.T) {
		testkit.WriteFileIn(t, dir, "bad1.url", "not a url\n")
		testkit.WriteFileIn(t, dir, "bad2.url", "ftp://nowhere\n")
		testkit.WriteFile(t, configFile, sinksYAML(dir, "oncall", "bad1", "bad2")+targets(simTarget{"main", s}, simTarget{"beta", beta}))
		d.sendReload()
		waitValue(t, d.reg, 5*time.Second, "spacetime_watch_config_last_reload_successful", nil, 0)
		for _, bad := range []string{"bad1", "bad2"} {
			if n := logs.FilterMessage("config reload problem").FilterFieldKey("problem").Filter(func(e observer.LoggedEntry) bool {
				return strings.Contains(fmt.Sprint(e.ContextMap()["problem"]), bad)
			}).Len(); n != 1 {
				t.Errorf("%d problem lines naming %s, want 1", n, bad)
			}
		}
		if names := targetNames(d.status()); names != "main" {
			t.Errorf("targets %s after the failed reload, want main alone", names)
		}
		if ob, _ := client.Outbox(ctx); ob.Pending["gone"] == 0 || len(ob.DeadLetters) != 0 {
			t.Errorf("outbox %+v after the failed reload, want gone's queue untouched", ob)
		}
	})

	testkit.WriteFileIn(t, dir, "oncall.url", slack.WebhookURL()+"\n")
	testkit.WriteFileIn(t, dir, "added.url", slack.WebhookURL()+"\n")
	// oncall changes: another URL file, and a longer timeout.
	changed := strings.Replace(sinksYAML(dir, "oncall", "added"), "min_interval: 0s}", "min_interval: 0s, timeout: 5s}", 1)
	testkit.WriteFile(t, configFile, changed+targets(simTarget{"main", s}))
	d.sendReload()
	waitValue(t, d.reg, 5*time.Second, "spacetime_watch_config_last_reload_successful", nil, 1)

	testkit.Eventually(t, 10*time.Second, "oncall's queued fps_low delivered through its new URL", func() (bool, string) {
		return slackMentions(slack, "fps_low") >= 1, fmt.Sprintf("%d messages", len(slack.Messages()))
	})
	ob, err := client.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, dl := range ob.DeadLetters {
		if dl.Sink == "gone" {
			gone = append(gone, dl.Reason)
		}
	}
	if len(gone) == 0 || slices.IndexFunc(gone, func(r string) bool { return r != alert.ReasonSinkRemoved }) >= 0 {
		t.Errorf("dead letters of the removed sink gone: %q, want each %q", gone, alert.ReasonSinkRemoved)
	}
	if _, ok := ob.Pending["gone"]; ok {
		t.Errorf("pending %v still lists the removed sink", ob.Pending)
	}
	res, err := client.NotifyTest(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var delivered []string
	for _, r := range res.Results {
		if r.Delivered {
			delivered = append(delivered, r.Sink)
		}
	}
	if !slices.Equal(delivered, []string{"oncall", "added"}) {
		t.Errorf("notify test delivered through %v, want oncall and added: %+v", delivered, res.Results)
	}
	// The added sink gets what is notified from now on: the resolution.
	if err := s.PatchFaults([]byte(`{"fps": 90}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "fps_low resolved through both sinks", func() (bool, string) {
		n := 0
		for _, m := range slack.Messages() {
			if strings.Contains(m.Text, "RESOLVED") {
				n++
			}
		}
		return n >= 2, fmt.Sprintf("%d resolved messages", n)
	})
	code, body := d.get("/api/v1/alerts")
	if code != 200 || strings.Contains(body, alert.AlertNotificationsFailing) {
		t.Errorf("/api/v1/alerts = %d, carries %s after a sink was removed: %s", code, alert.AlertNotificationsFailing, body)
	}
}
