package daemon_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// Reliability scenario 12 at run time: state.db damaged under a running
// daemon, and the safe start after damage found at open.

// botAlertingYAML routes every alert to a Slack bot sink on the fake, on
// the fast clock of alertingYAML.
func botAlertingYAML(t *testing.T, dir string, slack *slackfake.Server) string {
	t.Helper()
	tokenFile := filepath.Join(dir, "slack-bot-token")
	testkit.WriteFile(t, tokenFile, "xoxb-statedamage-test\n")
	return fmt.Sprintf(`alerting:
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 5m
  grace_period: 0s
  outbox: {backoff_initial: 100ms, backoff_max: 1s}
  sinks:
    - name: bot
      type: slack_bot
      bot_token_file: %s
      channel: C0STATE0001
      api_url: %s
      min_interval: 0s
`, tokenFile, slack.APIURL())
}

// startBotDaemon runs a daemon on stateDir watching one simulated target,
// "main", whose FPS is fps, alerting to the fake Slack.
func startBotDaemon(t *testing.T, stateDir string, fps int) (*runningDaemon, *slackfake.Server, *sim.Sim) {
	t.Helper()
	slack := slackfaketest.Start(t)
	s := simtest.Start(t, sim.Options{})
	if err := s.PatchFaults(fmt.Appendf(nil, `{"fps": %d}`, fps)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := botAlertingYAML(t, dir, slack) + strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n", "defaults:\n"+fastRules, 1)
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, cfg)
	return startDaemon(t, configFile, daemonSetup{stateDir: stateDir}), slack, s
}

// posts returns the texts of the messages posted (not updated) so far.
func posts(slack *slackfake.Server) []string {
	var out []string
	for _, m := range slack.MessagesOf(slackfake.PostMessage) {
		out = append(out, m.Text+string(m.Blocks))
	}
	return out
}

// countPosts counts the posts that mention sub.
func countPosts(slack *slackfake.Server, sub string) int {
	n := 0
	for _, p := range posts(slack) {
		if strings.Contains(p, sub) {
			n++
		}
	}
	return n
}

// waitRounds waits until target main has completed n scheduled rounds
// that started after after, and returns when the last of them ran.
func waitRounds(t *testing.T, d *runningDaemon, n int, after time.Time) time.Time {
	t.Helper()
	last := after
	for i := range n {
		testkit.Eventually(t, 20*time.Second, fmt.Sprintf("round %d of main after %s", i+1, after.Format(time.RFC3339Nano)), func() (bool, string) {
			for _, ts := range d.status().Targets {
				if ts.Name == "main" && ts.LastRound.After(last) {
					last = ts.LastRound
					return true, ""
				}
			}
			return false, fmt.Sprint(d.status().Targets)
		})
	}
	return last
}

