package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// fleetPage is a /metrics page of three targets, two of which ran a round.
const fleetPage = `spacetime_telemetry_frames_total{target="sim-0003"} 12
spacetime_telemetry_frames_total{target="sim-0001"} 12
spacetime_telemetry_frames_total{target="sim-0002"} 12
spacetime_check_success{check="health",target="sim-0001"} 1
spacetime_check_success{check="status",target="sim-0001"} 0
spacetime_check_success{target="sim-0003",check="health"} 1
spacetime_check_skipped{check="health",target="sim-0002"} 1
`

func TestWithoutChecks(t *testing.T) {
	e := parseExposition(fleetPage)
	if got := withoutChecks(e); !slices.Equal(got, []string{"sim-0002"}) {
		t.Errorf("withoutChecks = %q, want [sim-0002] (a skipped check is no success series)", got)
	}
	err := checksMissing(e, 3)
	if err == nil || !strings.Contains(err.Error(), "1 of 3 targets have no spacetime_check_success series yet") || !strings.Contains(err.Error(), "sim-0002") {
		t.Errorf("checksMissing = %v; want it to count and name sim-0002", err)
	}
	if err := checksMissing(e, 4); err == nil || !strings.Contains(err.Error(), "lists 3 of the 4 targets") {
		t.Errorf("checksMissing of 4 = %v; want the target /metrics does not list reported", err)
	}
	done := parseExposition(fleetPage + `spacetime_check_success{check="health",target="sim-0002"} 1` + "\n")
	if err := checksMissing(done, 3); err != nil {
		t.Errorf("checksMissing with every target's round = %v", err)
	}
}

func TestChecksMissingNamesAFew(t *testing.T) {
	var b strings.Builder
	for i := range 8 {
		b.WriteString(`spacetime_telemetry_frames_total{target="sim-` + string(rune('a'+i)) + `"} 1` + "\n")
	}
	err := checksMissing(parseExposition(b.String()), 8)
	if err == nil || !strings.HasSuffix(err.Error(), "sim-a, sim-b, sim-c, sim-d, sim-e, …") {
		t.Errorf("checksMissing = %v; want the first five named, then …", err)
	}
}

// TestBurstConfig: the daemon accepts the burst's config (a schedule
// whose round fits in its interval), with the interval and the waits set.
func TestBurstConfig(t *testing.T) {
	base := "target_files: [\"/nonexistent/sims.yaml\"]\n"
	for _, every := range []time.Duration{3 * time.Second, 15 * time.Second, 20 * time.Second} {
		cfg, err := config.Parse([]byte(burstConfig(base, every)), config.ParseOptions{})
		if err != nil {
			t.Errorf("%s: the daemon's config parser refuses it: %v", every, err)
			continue
		}
		d := cfg.Defaults
		if d.Schedule.Interval != every || d.Schedule.Timeout != every || d.Checks.RequestTimeout != every/3 || d.Checks.TelemetryTimeout != every/3 || d.Checks.ThresholdWindow != every/3 {
			t.Errorf("%s: schedule %+v, request_timeout %s, telemetry_timeout %s, threshold_window %s", every, d.Schedule, d.Checks.RequestTimeout, d.Checks.TelemetryTimeout, d.Checks.ThresholdWindow)
		}
		if len(cfg.TargetFiles) != 1 {
			t.Errorf("%s: target_files %v, want the base config's one", every, cfg.TargetFiles)
		}
	}
}
