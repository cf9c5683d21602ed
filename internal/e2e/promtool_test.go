// Package e2e holds end-to-end tests that drive the daemon against the
// simulator with real external tools (promtool from Debian's prometheus
// package, which `make test` installs).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestMetricsPassPromtool runs the daemon against the simulated instance
// and lints its /metrics with promtool and testutil.GatherAndLint, while
// the target is healthy and while its API and telemetry are down
// (reliability scenario 18).
func TestMetricsPassPromtool(t *testing.T) {
	promtool := testkit.Tool(t, "promtool")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	inst := startChecklistSim(t)
	info := inst.Info()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(info.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	configFile := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`defaults:
  schedule: {interval: 1s, timeout: 900ms}
  checks: {request_timeout: 300ms, telemetry_timeout: 500ms}
targets:
  - name: e2e
    api_url: http://%s
    telemetry_urls: [ws://%s/]
    token_file: %s
`, info.API, info.Telemetry, tokenFile)
	if err := os.WriteFile(configFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{ConfigFile: configFile, StateDir: filepath.Join(dir, "state"), Listener: l, Registry: reg})
	}()
	url := "http://" + l.Addr().String() + "/metrics"

	lint := func(phase string, want ...string) {
		t.Helper()
		var body []byte
		deadline := time.Now().Add(15 * time.Second)
		for {
			body = scrape(t, url)
			if containsAll(string(body), want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !containsAll(string(body), want) {
			t.Fatalf("%s: /metrics never showed %q:\n%s", phase, want, body)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Fatalf("%s: promtool check metrics: %v\n%s", phase, err, out)
		}
		problems, err := testutil.GatherAndLint(reg)
		if err != nil || len(problems) > 0 {
			t.Fatalf("%s: GatherAndLint: %v %v", phase, problems, err)
		}
		t.Logf("%s: promtool and GatherAndLint report no problems (%d bytes of metrics)", phase, len(body))
	}

	lint("healthy", `spacetime_check_success{check="instance_up",target="e2e"} 1`, `spacetime_telemetry_connected{target="e2e"} 1`, "spacetime_fps{")
	if err := inst.PatchFaults([]byte(`{"api_down":true,"telemetry_down":true}`)); err != nil {
		t.Fatal(err)
	}
	lint("target down", `spacetime_up{target="e2e"} 0`, `spacetime_telemetry_connected{target="e2e"} 0`)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10 s")
	}
}

func scrape(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return b
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
