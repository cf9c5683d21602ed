package monitor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// Conditions are causes the monitor derives from a round's results, one
// alert each, whatever number of checks they make fail. The alerting
// layer inhibits the checks they explain (their results carry the same
// cause), so that a wrong token is one notification, not four.
const (
	// ConditionTokenExpired: the instance's JWT expired. The stock Godot
	// server issues one token per process, so only a restart mends it.
	ConditionTokenExpired = "token_expired"
	// ConditionTokenRejected: the instance refused the token it was given:
	// the file or variable holds another instance's or an old token.
	ConditionTokenRejected = "token_rejected"
)

// tokenCondition is one condition, the cause that raises it, and the
// likely cause and next step people read with it.
type tokenCondition struct {
	name     string
	cause    string
	severity Severity
	// hint may hold {token_fix}: how to fix a refused token for the
	// target's token source (tokenHint).
	hint string
}

// tokenConditions are derived in this order; an expired token is the
// more precise account of a refusal, so it comes first.
var tokenConditions = []tokenCondition{
	{ConditionTokenExpired, CauseTokenExpired, SeverityCritical,
		"the stock Godot server issues one token per process and never renews it: restart the instance (the daemon then reads its new token)"},
	{ConditionTokenRejected, CauseTokenRejected, SeverityWarning,
		"the token is another instance's or a previous run's: {token_fix}"},
}

// hintFor is the condition's hint for a target whose token is fixed as
// tokenFix says.
func (c tokenCondition) hintFor(tokenFix string) string {
	return strings.ReplaceAll(c.hint, "{token_fix}", tokenFix)
}

// conditionResult folds a round's results into one result for cond: failed
// when a check failed with its cause, passed when none did and the
// instance answered, skipped when the round says nothing about tokens (the
// instance did not answer).
func conditionResult(cond tokenCondition, results []CheckResult) CheckResult {
	answered := false
	for _, r := range results {
		if r.Status == CheckFail && r.Cause == cond.cause {
			return CheckResult{Check: config.CheckName(cond.name), Status: CheckFail, Cause: cond.cause,
				Observed: r.Observed, Expected: conditionExpected, Reason: conditionReason(cond, r)}
		}
		if r.Check == config.CheckInstanceUp && r.Status == CheckPass {
			answered = true
		}
	}
	if !answered {
		return CheckResult{Check: config.CheckName(cond.name), Status: CheckSkipped}
	}
	return CheckResult{Check: config.CheckName(cond.name), Status: CheckPass, Expected: conditionExpected, Reason: "the instance accepts the token"}
}

// conditionExpected is what a token condition wants, whichever check
// showed the refusal (the check's own expected value is about something
// else: a scene, an environment).
const conditionExpected = "the token accepted"

// conditionReason says what is wrong, from the failing check's own
// account; what to do is the condition's hint.
func conditionReason(cond tokenCondition, r CheckResult) string {
	if cond.name == ConditionTokenExpired {
		return fmt.Sprintf("the instance's API token expired: check %s was refused (%s)", r.Check, r.Observed)
	}
	return fmt.Sprintf("the instance refused the API token (check %s: %s)", r.Check, r.Reason)
}

// tokenHint tells how to fix a refused token for the target's token source.
func tokenHint(t *config.Target) string {
	var b strings.Builder
	switch {
	case t.TokenFile != "":
		fmt.Fprintf(&b, "put the instance's current token in %s (the daemon re-reads it on every poll)", t.TokenFile)
	case t.TokenEnv != "":
		fmt.Fprintf(&b, "set %s to the instance's current token and restart spacetime-watch", t.TokenEnv)
	case t.TokenFromStatus:
		b.WriteString("the token comes from GET /status (jwt_token): check that it serves the token the API accepts")
	default:
		b.WriteString("configure token_file, token_env or token_from_status")
	}
	if t.TokenFile != "" || t.TokenEnv != "" {
		b.WriteString(", or read it from GET /status (jwt_token) with token_from_status: true; a restarted instance has a new token")
	}
	return b.String()
}

// conditionKind is the kind of the alert a result raises: condition for a
// derived one, check otherwise.
func conditionKind(r CheckResult) event.Kind {
	for _, c := range tokenConditions {
		if string(r.Check) == c.name {
			return event.KindCondition
		}
	}
	return event.KindCheck
}

// conditionSeverity is the severity of a derived condition, and false for
// a check.
func conditionSeverity(r CheckResult) (Severity, bool) {
	for _, c := range tokenConditions {
		if string(r.Check) == c.name {
			return c.severity, true
		}
	}
	return "", false
}

// ConditionNames lists every condition the monitor raises as an alert,
// sorted: the threshold rules (RuleNames), one per check (check_health,
// ...), the token conditions and tls_cert_expiring. Silences and inhibit
// rules are checked against it.
func ConditionNames() []string {
	names := RuleNames()
	for _, c := range config.AllChecks() {
		names = append(names, checkConditionName(c))
	}
	for _, c := range tokenConditions {
		names = append(names, c.name)
	}
	names = append(names, ConditionTLSCertExpiring)
	slices.Sort(names)
	return names
}

// checkConditionName is the condition a failing check raises.
func checkConditionName(c config.CheckName) string { return "check_" + string(c) }
