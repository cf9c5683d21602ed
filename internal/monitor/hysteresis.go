package monitor

import (
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// checkHysteresis turns a check's raw results into a failing/recovered
// state: failureThreshold consecutive failures before the check counts as
// failing, successThreshold consecutive passes before it counts as
// recovered. Skipped results (known gaps, rate limits) leave it untouched.
type checkHysteresis struct {
	failures, passes int
	failing          bool
	since            time.Time
	// rule is the condition raised when the check started failing, so that
	// the resolved event names the same condition.
	rule     string
	severity Severity
}

// step feeds one result and reports a transition: +1 the check started
// failing, -1 it recovered, 0 nothing changed.
func (h *checkHysteresis) step(r CheckResult, failureThreshold, successThreshold int, at time.Time) int {
	switch r.Status {
	case CheckFail:
		h.failures++
		h.passes = 0
		if !h.failing && h.failures >= failureThreshold {
			h.failing, h.since = true, at
			h.rule, h.severity = checkEventRule(r), checkSeverity(r.Check, r.Cause)
			return +1
		}
	case CheckPass:
		h.passes++
		h.failures = 0
		if h.failing && h.passes >= successThreshold {
			h.failing, h.since = false, at
			return -1
		}
	}
	return 0
}

// checkSeverity is how urgent a failing check is: an instance that does not
// answer, or whose token expired, needs a person now; the rest can wait for
// working hours.
func checkSeverity(c config.CheckName, cause string) Severity {
	if c == config.CheckInstanceUp || cause == CauseTokenExpired {
		return SeverityCritical
	}
	return SeverityWarning
}

// checkEventRule is the name of the condition a failing check raises. A
// failing auth check whose token expired raises token_expired instead, so
// that the on-call engineer reads "restart the instance", not "target down".
func checkEventRule(r CheckResult) string {
	if r.Cause == CauseTokenExpired {
		return "token_expired"
	}
	return "check_" + string(r.Check)
}

// event builds the event for the transition step just reported; since is
// when the previous state began.
func (h *checkHysteresis) event(r CheckResult, transition int, since time.Time, failureThreshold, successThreshold int) RuleEvent {
	ev := RuleEvent{Rule: h.rule, Severity: h.severity, At: h.since, Since: since}
	if transition > 0 {
		ev.State = RuleEventFiring
		ev.Reason = fmt.Sprintf("check %s failed %d times in a row: %s", r.Check, failureThreshold, r.Reason)
		if r.Cause == CauseTokenExpired {
			ev.Reason = "token expired: the instance must be restarted (" + r.Reason + ")"
		}
	} else {
		ev.State = RuleEventResolved
		ev.Reason = fmt.Sprintf("check %s passed %d times in a row: %s", r.Check, successThreshold, r.Reason)
	}
	return ev
}