// TestStateCorruptedWhileRunning overwrites state.db from byte 8192 with
// random bytes while the daemon runs with a Slack bot sink and an alert
// firing. The daemon keeps running: the damaged file is set aside, one
// StateRecovered alert goes out, the counter counts it, the next rounds
// re-announce nothing; the fresh state holds the alert state and the
// silences, so a restart on it announces nothing either, and the firing
// alert's resolution still goes out.
func TestStateCorruptedWhileRunning(t *testing.T) {
	stateDir := t.TempDir()
	d, slack, s := startBotDaemon(t, stateDir, 60)
	client, err := daemon.NewClient(d.url, "")
	if err != nil {
		t.Fatal(err)
	}
	sil, err := client.AddSilence(context.Background(), daemon.AddSilenceRequest{Target: "main", Alert: "memory_high", Duration: "1h", Comment: "kept across the damage"})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "a firing fps_low message", func() (bool, string) {
		return countPosts(slack, "fps_low") == 1, fmt.Sprint(posts(slack))
	})
	before := len(posts(slack))

	testkit.CorruptFrom(t, filepath.Join(stateDir, "state.db"), 8192)
	corruptedAt := time.Now()

	testkit.Eventually(t, 30*time.Second, "a StateRecovered message", func() (bool, string) {
		select {
		case err := <-d.done:
			t.Fatalf("the daemon stopped on damaged state: %v", err)
		default:
		}
		return countPosts(slack, "StateRecovered") >= 1, fmt.Sprint(posts(slack)[before:])
	})
	// The rounds after the recovery: each would notify what the daemon
	// forgot (group_wait is 200 ms, a round 1 s).
	waitRounds(t, d, 3, time.Now())

	if code, body := d.get("/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy = %d %s after the recovery, want 200", code, body)
	}
	if n := countPosts(slack, "StateRecovered"); n != 1 {
		t.Errorf("%d StateRecovered messages, want exactly 1", n)
	}
	if got := posts(slack)[before:]; len(got) != 1 {
		t.Errorf("%d messages since the damage, want only the StateRecovered one:\n%s", len(got), strings.Join(got, "\n"))
	}
	waitValue(t, d.reg, 5*time.Second, "spacetime_watch_state_load_errors_total", nil, 1)
	aside, _ := filepath.Glob(filepath.Join(stateDir, "state.db.corrupt-*"))
	if len(aside) != 1 {
		t.Errorf("damaged files kept aside: %v, want one state.db.corrupt-*", aside)
	}
	t.Logf("recovered %s after the damage", time.Since(corruptedAt).Round(time.Millisecond))

	// The fresh state holds what the daemon knew: restarted on it, the
	// daemon keeps the silence and announces nothing again.
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	d = startDaemon(t, d.configFile, daemonSetup{stateDir: stateDir})
	waitRounds(t, d, 3, time.Now())
	if n := countPosts(slack, "fps_low"); n != 1 {
		t.Errorf("%d fps_low messages after the restart on the recovered state, want still 1:\n%s", n, strings.Join(posts(slack), "\n"))
	}
	client, err = daemon.NewClient(d.url, "")
	if err != nil {
		t.Fatal(err)
	}
	if list, err := client.Silences(context.Background()); err != nil || len(list) != 1 || list[0].ID != sil.ID {
		t.Errorf("silences after the restart on the recovered state = %+v, %v; want %s", list, err, sil.ID)
	}

	// The daemon remembers what it announced: the resolution goes out (a
	// post, or an update of the firing message).
	mentions := func() int {
		n := 0
		for _, m := range slack.Messages() {
			if strings.Contains(m.Text+string(m.Blocks), "fps_low") {
				n++
			}
		}
		return n
	}
	was := mentions()
	if err := s.PatchFaults([]byte(`{"fps": 90}`)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the resolution of fps_low in Slack", func() (bool, string) {
		return mentions() > was, fmt.Sprint(posts(slack))
	})
}

// TestSafeStartAfterDamageFoundAtOpen: state.db is damaged before the
// daemon starts, with no backup. The daemon starts empty in safe mode: an
// alert already firing on the first poll may have been announced before
// the damage, so it is taken silently; only StateRecovered goes out.
func TestSafeStartAfterDamageFoundAtOpen(t *testing.T) {
	stateDir := t.TempDir()
	junk := make([]byte, 64<<10)
	for i := range junk {
		junk[i] = byte(rand.Uint32())
	}
	testkit.WriteFile(t, filepath.Join(stateDir, "state.db"), string(junk))

	d, slack, _ := startBotDaemon(t, stateDir, 60)
	started := time.Now()
	testkit.Eventually(t, 20*time.Second, "a StateRecovered message", func() (bool, string) {
		return countPosts(slack, "StateRecovered") == 1, fmt.Sprint(posts(slack))
	})
	testkit.Eventually(t, 20*time.Second, "fps_low firing in /api/v1/alerts", func() (bool, string) {
		_, body := d.get("/api/v1/alerts")
		return strings.Contains(body, `"fps_low"`) && strings.Contains(body, `"firing"`), body
	})
	waitRounds(t, d, 3, started)
	if n := countPosts(slack, "fps_low"); n != 0 {
		t.Errorf("%d fps_low messages in safe mode, want 0 (it may have been announced before the damage):\n%s", n, strings.Join(posts(slack), "\n"))
	}
	if got := posts(slack); len(got) != 1 {
		t.Errorf("%d messages, want only StateRecovered:\n%s", len(got), strings.Join(got, "\n"))
	}
}
