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

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// targetFilesConfig writes a config whose targets all come from
// dir/targets/*.yaml, with defaults, and returns its path and the
// targets folder.
func targetFilesConfig(t *testing.T, defaults string) (cfg, targets string) {
	t.Helper()
	dir := t.TempDir()
	targets = filepath.Join(dir, "targets")
	if err := os.Mkdir(targets, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg = testkit.WriteFileIn(t, dir, "config.yaml", defaults+"target_files: [targets/*.yaml]\n")
	return cfg, targets
}

// simTargetFile is a target file listing the simulated instances, as
// configYAML lists them under targets (its lines, unindented).
func simTargetFile(t *testing.T, dir string, targets ...simTarget) string {
	t.Helper()
	yaml := configYAML(t, dir, targets...)
	_, list, _ := strings.Cut(yaml, "targets:\n")
	var b strings.Builder
	for line := range strings.Lines(list) {
		b.WriteString(strings.TrimPrefix(line, "  "))
	}
	return b.String()
}

// TestTargetFiles is the end to end of target_files: a target written to
// a file is watched without a reload; a bad file keeps the previous
// targets and is counted; a target removed stops, and its alerts resolve
// with the reason "target removed".
func TestTargetFiles(t *testing.T) {
	t.Parallel()
	alpha := simtest.Start(t, sim.Options{})
	beta := simtest.Start(t, sim.Options{})
	cfg, targets := targetFilesConfig(t, fastDefaults)
	d := startDaemon(t, cfg, daemonSetup{})
	if names := targetNames(d.status()); names != "" {
		t.Fatalf("targets at start = %q, want none: target_files replaces the local default", names)
	}

	testkit.WriteFileIn(t, targets, "fleet.yaml", simTargetFile(t, targets, simTarget{"alpha", alpha}, simTarget{"beta", beta}))
	testkit.Eventually(t, 5*time.Second, "alpha and beta watched", func() (bool, string) {
		names := targetNames(d.status())
		return names == "alpha,beta", names
	})

	// beta's environment is wrong: check_status fires.
	if err := beta.UpdateFaults(func(f *sim.Faults) { f.Environment = "staging" }); err != nil {
		t.Fatal(err)
	}
	betaAlert := func() (alert.Alert, bool) {
		_, body := d.get("/api/v1/alerts")
		var resp daemon.AlertsResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("/api/v1/alerts: %v\n%s", err, body)
		}
		for _, a := range resp.Alerts {
			if a.Target == "beta" && a.Name == "check_status" {
				return a, true
			}
		}
		return alert.Alert{}, false
	}
	// Pending or firing: the deployment grace may hold it.
	testkit.Eventually(t, 15*time.Second, "beta's check_status raised", func() (bool, string) {
		a, ok := betaAlert()
		return ok && a.State != alert.StateResolved, fmt.Sprintf("%+v", a)
	})

	// A bad file: the previous targets run on, the metric says so.
	testkit.WriteFileIn(t, targets, "fleet.yaml", simTargetFile(t, targets, simTarget{"alpha", alpha})+"  bogus: 1\n")
	testkit.Eventually(t, 5*time.Second, "the bad file counted", func() (bool, string) {
		s := gather(t, d.reg)
		n, _ := value(s, "spacetime_watch_target_file_errors_total", nil)
		ok, _ := value(s, "spacetime_watch_target_files_last_read_successful", nil)
		return n == 1 && ok == 0, fmt.Sprintf("errors_total %v, last_read_successful %v", n, ok)
	})
	if names := targetNames(d.status()); names != "alpha,beta" {
		t.Errorf("targets after a bad file = %q, want alpha,beta kept", names)
	}

	// beta leaves the file: it stops, its alert resolves.
	testkit.WriteFileIn(t, targets, "fleet.yaml", simTargetFile(t, targets, simTarget{"alpha", alpha}))
	testkit.Eventually(t, 5*time.Second, "beta no longer watched", func() (bool, string) {
		names := targetNames(d.status())
		return names == "alpha", names
	})
	testkit.Eventually(t, 5*time.Second, "beta's alert resolved", func() (bool, string) {
		a, ok := betaAlert()
		// Resolved and notified, or never notified and forgotten.
		return !ok || a.State == alert.StateResolved && a.Reason == daemon.TargetRemovedReason, fmt.Sprintf("%+v", a)
	})
	s := gather(t, d.reg)
	if n, _ := value(s, "spacetime_watch_target_files_last_read_successful", nil); n != 1 {
		t.Errorf("last_read_successful = %v after a good file, want 1", n)
	}
	if n, _ := value(s, "spacetime_watch_targets", map[string]string{"shard": "0"}); n != 1 {
		t.Errorf("spacetime_watch_targets = %v after beta left, want 1", n)
	}
	if code, _ := d.get("/metrics"); code != http.StatusOK {
		t.Errorf("/metrics: %d", code)
	}
}

