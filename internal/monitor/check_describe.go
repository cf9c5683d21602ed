package monitor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// Reasons shared by several checks. They name the real cause, in the words
// an on-call engineer would use, and never contain a token: the client's
// errors carry none.
const (
	checkReasonRefused      = "connection refused: the API is disabled or the instance is not running"
	checkReasonTokenExpired = "token expired: the instance must be restarted"
)

// checkHints are the likely cause and the next step of each check failing
// for a reason of its own, for people reading the alert. A failure whose
// Cause is known takes its cause's hint instead (causeHints, or the token
// condition's). A hint names no other alert.
var checkHints = map[config.CheckName]string{
	config.CheckInstanceUp:  "the instance is not running, or its HTTP API is disabled or listens elsewhere: check the process and the target's api_url; restart the instance",
	config.CheckHealth:      "the instance answers /health with an error: check its log; if this build never serves /health, declare the check in known_gaps",
	config.CheckStatus:      "a build or config for another environment was deployed: check the deployed build and the environment it reports against expected.environment",
	config.CheckTelemetry:   "the telemetry server did not start or listens elsewhere: check the instance's log and the target's telemetry_urls",
	config.CheckScene:       "the expected scene failed to load, or another one is loaded: check the instance's log for load errors, and expected.scene",
	config.CheckAuth:        "authentication is misconfigured in this build (it answers without a token, or refuses a valid one): fix it before the API is exposed",
	config.CheckRateLimit:   "rate limiting is off in this build, or checks.rate_limit_path is not limited: check the build's rate-limit settings",
	config.CheckWhitelist:   "the scene whitelist is off in this build, so any scene loads: fix it before the API is exposed",
	config.CheckPerformance: "this build does not serve /performance as expected, or refuses the performance token: check performance_token_file and the instance's log",
	config.CheckThresholds:  "FPS or memory left the checklist's band during the window: the FPS and memory alerts and the dashboard say which and when",
}

// causeHints are the likely cause and the next step of a failure whose
// Cause is known, whatever the check. The token causes take the token
// condition's hint (tokenConditions).
var causeHints = map[string]string{
	CauseConnectionRefused: "the instance is not running, or its HTTP API is disabled or listens elsewhere: check the process and the target's api_url; restart the instance",
	CauseInstanceDown:      "the instance does not answer, so this check could not run: bring the instance back first",
	CauseTimeout:           "the engine is stalled or the host overloaded: check the instance's CPU and its log; restart it if it stays unresponsive",
	CauseEndpointAbsent:    "this build does not serve the endpoint: deploy a build that does, or declare the check in known_gaps",
	CausePerformanceTokenRejected: "the stock server checks its own token on /performance, and makes a new one at each start (its log line `[SecurityOptimized] API token generated:`): " +
		"put the current one in performance_token_file (re-read on every poll) or performance_token_env",
}

// checkHint is the hint of a failing result: its condition's or its
// cause's when known, else its check's. tokenFix says how to fix a refused
// token for the target's token source.
func checkHint(r CheckResult, tokenFix string) string {
	for _, c := range tokenConditions {
		if string(r.Check) == c.name || r.Cause == c.cause {
			return c.hintFor(tokenFix)
		}
	}
	if h, ok := causeHints[r.Cause]; ok {
		return h
	}
	return checkHints[r.Check]
}

// checkErrResult turns an error of the client into a result: a 429 skips the
// check (the instance said "later", not "broken"), a cancelled context
// skips it, anything else fails it with checkErrReason.
func checkErrResult(err error, expected string) CheckResult {
	var rl *spacetime.RateLimitedError
	switch {
	case errors.As(err, &rl):
		return checkRateLimited(rl.RetryAfter, expected)
	case errors.Is(err, context.Canceled):
		return CheckResult{Status: CheckSkipped, Expected: expected, Reason: "not run: cancelled"}
	}
	return CheckResult{Status: CheckFail, Observed: checkErrObserved(err), Expected: expected,
		Reason: checkErrReason(err), Cause: checkErrCause(err)}
}

