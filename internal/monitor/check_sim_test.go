package monitor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// Helpers shared by the check and verify tests: an in-process simulated
// instance on loopback ports, and a CheckTarget built from a real config
// file so that NewCheckTarget is exercised the way the commands use it.

// startCheckSim starts a sim on free loopback ports with a fast stream
// (an fps frame every 20 ms) and closes it when the test ends.
func startCheckSim(t *testing.T, opts sim.Options) *sim.Sim {
	t.Helper()
	opts.APIAddress = "127.0.0.1:0"
	opts.TelemetryAddress = "127.0.0.1:0"
	opts.ControlAddress = "127.0.0.1:0"
	if opts.FPSInterval == 0 {
		opts.FPSInterval = 20 * time.Millisecond
	}
	if opts.TrackingInterval == 0 {
		opts.TrackingInterval = 50 * time.Millisecond
	}
	s, err := sim.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// simTarget describes the config of a target pointing at a sim.
type simTarget struct {
	// token is written to a token file (checklist profile); empty means
	// token_from_status (the godot default).
	token string
	// perfToken is written to performance_token_file when set.
	perfToken string
	// checks is YAML added under the target's checks:, indented by 6.
	checks string
	// extra is YAML appended to the target's mapping, indented by 4.
	extra string
	// noTelemetry writes telemetry_urls: [].
	noTelemetry bool
}

// checkTargetFor parses a config file for s and builds its CheckTarget,
// closed when the test ends. Windows and timeouts are short so that the
// package's tests stay fast.
func checkTargetFor(t *testing.T, s *sim.Sim, spec simTarget) *CheckTarget {
	t.Helper()
	info := s.Info()
	dir := t.TempDir()
	var y strings.Builder
	y.WriteString("targets:\n  - name: simulated\n")
	y.WriteString("    api_url: http://" + info.API + "\n")
	if spec.noTelemetry {
		y.WriteString("    telemetry_urls: []\n")
	} else {
		y.WriteString("    telemetry_urls: [\"ws://" + info.Telemetry + "/\"]\n")
	}
	if spec.token != "" {
		y.WriteString("    token_file: " + writeCheckFile(t, dir, "token", spec.token) + "\n")
	}
	if spec.perfToken != "" {
		y.WriteString("    performance_token_file: " + writeCheckFile(t, dir, "perf-token", spec.perfToken) + "\n")
	}
	y.WriteString("    checks:\n")
	for _, def := range []string{"request_timeout: 2s", "telemetry_timeout: 2s", "threshold_window: 500ms"} {
		key, _, _ := strings.Cut(def, ":")
		if !strings.Contains(spec.checks, key+":") {
			y.WriteString("      " + def + "\n")
		}
	}
	if spec.checks != "" {
		for _, line := range strings.Split(strings.TrimRight(spec.checks, "\n"), "\n") {
			y.WriteString("      " + line + "\n")
		}
	}
	if spec.extra != "" {
		for _, line := range strings.Split(strings.TrimRight(spec.extra, "\n"), "\n") {
			y.WriteString("    " + line + "\n")
		}
	}
	return checkTargetFromYAML(t, y.String())
}

// checkTargetFromYAML builds the CheckTarget of the only target in yaml.
func checkTargetFromYAML(t *testing.T, yaml string) *CheckTarget {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), config.ParseOptions{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("config.Parse: %v\n%s", err, yaml)
	}
	ct, err := NewCheckTarget(cfg.Targets[0], TargetOptions{})
	if err != nil {
		t.Fatalf("NewCheckTarget: %v", err)
	}
	t.Cleanup(func() { _ = ct.Close() })
	return ct
}

func writeCheckFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// checklistTarget is a healthy checklist-profile instance and its target.
func checklistTarget(t *testing.T, opts sim.Options, spec simTarget) (*sim.Sim, *CheckTarget) {
	t.Helper()
	opts.Profile = sim.ProfileChecklist
	s := startCheckSim(t, opts)
	if spec.token == "" {
		spec.token = s.Info().Token
	}
	return s, checkTargetFor(t, s, spec)
}

// resultOf returns the result of check c, failing the test when absent.
func resultOf(t *testing.T, results []CheckResult, c config.CheckName) CheckResult {
	t.Helper()
	for _, r := range results {
		if r.Check == c {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", c, results)
	return CheckResult{}
}

// runOnly runs the named checks in verify mode.
func runOnly(t *testing.T, ct *CheckTarget, checks ...config.CheckName) []CheckResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return RunChecks(ctx, ct, ModeVerify, checks)
}

// patchFaults applies a fault patch or fails the test.
func patchFaults(t *testing.T, s *sim.Sim, patch string) {
	t.Helper()
	if err := s.PatchFaults([]byte(patch)); err != nil {
		t.Fatalf("PatchFaults(%s): %v", patch, err)
	}
}

// wantResult checks a result's status, that its reason contains every
// fragment, and its cause.
func wantResult(t *testing.T, r CheckResult, status CheckStatus, cause string, fragments ...string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %s, want %s (observed %q, reason %q)", r.Check, r.Status, status, r.Observed, r.Reason)
	}
	for _, f := range fragments {
		if !strings.Contains(r.Reason, f) {
			t.Errorf("%s: reason %q lacks %q", r.Check, r.Reason, f)
		}
	}
	if r.Cause != cause {
		t.Errorf("%s: cause %q, want %q (reason %q)", r.Check, r.Cause, cause, r.Reason)
	}
	if r.Expected == "" && status != CheckSkipped {
		t.Errorf("%s: no expected value", r.Check)
	}
}
