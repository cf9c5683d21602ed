package monitor

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// CheckStatus is the outcome of one check.
type CheckStatus string

// The three outcomes of a check.
const (
	CheckPass    CheckStatus = "pass"
	CheckFail    CheckStatus = "fail"
	CheckSkipped CheckStatus = "skipped"
)

// CheckResult is what one check found: never a bare bool, because the
// on-call engineer needs the reason.
type CheckResult struct {
	// Check is the check's name.
	Check config.CheckName `json:"name"`
	// Status is pass, fail or skipped.
	Status CheckStatus `json:"result"`
	// Observed is what the instance showed ("404 text/plain", "61.3 FPS").
	Observed string `json:"observed"`
	// Expected is what the checklist wants ("200 {\"status\":\"ok\"}").
	Expected string `json:"expected"`
	// Reason is one line naming the real cause (for a pass, what was seen).
	Reason string `json:"reason"`
	// Cause classifies a failure for machines (alert names, metrics): one of
	// the Cause* constants, empty for a pass or an unclassified failure.
	Cause string `json:"cause,omitempty"`
	// Duration is how long the check took; JSON carries it as duration_seconds.
	Duration time.Duration `json:"-"`
	// KnownGap is set when the target declares this check as one its build cannot pass.
	KnownGap bool `json:"known_gap,omitempty"`
	// RetryAfter is set when the check was skipped because the instance rate-limited it.
	RetryAfter time.Duration `json:"-"`
}

// Failure causes a check may report in CheckResult.Cause, so that the
// daemon can raise a distinct condition (token expired is not target down).
const (
	CauseConnectionRefused = "connection_refused"
	CauseTimeout           = "timeout"
	CauseInstanceDown      = "instance_down"
	CauseTokenExpired      = "token_expired"
	CauseTokenRejected     = "token_rejected"
	CauseEndpointAbsent    = "endpoint_absent"
	CauseRateLimited       = "rate_limited"
	CauseKnownGap          = "known_gap"
	// CausePerformanceTokenRejected: /performance refused its own token
	// (the stock server checks a separate one there, new at each start).
	// It is not the API token's refusal: check_performance fires for it,
	// and token_rejected does not.
	CausePerformanceTokenRejected = "performance_token_rejected"
)

// MarshalJSON adds duration_seconds, the one unit JSON readers expect.
func (r CheckResult) MarshalJSON() ([]byte, error) {
	type plain CheckResult // no methods: no recursion
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"duration_seconds"`
	}{plain(r), r.Duration.Seconds()})
}

// Verdict is the checklist's decision rule over a set of check results.
type Verdict string

// The checklist's three verdicts: none failed, 1–2 failed, 3 or more failed.
const (
	VerdictSuccessful Verdict = "SUCCESSFUL"
	VerdictPartial    Verdict = "PARTIAL"
	VerdictFailed     Verdict = "FAILED"
)

// Summary counts a set of results and applies the checklist's decision rule.
// Skipped checks are excluded from the count.
type Summary struct {
	Passed  int     `json:"passed"`
	Failed  int     `json:"failed"`
	Skipped int     `json:"skipped"`
	Verdict Verdict `json:"verdict"`
}

// Summarize counts results and decides the verdict.
func Summarize(results []CheckResult) Summary {
	var s Summary
	for _, r := range results {
		switch r.Status {
		case CheckPass:
			s.Passed++
		case CheckFail:
			s.Failed++
		default:
			s.Skipped++
		}
	}
	switch {
	case s.Failed == 0:
		s.Verdict = VerdictSuccessful
	case s.Failed <= 2:
		s.Verdict = VerdictPartial
	default:
		s.Verdict = VerdictFailed
	}
	return s
}

// Line is the verdict as the checklist writes it, e.g.
// "DEPLOYMENT SUCCESSFUL (10/10 passed)" or "DEPLOYMENT PARTIAL (8/9 passed, 1 skipped)".
func (s Summary) Line() string {
	line := fmt.Sprintf("DEPLOYMENT %s (%d/%d passed", s.Verdict, s.Passed, s.Passed+s.Failed)
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	return line + ")"
}
