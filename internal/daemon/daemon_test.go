package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestDaemonServes: the daemon against a healthy checklist instance tells
// systemd it is ready, exports the metrics (lint-clean, counters
// at 0 from the first scrape, "passing" gauges once known), answers its
// own health and status endpoints, pings the watchdog from its loop, and
// on cancellation sends STOPPING=1 and returns nil within 10 s.
func TestDaemonServes(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	d := startDaemon(t, cfg, daemonSetup{watchdog: 200 * time.Millisecond})
	main := map[string]string{"target": "main"}

	t.Run("counters exist at 0 from the start", func(t *testing.T) {
		series := gather(t, d.reg)
		for _, name := range []string{"spacetime_restarts_total", "spacetime_telemetry_reconnects_total", "spacetime_telemetry_frames_invalid_total"} {
			if v, ok := value(series, name, main); !ok || v != 0 {
				t.Errorf("%s{target=main} = %v (present %v) right after READY=1; want 0", name, v, ok)
			}
		}
		if _, ok := value(series, "spacetime_telemetry_frames_total", main); !ok {
			t.Error("spacetime_telemetry_frames_total{target=main} missing right after READY=1")
		}
		if v, ok := value(series, "spacetime_watch_config_last_reload_successful", nil); !ok || v != 1 {
			t.Errorf("spacetime_watch_config_last_reload_successful = %v (present %v); want 1", v, ok)
		}
	})

	t.Run("metrics after the first round", func(t *testing.T) {
		waitValue(t, d.reg, 10*time.Second, "spacetime_check_success", map[string]string{"target": "main", "check": "instance_up"}, 1)
		waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", main, 1)
		waitValue(t, d.reg, 5*time.Second, "spacetime_up", main, 1)
		testkit.Eventually(t, 5*time.Second, "spacetime_fps{target=main} in 85-95", func() (bool, string) {
			v, ok := value(gather(t, d.reg), "spacetime_fps", main)
			return ok && v >= 85 && v <= 95, fmt.Sprintf("%g (present %v)", v, ok)
		})

		code, body := d.get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		for _, want := range []string{
			`spacetime_up{target="main"} 1`,
			`spacetime_check_success{check="instance_up",target="main"} 1`,
			`spacetime_fps{target="main"}`,
			`spacetime_telemetry_connected{target="main"} 1`,
			`spacetime_watch_build_info{branch=`,
			"spacetime_watch_config_last_reload_successful 1",
			`spacetime_restarts_total{target="main"} 0`,
			"go_goroutines ",
			"process_open_fds ",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		problems, err := testutil.GatherAndLint(d.reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	})

	t.Run("rate_limit and thresholds are not scheduled", func(t *testing.T) {
		series := gather(t, d.reg)
		for _, c := range []config.CheckName{config.CheckRateLimit, config.CheckThresholds} {
			if v, ok := value(series, "spacetime_check_success", map[string]string{"target": "main", "check": string(c)}); ok {
				t.Errorf("spacetime_check_success{check=%s} = %v; scheduled rounds must not run it", c, v)
			}
		}
	})

	t.Run("own endpoints", func(t *testing.T) {
		for _, tc := range []struct {
			path, want string
		}{
			{"/-/healthy", "Healthy"},
			{"/-/ready", "Ready"},
			{"/", "/metrics"},
		} {
			code, body := d.get(tc.path)
			if code != http.StatusOK || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s: %d %q; want 200 containing %q", tc.path, code, body, tc.want)
			}
		}
		code, _ := d.get("/no-such-page")
		if code != http.StatusNotFound {
			t.Errorf("GET /no-such-page: %d, want 404", code)
		}
	})

	t.Run("status lists the target with its checks", func(t *testing.T) {
		st := d.status()
		if len(st.Targets) != 1 || st.Targets[0].Name != "main" {
			t.Fatalf("targets %+v, want [main]", st.Targets)
		}
		tg := st.Targets[0]
		if tg.APIURL != "http://"+s.Info().API {
			t.Errorf("api_url %q, want http://%s", tg.APIURL, s.Info().API)
		}
		got := map[config.CheckName]monitor.CheckStatus{}
		for _, c := range tg.Checks {
			got[c.Check] = c.Status
		}
		for _, c := range []config.CheckName{config.CheckInstanceUp, config.CheckHealth, config.CheckStatus, config.CheckTelemetry, config.CheckScene, config.CheckAuth, config.CheckWhitelist, config.CheckPerformance} {
			if got[c] != monitor.CheckPass {
				t.Errorf("status: check %s is %q, want pass (all: %v)", c, got[c], got)
			}
		}
		if tg.LastRound.IsZero() {
			t.Error("status: last_round is unset after a round")
		}
		if tg.Deployment == nil || tg.Deployment.Source != "auto-new-target" {
			t.Errorf("status: deployment %+v, want the auto-new-target one", tg.Deployment)
		}
		if len(tg.Failing) != 0 {
			t.Errorf("status: failing %v, want none", tg.Failing)
		}
		// The raw JSON carries the names the issue promises.
		_, body := d.get("/api/v1/status")
		var raw map[string][]map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"name", "api_url", "deployment", "last_round", "checks", "failing", "telemetry"} {
			if _, ok := raw["targets"][0][key]; !ok {
				t.Errorf("status JSON lacks targets[0].%s:\n%s", key, body)
			}
		}
	})

	t.Run("watchdog pinged from the loop", func(t *testing.T) {
		testkit.Eventually(t, 5*time.Second, "two WATCHDOG=1", func() (bool, string) {
			n := d.notifier.count("WATCHDOG=1")
			return n >= 2, strings.Join(d.notifier.sent(), ",")
		})
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		start := time.Now()
		if err := d.stop(); err != nil {
			t.Fatalf("Run returned %v after cancellation, want nil", err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("shutdown took %s, want under 10s", el)
		}
		sent := d.notifier.sent()
		if n := d.notifier.count("READY=1"); n != 1 {
			t.Errorf("READY=1 sent %d times, want 1 (%v)", n, sent)
		}
		if n := d.notifier.count("STOPPING=1"); n != 1 || sent[len(sent)-1] != "STOPPING=1" {
			t.Errorf("want STOPPING=1 once, last: %v", sent)
		}
		if code, _, err := tryGet(d.url + "/-/healthy"); err == nil {
			t.Errorf("the web server still answers (%d) after Run returned", code)
		}

		// The state was flushed and the lock released: a new daemon could
		// open it at once and find this one's records.
		st, err := store.Open(d.stateDir, storetest.Options(store.Options{LockTimeout: 100 * time.Millisecond}))
		if err != nil {
			t.Fatalf("reopening the state dir: %v", err)
		}
		defer st.Close()
		if ds, err := st.Deployments("main"); err != nil || len(ds) == 0 {
			t.Errorf("deployments after shutdown: %v, %v; want the auto-new-target one", ds, err)
		}
		if hist, err := st.CheckHistory("main", time.Time{}); err != nil || len(hist) == 0 {
			t.Errorf("check history after shutdown: %d records, %v; want the rounds'", len(hist), err)
		}
		if rules, err := st.RuleStates("main"); err != nil || len(rules) == 0 {
			t.Errorf("rule state after shutdown: %v, %v; want the checks' and rules' state", rules, err)
		}
		if _, err := os.Stat(filepath.Join(d.stateDir, "state.db.bak")); err != nil {
			t.Errorf("no backup written at shutdown: %v", err)
		}
	})
}
