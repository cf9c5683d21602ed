package daemon_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMetricsUnderFault (docs/reliability.md scenario 18): while the instance's
// API and telemetry are down, /metrics still answers 200, lint-clean and
// bounded, with spacetime_up 0 and the telemetry disconnected; /-/healthy
// stays 200 because it reflects the daemon, never the target. When the
// instance comes back, so do the gauges.
func TestMetricsUnderFault(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	d := startDaemon(t, cfg, daemonSetup{})
	main := map[string]string{"target": "main"}
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", main, 1)
	waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", main, 1)

	if err := s.PatchFaults([]byte(`{"api_down":true,"telemetry_down":true}`)); err != nil {
		t.Fatal(err)
	}
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", main, 0)
	waitValue(t, d.reg, 10*time.Second, "spacetime_check_success", map[string]string{"target": "main", "check": "instance_up"}, 0)
	waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", main, 0)

	code, body := d.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics under fault: %d", code)
	}
	// One target: its series (at most 60, internal/monitor's
	// TestSeriesPerTarget) and the daemon's own spacetime_watch_ ones.
	if n := strings.Count(body, "\nspacetime_"); n == 0 || n > 120 {
		t.Errorf("%d spacetime_ series under fault, want some and at most 120", n)
	}
	problems, err := testutil.GatherAndLint(d.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint under fault: %s: %s", p.Metric, p.Text)
	}
	if code, body := d.get("/-/healthy"); code != http.StatusOK {
		t.Errorf("/-/healthy while the target is down: %d %s, want 200", code, body)
	}
	// After failure_threshold (2) rounds, instance_up counts as failing.
	testkit.Eventually(t, 10*time.Second, "instance_up failing in the status", func() (bool, string) {
		f := d.status().Targets[0].Failing
		return len(f) > 0 && f[0] == "instance_up", fmt.Sprint(f)
	})

	if err := s.PatchFaults([]byte(`{"api_down":false,"telemetry_down":false}`)); err != nil {
		t.Fatal(err)
	}
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", main, 1)
	// The watcher redials with backoff (1 s, then 2 s...): well inside 10 s.
	waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", main, 1)
}