// checkErrCause classifies a failed request for CheckResult.Cause.
func checkErrCause(err error) string {
	var au *spacetime.UnauthorizedError
	switch {
	case spacetime.IsConnRefused(err):
		return CauseConnectionRefused
	case spacetime.IsTimeout(err):
		return CauseTimeout
	case errors.As(err, &au) && au.Expired:
		return CauseTokenExpired
	case errors.As(err, &au):
		return CauseTokenRejected
	case errors.Is(err, spacetime.ErrEndpointAbsent):
		return CauseEndpointAbsent
	}
	return ""
}

// checkRateLimited is the skipped result of a check that met a 429.
func checkRateLimited(retry time.Duration, expected string) CheckResult {
	reason := "rate limited, retry after " + checkRetrySeconds(retry)
	if retry <= 0 {
		reason = "rate limited (the instance gave no retry delay)"
	}
	return CheckResult{Status: CheckSkipped, Observed: "HTTP 429", Expected: expected, Reason: reason,
		Cause: CauseRateLimited, RetryAfter: retry}
}

// checkRetrySeconds renders a retry delay in whole seconds, rounded up: "2 s".
func checkRetrySeconds(d time.Duration) string {
	return fmt.Sprintf("%d s", int64(math.Ceil(d.Seconds())))
}

// checkErrObserved is what the instance showed, in a few words.
func checkErrObserved(err error) string {
	var (
		ue  *spacetime.UnreachableError
		se  *spacetime.StatusError
		au  *spacetime.UnauthorizedError
		de  *spacetime.DecodeError
		leg *spacetime.LegacyBridgeError
	)
	switch {
	case errors.As(err, &ue):
		switch ue.Kind {
		case spacetime.UnreachableRefused:
			return "connection refused"
		case spacetime.UnreachableTimeout:
			return "no answer within " + ue.Timeout.String()
		}
		return "no answer"
	case errors.As(err, &leg):
		return "legacy GodotBridge answered"
	case errors.As(err, &au):
		return "HTTP 401"
	case errors.As(err, &se):
		if se.Absent {
			return fmt.Sprintf("HTTP %d (no such endpoint)", se.Code)
		}
		return fmt.Sprintf("HTTP %d", se.Code)
	case errors.As(err, &de):
		return "undecodable answer"
	case errors.Is(err, spacetime.ErrTokenUnavailable):
		return "no token"
	case errors.Is(err, context.DeadlineExceeded):
		return "not finished"
	}
	return "error"
}

// checkErrReason names the real cause of a failed request.
func checkErrReason(err error) string {
	var (
		ue  *spacetime.UnreachableError
		se  *spacetime.StatusError
		au  *spacetime.UnauthorizedError
		leg *spacetime.LegacyBridgeError
	)
	switch {
	case errors.As(err, &ue):
		switch ue.Kind {
		case spacetime.UnreachableRefused:
			return checkReasonRefused
		case spacetime.UnreachableTimeout:
			return fmt.Sprintf("no answer within %s: the engine may be stalled", ue.Timeout)
		}
		return fmt.Sprintf("no answer from %s %s: %v", ue.Method, ue.Endpoint, ue.Err)
	case errors.As(err, &leg):
		return "legacy bridge detected: the deprecated GodotBridge answers on the API port, so HttpApiServer did not start"
	case errors.As(err, &au):
		return checkUnauthorizedReason(au)
	case errors.As(err, &se) && se.Absent && se.LegacyBridge:
		return fmt.Sprintf("%s %s is absent, and the 404 is the legacy GodotBridge's: HttpApiServer did not start", se.Method, se.Endpoint)
	case errors.As(err, &se) && se.Absent:
		return fmt.Sprintf("%s %s is absent (HTTP %d): this build does not serve it", se.Method, se.Endpoint, se.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "the round's deadline passed before the instance answered"
	}
	return err.Error()
}

// checkUnauthorizedReason explains a 401 from a typed call.
func checkUnauthorizedReason(e *spacetime.UnauthorizedError) string {
	switch {
	case e.NoToken:
		return "no API token configured: set token_file, token_env or token_from_status"
	case e.Expired:
		return checkReasonTokenExpired
	}
	return fmt.Sprintf("%s %s refused the token with HTTP 401 (wrong token?)", e.Method, e.Endpoint)
}
