package daemon_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMemoryFromPerformanceWhenTheStreamCarriesNone: with the binary
// encoding the stream carries no memory; the daemon reads it from
// /performance every telemetry.performance_poll_interval, memory_high
// fires on it, and the status says where memory came from, with no zero
// times in it.
func TestMemoryFromPerformanceWhenTheStreamCarriesNone(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	if err := s.PatchFaults([]byte(`{"telemetry_encoding":"binary","memory_mb":450}`)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	yaml := strings.Replace(configYAML(t, dir, simTarget{"main", s}), "defaults:\n",
		"defaults:\n  telemetry: {performance_poll_interval: 1s}\n  thresholds: {memory: {for: 1s}}\n", 1)
	testkit.WriteFile(t, cfg, yaml)
	d := startDaemon(t, cfg, daemonSetup{})

	firing := map[string]string{"target": "main", "rule": "memory_high", "state": "firing"}
	waitValue(t, d.reg, 15*time.Second, "spacetime_rule_state", firing, 1)
	waitValue(t, d.reg, 5*time.Second, "spacetime_static_memory_bytes", map[string]string{"target": "main"}, 450<<20)

	_, body := d.get("/api/v1/status")
	var st struct {
		Targets []struct {
			Telemetry struct {
				Rules []struct{ Rule, State, Source string }
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Targets) != 1 {
		t.Fatalf("status: %v\n%s", err, body)
	}
	var found bool
	for _, r := range st.Targets[0].Telemetry.Rules {
		if r.Rule == "memory_high" {
			found = r.State == "firing" && r.Source == "performance"
		}
	}
	if !found {
		t.Errorf("status does not show memory_high firing on memory from /performance:\n%s", body)
	}
	if strings.Contains(body, "0001-01-01") {
		t.Errorf("status carries a zero time:\n%s", body)
	}
}