// TestTargetFilesFromSimFleet: the target file spacetime-sim's fleet
// writes is one the daemon reads: every instance watched, with the
// fleet's token (check 6, auth, passes only with it).
func TestTargetFilesFromSimFleet(t *testing.T) {
	t.Parallel()
	fleet, err := sim.StartFleet(t.Context(), sim.FleetOptions{Instances: 3, ControlAddress: "127.0.0.1:0",
		Instance: sim.Options{FPSInterval: simtest.FastFPSInterval}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	cfg, targets := targetFilesConfig(t, fastDefaults)
	if err := fleet.WriteTargetFile(filepath.Join(targets, "sims.yaml")); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg, daemonSetup{})
	// Each one's auth check passed in some round (a loaded machine may
	// time one round out; a wrong token never passes).
	passed := map[string]bool{}
	testkit.Eventually(t, 15*time.Second, "every instance's auth check passing", func() (bool, string) {
		st := d.status()
		for _, tg := range st.Targets {
			for _, c := range tg.Checks {
				if c.Check == config.CheckAuth && c.Status == monitor.CheckPass {
					passed[tg.Name] = true
				}
			}
		}
		return targetNames(st) == "sim-0001,sim-0002,sim-0003" && len(passed) == 3, fmt.Sprintf("%s, passed: %v", targetNames(st), passed)
	})
}

// TestTargetFilesFleet: 1,000 targets added at once in a file are all
// known (watched: spacetime_watch_targets) within 10 s. They point at loopback addresses where nothing
// listens; their dials and first rounds are spread (30 s, 5 m), so the
// test stays light. It does not run in parallel with the package's other
// tests: its burst of work would starve their 300 ms request timeouts.
func TestTargetFilesFleet(t *testing.T) {
	const n = 1000
	cfg, targets := targetFilesConfig(t, "defaults:\n  schedule: {interval: 5m}\n")
	d := startDaemon(t, cfg, daemonSetup{})
	var b strings.Builder
	for i := range n {
		host := fmt.Sprintf("127.1.%d.%d", i/250, i%250+1)
		fmt.Fprintf(&b, "- {name: fleet-%04d, api_url: 'http://%s:1', telemetry_urls: ['ws://%s:2/']}\n", i, host, host)
	}
	start := time.Now()
	testkit.WriteFileIn(t, targets, "fleet.yaml", b.String())
	// Read from the registry: /api/v1/status of 1,000 targets is a few MB
	// that the secret redactor scans, slow under -race.
	testkit.Eventually(t, 10*time.Second, "1,000 targets known", func() (bool, string) {
		v, _ := value(gather(t, d.reg), "spacetime_watch_targets", nil)
		return v == n, fmt.Sprintf("spacetime_watch_targets %v", v)
	})
	t.Logf("1,000 targets known %v after the file was written", time.Since(start))
}
