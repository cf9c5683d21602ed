package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/shard"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestShardsSplitTheFleet runs three shards (--shard=K/3) over a fleet of
// 30 simulated instances read from one target file: every instance is
// watched by exactly one shard. Prometheus scrapes the three with
// deploy/prometheus/rules.yml (its `for` durations cut to 1 s): when one
// shard stops, SpacetimeWatchShardMissing fires, and
// SpacetimeWatchShardsIncomplete does not (one cause, one alert).
func TestShardsSplitTheFleet(t *testing.T) {
	promBin := testkit.Tool(t, "prometheus")
	const instances, shards = 30, 3
	fleet, err := sim.StartFleet(t.Context(), sim.FleetOptions{Instances: instances, ControlAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	dir := t.TempDir()
	targetFile := filepath.Join(dir, "fleet.yaml")
	if err := fleet.WriteTargetFile(targetFile); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, config, fmt.Sprintf(`defaults:
  schedule: {interval: 5s, timeout: 4s}
  checks: {request_timeout: 2s, telemetry_timeout: 3s}
target_files: [%q]
`, targetFile))

	var addrs []string
	stops := make([]func(), shards)
	for k := range shards {
		addr, stop := startShard(t, config, shard.Spec{Index: k, Count: shards})
		addrs, stops[k] = append(addrs, addr), stop
	}

	// Every instance is watched by exactly one shard, and each shard has some.
	watchedBy := map[string][]int{}
	for k, addr := range addrs {
		var st daemon.StatusResponse
		if err := json.Unmarshal(scrape(t, "http://"+addr+"/api/v1/status"), &st); err != nil {
			t.Fatalf("shard %d: /api/v1/status: %v", k, err)
		}
		if len(st.Targets) == 0 {
			t.Errorf("shard %d watches no target", k)
		}
		for _, tg := range st.Targets {
			watchedBy[tg.Name] = append(watchedBy[tg.Name], k)
		}
	}
	for _, name := range fleet.Names() {
		if got := watchedBy[name]; len(got) != 1 {
			t.Errorf("instance %s watched by shards %v, want exactly one", name, got)
		}
	}
	if len(watchedBy) != instances {
		t.Errorf("the shards watch %d targets, want the fleet's %d", len(watchedBy), instances)
	}

	rules, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "prometheus", "rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ruleFile := filepath.Join(dir, "rules.yml")
	testkit.WriteFile(t, ruleFile, regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAllString(string(rules), "$1 1s"))
	prom := startPrometheus(t, promBin, dir, ruleFile, addrs...)
	prom.waitData(t, fmt.Sprintf(`count(spacetime_watch_targets) == %d`, shards), 30*time.Second)
	if got := firingAlerts(t, prom); slices.Contains(got, "SpacetimeWatchShardMissing") || slices.Contains(got, "SpacetimeWatchShardsIncomplete") {
		t.Fatalf("with every shard up, firing: %v", got)
	}

	stops[2]()
	testkit.Eventually(t, 30*time.Second, "SpacetimeWatchShardMissing firing after shard 2 stopped", func() (bool, string) {
		got := firingAlerts(t, prom)
		return slices.Contains(got, "SpacetimeWatchShardMissing"), fmt.Sprintf("firing: %v", got)
	})
	if got := firingAlerts(t, prom); slices.Contains(got, "SpacetimeWatchShardsIncomplete") {
		t.Errorf("SpacetimeWatchShardsIncomplete fires beside SpacetimeWatchShardMissing: one cause, two alerts (%v)", got)
	}
}

// startShard runs a daemon in-process on config as shard s, and returns
// its address and a stop that waits for it to end.
func startShard(t *testing.T, config string, s shard.Spec) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigFile: config, StateDir: t.TempDir(), Listener: l, Shard: s,
			Registry: prometheus.NewRegistry(), Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), Console: io.Discard})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("shard %s: %v", s, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("shard %s did not stop within 10 s of its context", s)
		}
	}
	t.Cleanup(stop)
	addr = l.Addr().String()
	testkit.Eventually(t, 15*time.Second, "shard "+s.String()+" serving", func() (bool, string) {
		body := string(scrape(t, "http://"+addr+"/metrics"))
		return strings.Contains(body, fmt.Sprintf("spacetime_watch_shards %d", s.Count)), "no spacetime_watch_shards yet"
	})
	return addr, stop
}

// firingAlerts lists the names of the alerts Prometheus has firing.
func firingAlerts(t *testing.T, p *promServer) []string {
	t.Helper()
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", url.Values{}, &data)
	var names []string
	for _, a := range data.Alerts {
		if a.State == "firing" {
			names = append(names, a.Labels["alertname"])
		}
	}
	return names
}
