package monitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// checkFunc is one check kind: it asks the instance and says what it found.
// It fills Status, Observed, Expected and Reason (and RetryAfter for a
// 429); RunChecks adds the name, the duration and the known-gap handling.
// It must return, not panic, on anything the instance sends.
type checkFunc func(ctx context.Context, t *CheckTarget) CheckResult

// checkDef is one entry of the registry.
type checkDef struct {
	name config.CheckName
	fn   checkFunc
	// expected is what the check wants, also shown when it does not run.
	expected func(t *CheckTarget) string
	// usesAPI marks the checks that talk to the HTTP API only: when
	// instance_up found the API unreachable they fail at once with its
	// cause instead of each waiting for its own timeout.
	usesAPI bool
}

// checkRegistry lists the ten checks in the order they run: 1–6, 8, 9, 10,
// then 7, which spends the rate-limit bucket of its path and therefore
// comes last, when nothing else needs the instance any more.
var checkRegistry = []checkDef{
	{config.CheckInstanceUp, checkInstanceUp, instanceUpExpected, false},
	{config.CheckHealth, checkHealth, healthExpected, true},
	{config.CheckStatus, checkStatus, statusExpected, true},
	{config.CheckTelemetry, checkTelemetry, telemetryExpected, false},
	{config.CheckScene, checkScene, sceneExpected, true},
	{config.CheckAuth, checkAuth, authExpected, true},
	{config.CheckWhitelist, checkWhitelist, whitelistExpected, true},
	{config.CheckPerformance, checkPerformance, performanceExpected, true},
	// thresholds uses the API only to read memory when the stream carries
	// none; with the API down it still judges FPS and says why memory is
	// unknown.
	{config.CheckThresholds, checkThresholds, thresholdsExpected, false},
	{config.CheckRateLimit, checkRateLimit, rateLimitExpected, true},
}

// CheckMode says who runs the checks, which decides how known gaps and the
// intrusive check 7 are treated.
type CheckMode int

const (
	// ModeVerify is the one-shot post-deployment verification: known gaps
	// run and, when they fail, are reported failed with the declared reason
	// appended (the checklist's truth); check 7 runs when asked for.
	ModeVerify CheckMode = iota
	// ModeScheduled is the daemon's scheduled round: known gaps are skipped
	// ("known gap: <reason>") and never alert; check 7 runs only when
	// CheckTarget.Intrusive is set.
	ModeScheduled
)

// String returns "verify" or "scheduled".
func (m CheckMode) String() string {
	if m == ModeScheduled {
		return "scheduled"
	}
	return "verify"
}

// RunChecks runs the checks named in only (nil: all ten in verify mode,
// CheckTarget.Scheduled in scheduled mode) one after the other, in registry
// order whatever the order of only, and returns their results in the order
// they ran. Unknown names are ignored.
//
// A 429 met by any check but rate_limit makes that check skipped ("rate
// limited, retry after N s"), never failed. When instance_up finds the API
// unreachable (refused, timed out), the checks that need only the API fail
// at once with "instance down: <cause>"; telemetry and thresholds still run,
// since the telemetry server listens on its own port. (Without instance_up
// in only, every check finds out for itself.) When ctx ends, the
// checks not yet run are skipped if it was cancelled (shutdown) and failed
// if its deadline passed (the round took too long).
func RunChecks(ctx context.Context, t *CheckTarget, mode CheckMode, only []config.CheckName) []CheckResult {
	return runChecks(ctx, t, mode, only, nil)
}

// runChecks is RunChecks with a callback after each check.
func runChecks(ctx context.Context, t *CheckTarget, mode CheckMode, only []config.CheckName, progress func(CheckResult)) []CheckResult {
	if only == nil {
		only = config.AllChecks()
		if mode == ModeScheduled {
			only = t.Scheduled
		}
	}
	results := make([]CheckResult, 0, len(only))
	var apiDown string // instance_up's reason when the API is unreachable
	for _, def := range checkRegistry {
		if !slices.Contains(only, def.name) {
			continue
		}
		// A check's duration is a latency: the wall clock's, whatever
		// clock the decisions read (the demo's runs 60 times as fast).
		start := clock.Now()
		var r CheckResult
		ran := false // a check not run (skipped, not attempted) has no duration
		gap, isGap := t.KnownGaps[def.name]
		switch {
		case ctx.Err() != nil:
			r = checkNotRun(ctx.Err())
		case isGap && mode == ModeScheduled:
			r = CheckResult{Status: CheckSkipped, Reason: "known gap: " + gap, Cause: CauseKnownGap}
		case def.name == config.CheckRateLimit && mode == ModeScheduled && !t.Intrusive:
			r = CheckResult{Status: CheckSkipped, Reason: "not run: check 7 is intrusive and schedule.intrusive is off"}
		case def.usesAPI && apiDown != "":
			r = CheckResult{Status: CheckFail, Observed: "not attempted", Reason: "instance down: " + apiDown, Cause: CauseInstanceDown}
		case def.name == config.CheckInstanceUp:
			var unreachable bool
			ran = true
			r = runCheck(def.name, func() (r CheckResult) {
				r, unreachable = probeInstanceUp(ctx, t)
				return r
			})
			if unreachable {
				apiDown = r.Reason
			}
		default:
			ran = true
			r = runCheck(def.name, func() CheckResult { return def.fn(ctx, t) })
		}
		r.Check = def.name
		if r.Expected == "" {
			r.Expected = def.expected(t)
		}
		r.KnownGap = isGap
		r = apiTokenAccepted(r, results)
		if isGap && mode == ModeVerify {
			r = checkApplyKnownGap(r, gap)
		}
		if ran {
			r.Duration = clock.Since(start)
		}
		results = append(results, r)
		if progress != nil {
			progress(r)
		}
	}
	return results
}

// runCheck runs a check, turning a panic into a failure: a bug in one check
// must not take the daemon down with it.
func runCheck(name config.CheckName, check func() CheckResult) (r CheckResult) {
	defer func() {
		if p := recover(); p != nil {
			r = CheckResult{Status: CheckFail, Reason: fmt.Sprintf("internal error in check %s: %v", name, p)}
		}
	}()
	return check()
}

// checkApplyKnownGap marks a verify result of a declared known gap: a failure
// keeps its real cause and gains the declared reason; a pass says the
// declaration is out of date.
func checkApplyKnownGap(r CheckResult, reason string) CheckResult {
	switch r.Status {
	case CheckFail:
		r.Reason += " (known gap: " + reason + ")"
	case CheckPass:
		r.Reason += " (declared a known gap, yet it passes: remove it from known_gaps)"
	}
	return r
}

// checkNotRun is the result of a check the run never reached because ctx ended.
func checkNotRun(err error) CheckResult {
	if errors.Is(err, context.DeadlineExceeded) {
		return CheckResult{Status: CheckFail, Observed: "not attempted", Reason: "not run: the round's deadline passed before this check"}
	}
	return CheckResult{Status: CheckSkipped, Reason: "not run: cancelled"}
}

// formatCheckDuration renders a duration for reports: "12ms", "1.25s".
func formatCheckDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond).Milliseconds())
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
