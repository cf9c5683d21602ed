package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// The checks that read the telemetry stream: 4 telemetry and 10 thresholds.

// What checks 4 and 10 want.
func telemetryExpected(t *CheckTarget) string {
	return "an fps or vr_tracking frame within " + t.Settings.TelemetryTimeout.String()
}

func thresholdsExpected(t *CheckTarget) string {
	st := t.Settings
	return fmt.Sprintf("≥%s%% of FPS samples in %s–%s, peak memory < %s MB",
		checkFmtNum(st.ThresholdInBandRatio*100), checkFmtNum(st.FPSMin), checkFmtNum(st.FPSMax), checkFmtNum(st.MemoryMaxMB))
}

// checkTelemetry is check 4: the telemetry WebSocket accepts a connection
// and delivers a data frame (fps or vr_tracking; auth_required does not
// count) within checks.telemetry_timeout.
func checkTelemetry(ctx context.Context, t *CheckTarget) CheckResult {
	timeout := t.Settings.TelemetryTimeout
	expected := telemetryExpected(t)
	if t.Telemetry == nil {
		return CheckResult{Status: CheckFail, Observed: "no stream", Expected: expected, Reason: errCheckNoTelemetry.Error()}
	}
	start := t.now()
	f, err := t.Telemetry.FirstDataFrame(ctx, timeout)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return checkErrResult(err, expected)
		}
		return CheckResult{Status: CheckFail, Observed: "no data frame", Expected: expected, Reason: err.Error()}
	}
	return CheckResult{Status: CheckPass,
		Observed: fmt.Sprintf("%s frame after %s", f.Kind, formatCheckDuration(t.now().Sub(start))),
		Expected: expected, Reason: "telemetry flows"}
}

// checkThresholds is check 10: over checks.threshold_window, at least
// checks.threshold_in_band_ratio of the FPS samples lie within the FPS band
// and peak memory stays below the ceiling. Memory comes from the frames, or
// from /performance's static memory when the stream carries none; unknown
// memory fails, saying why.
func checkThresholds(ctx context.Context, t *CheckTarget) CheckResult {
	st := t.Settings
	expected := thresholdsExpected(t)
	if t.Telemetry == nil {
		return CheckResult{Status: CheckFail, Observed: "no stream", Expected: expected, Reason: errCheckNoTelemetry.Error()}
	}
	samples, err := t.Telemetry.Window(ctx, st.ThresholdWindow)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return checkErrResult(err, expected)
		}
		return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("%d samples", len(samples)), Expected: expected,
			Reason: "telemetry window: " + err.Error()}
	}

	var n, in int
	var sum, peak float64
	hasMemory := false
	for _, s := range samples {
		if s.HasFPS {
			n++
			sum += s.FPS
			if s.FPS >= st.FPSMin && s.FPS <= st.FPSMax {
				in++
			}
		}
		if s.HasMemory && (!hasMemory || s.MemoryMB > peak) {
			peak, hasMemory = s.MemoryMB, true
		}
	}
	memSource, memUnknown := "", ""
	if !hasMemory {
		peak, memUnknown = performanceMemoryMB(ctx, t)
		hasMemory, memSource = memUnknown == "", " (/performance)"
	}

	var observed strings.Builder
	share := 0.0
	if n > 0 {
		share = float64(in) / float64(n)
	}
	// Floor, so that 94.6% never reads as a passing 95%.
	fmt.Fprintf(&observed, "%d%% of %d samples in %s–%s FPS", int(math.Floor(share*100)), n, checkFmtNum(st.FPSMin), checkFmtNum(st.FPSMax))
	if hasMemory {
		fmt.Fprintf(&observed, ", peak %.0f MB%s", peak, memSource)
	} else {
		observed.WriteString(", peak memory unknown")
	}

	var problems []string
	switch {
	case n == 0:
		problems = append(problems, fmt.Sprintf("no FPS sample in the %s window", st.ThresholdWindow))
	case share < st.ThresholdInBandRatio:
		problems = append(problems, fmt.Sprintf("only %d%% of %d FPS samples in %s–%s (mean %.1f FPS, need %s%%)",
			int(math.Floor(share*100)), n, checkFmtNum(st.FPSMin), checkFmtNum(st.FPSMax), sum/float64(n), checkFmtNum(st.ThresholdInBandRatio*100)))
	}
	switch {
	case !hasMemory:
		problems = append(problems, "memory unknown: "+memUnknown)
	case peak >= st.MemoryMaxMB:
		problems = append(problems, fmt.Sprintf("peak memory %.0f MB, limit %s MB", peak, checkFmtNum(st.MemoryMaxMB)))
	}
	if len(problems) > 0 {
		return CheckResult{Status: CheckFail, Observed: observed.String(), Expected: expected, Reason: strings.Join(problems, "; ")}
	}
	return CheckResult{Status: CheckPass, Observed: observed.String(), Expected: expected, Reason: "FPS and memory within the thresholds"}
}

// performanceMemoryMB reads static memory from /performance, in MiB; why
// is non-empty when it cannot.
func performanceMemoryMB(ctx context.Context, t *CheckTarget) (mb float64, why string) {
	const prefix = "the stream carries none and /performance "
	p, err := t.Client.Performance(ctx)
	var au *spacetime.UnauthorizedError
	switch {
	case errors.As(err, &au) && au.Performance:
		return 0, prefix + "refused the token: " + performanceAuthReason(au)
	case err != nil:
		return 0, prefix + "failed: " + checkErrReason(err)
	}
	if p.Memory.StaticMemoryUsage == nil {
		return 0, prefix + "reports no memory.static_memory_usage"
	}
	return *p.Memory.StaticMemoryUsage / checkBytesPerMB, ""
}

// checkFmtNum renders a setting without trailing zeros: 95, 0.5, 85.5.
func checkFmtNum(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
