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
	// fired is the firing event while the check fails, kept so that a
	// restarted daemon can re-announce it (reannounceChecks); zero
	// otherwise.
	fired *event.Event
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
			h.rule, h.severity = checkEventRule(r), checkSeverity(r)
			h.kind, h.cause = conditionKind(r), r.Cause
			return +1
		}
	case CheckPass:
		// passes counts up to successThreshold only: beyond it tells
		// nothing, and a count that stops moving lets the saved state stop
		// changing, which saveHysteresisLocked then does not write again.
		if h.passes < successThreshold {
			h.passes++
		}
		h.failures = 0
		if h.failing && h.passes >= successThreshold {
			h.failing, h.since = false, at
			return -1
		}
	}
	return 0
}

// checkSeverity is how urgent a failing check is: an instance that does not
// answer needs a person now, and so do the derived conditions that say so;
// the rest can wait for working hours.
func checkSeverity(r CheckResult) Severity {
	if s, ok := conditionSeverity(r); ok {
		return s
	}
	if r.Check == config.CheckInstanceUp {
		return SeverityCritical
	}
	return SeverityWarning
}

// checkEventRule is the name of the alert a failing result raises: the
// condition's own name (token_expired), or check_<name>.
func checkEventRule(r CheckResult) string {
	if conditionKind(r) == event.KindCondition {
		return string(r.Check)
	}
	return checkConditionName(r.Check)
}

// event builds the event for the transition step just reported. Since is,
// as for rule events, when the condition began (the first failure of the
// streak) for a firing event, and when the check started failing for a
// resolved one (failingSince, the previous state's start). A firing event
// carries its hint (checkHint; tokenFix says how to fix a refused token).
func (h *checkHysteresis) event(r CheckResult, transition int, failingSince time.Time, failureThreshold, successThreshold int, tokenFix string) event.Event {
	since := failingSince
	if transition > 0 {
		since = h.streakStart
	}
	ev := event.Event{Name: h.rule, Severity: h.severity, Kind: h.kind, Cause: h.cause, At: h.since, Since: since,
		Observed: r.Observed, Expected: r.Expected}
	if transition > 0 {
		ev.Hint = checkHint(r, tokenFix)
	}
	condition := h.kind == event.KindCondition
	switch {
	case transition > 0 && condition:
		ev.State, ev.Reason = event.StateFiring, r.Reason
	case transition > 0:
		ev.State = event.StateFiring
		ev.Reason = fmt.Sprintf("check %s failed %s in a row: %s", r.Check, times(failureThreshold), r.Reason)
	case condition:
		ev.State, ev.Reason = event.StateResolved, r.Reason
	default:
		ev.State = event.StateResolved
		ev.Reason = fmt.Sprintf("check %s passed %s in a row: %s", r.Check, times(successThreshold), r.Reason)
	}
	return ev
}

// times is "1 time" or "n times".
func times(n int) string {
	if n == 1 {
		return "1 time"
	}
	return fmt.Sprintf("%d times", n)
}
