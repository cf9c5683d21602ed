package monitor

import (
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// checkHysteresis turns a check's raw results into a failing/recovered
// state: failureThreshold consecutive failures before the check counts as
// failing, successThreshold consecutive passes before it counts as
// recovered. Skipped results (known gaps, rate limits) leave it untouched.
type checkHysteresis struct {
	failures, passes int
	failing          bool
	// since is when the current state (failing or passing) began.
	since time.Time
	// streakStart is when the current run of failures (or, while failing,
	// of passes) began: the condition's start for a firing event.
	streakStart time.Time
	// rule is the condition raised when the check started failing, so that
	// the resolved event names the same condition.
	rule     string
	severity Severity
	// kind and cause are those of the failure that raised it.
	kind  event.Kind
	cause string
}

// step feeds one result and reports a transition: +1 the check started
// failing, -1 it recovered, 0 nothing changed.
func (h *checkHysteresis) step(r CheckResult, failureThreshold, successThreshold int, at time.Time) int {
	switch r.Status {
	case CheckFail:
		if h.failures == 0 && !h.failing {
			h.streakStart = at
		}
		h.failures++
		h.passes = 0
		if !h.failing && h.failures >= failureThreshold {
			h.failing, h.since = true, at
			h.rule, h.severity = checkEventRule(r), checkSeverity(r.Check, r.Cause)
			h.kind, h.cause = checkEventKind(r), r.Cause
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

// checkEventKind is condition for a cause the check only reports (an
// expired token), check otherwise.
func checkEventKind(r CheckResult) event.Kind {
	if r.Cause == CauseTokenExpired {
		return event.KindCondition
	}
	return event.KindCheck
}

// event builds the event for the transition step just reported. Since is,
// as for rule events, when the condition began (the first failure of the
// streak) for a firing event, and when the check started failing for a
// resolved one (failingSince, the previous state's start).
func (h *checkHysteresis) event(r CheckResult, transition int, failingSince time.Time, failureThreshold, successThreshold int) RuleEvent {
	since := failingSince
	if transition > 0 {
		since = h.streakStart
	}
	ev := RuleEvent{Rule: h.rule, Severity: h.severity, Kind: h.kind, Cause: h.cause, At: h.since, Since: since,
		Observed: r.Observed, Expected: r.Expected}
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
