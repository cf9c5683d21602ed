package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/logging"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// sentinel is the instance's API token in the leak sweep: distinctive, so
// that any copy of it, anywhere, is found.
const sentinel = "sentinel-TOKEN-5f3a9c1e7b2d4068-do-not-print"

// TestSecretsNeverLeak is the secret-leakage sweep (docs/reliability.md
// scenario 19) over this surfaces: the daemon, at debug level,
// watches an instance whose token is the sentinel through healthy rounds,
// a token the instance rejects (401s with the token in the request), an
// instance that enforces no auth, a restart with a new version (telemetry
// re-authenticates), an operator's deployment, and a one-shot verify with
// the token from a file and from the environment. The sentinel must
// appear in none of: the logs, /metrics, /api/v1/status,
// /api/v1/deployments, the commands' output, and the state dir's files.
func TestSecretsNeverLeak(t *testing.T) {
	s := simtest.Start(t, sim.Options{Token: sentinel, TelemetryAuth: true})
	info := s.Info()
	dir := t.TempDir()
	cfg, tokenFile := watchConfig(t, dir, s, "", "")
	stateDir := filepath.Join(dir, "state")

	var logs syncBuffer
	log, err := logging.New(&logs, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	base, stop := runDaemon(t, daemon.Options{ConfigFile: cfg, StateDir: stateDir, Logger: log, Registry: prometheus.NewRegistry()})

	// Everything the sweep reads, by where it came from.
	var seen []struct{ where, text string }
	keep := func(where, text string) { seen = append(seen, struct{ where, text string }{where, text}) }
	scrape := func(stage string) {
		for _, path := range []string{"/metrics", "/api/v1/status", "/api/v1/deployments"} {
			keep(stage+" "+path, mustGet(t, base+path))
		}
	}
	metricIs := func(series string) func() (bool, string) {
		return func() (bool, string) {
			_, body, _ := get(base + "/metrics")
			return strings.Contains(body, series+"\n"), "no " + series
		}
	}
	fault := func(patch string) {
		t.Helper()
		if err := s.PatchFaults([]byte(patch)); err != nil {
			t.Fatal(err)
		}
	}

	// Healthy: telemetry authenticated with the token, checks pass.
	testkit.Eventually(t, 10*time.Second, "auth passing", metricIs(`spacetime_check_success{check="auth",target="main"} 1`))
	testkit.Eventually(t, 10*time.Second, "telemetry connected", metricIs(`spacetime_telemetry_connected{target="main"} 1`))
	scrape("healthy")

	// The instance rejects the token: authenticated requests fail with 401.
	fault(`{"token_expired":true}`)
	testkit.Eventually(t, 10*time.Second, "auth failing on the rejected token", metricIs(`spacetime_check_success{check="auth",target="main"} 0`))
	// Past the failure threshold: the failing condition is logged and raised.
	testkit.Eventually(t, 10*time.Second, "check failing logged", func() (bool, string) {
		return strings.Contains(logs.String(), "check failing"), "not yet"
	})
	scrape("token rejected")

	// Restart with a new version: token accepted again, telemetry re-authenticates.
	s.Restart("1.2.4")
	testkit.Eventually(t, 10*time.Second, "the restart counted", metricIs(`spacetime_restarts_total{target="main"} 1`))
	testkit.Eventually(t, 10*time.Second, "auth passing after the restart", metricIs(`spacetime_check_success{check="auth",target="main"} 1`))

	// Auth not enforced: the check fails on a 200 without a token.
	fault(`{"auth_disabled":true}`)
	testkit.Eventually(t, 10*time.Second, "auth failing without enforcement", metricIs(`spacetime_check_success{check="auth",target="main"} 0`))
	fault(`{"auth_disabled":false}`)

	// An operator's deployment, through the commands.
	var out, errOut syncBuffer
	daemonOpts := cli.DaemonOptions{URL: base}
	if code := cli.DeploymentStart(context.Background(), daemonOpts, "main", "1.2.5", "", time.Time{}, &out, &errOut); code != 0 {
		t.Fatalf("deployment start: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, output := range []string{"table", "json"} {
		if code := cli.DeploymentList(context.Background(), daemonOpts, "", output, &out, &errOut); code != 0 {
			t.Fatalf("deployment list --output %s: exit %d\n%s%s", output, code, out.String(), errOut.String())
		}
	}
	keep("deployment commands", out.String()+errOut.String())
	scrape("after the deployment")

	// verify, table and JSON, token from a file and from the environment.
	t.Setenv("STW_TEST_API_TOKEN", sentinel)
	for _, tc := range []struct {
		name string
		opts cli.VerifyOptions
	}{
		{"table, token file", cli.VerifyOptions{TokenFile: tokenFile, Output: "table"}},
		{"json, token env", cli.VerifyOptions{TokenEnv: "STW_TEST_API_TOKEN", Output: "json"}},
	} {
		o := tc.opts
		o.APIURL = "http://" + info.API
		o.TelemetryURLs = []string{"ws://" + info.Telemetry + "/"}
		o.ExpectedEnvironment, o.ExpectedScene = "production", "res://vr_main.tscn"
		o.ThresholdWindow = time.Second
		o.NoIntrusive = true // the daemon's rounds share the instance's buckets
		var stdout, stderr syncBuffer
		code := cli.Verify(context.Background(), o, &stdout, &stderr)
		if code != 0 {
			t.Errorf("verify %s: exit %d\n%s\n%s", tc.name, code, stdout.String(), stderr.String())
		}
		keep("verify "+tc.name, stdout.String()+stderr.String())
	}

	stop()
	keep("logs", logs.String())
	err = filepath.WalkDir(stateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(sentinel)) {
			t.Errorf("the state file %s holds the token", path)
		}
		keep("state file "+filepath.Base(path), fmt.Sprintf("%d bytes", len(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The sweep looked at something real.
	logText := logs.String()
	for _, want := range []string{`"level":"debug"`, "deployment started", "instance restarted", "check failing"} {
		if !strings.Contains(logText, want) {
			t.Errorf("the logs lack %q: the sweep did not cover that path", want)
		}
	}
	for _, x := range seen {
		if x.text == "" {
			t.Errorf("%s: empty", x.where)
		}
		if strings.Contains(x.text, sentinel) {
			i := strings.Index(x.text, sentinel)
			t.Errorf("%s leaks the token: ...%s...", x.where, x.text[max(0, i-200):i])
		}
	}
}
