package monitor_test

import (
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// checkFailures are what each check reports when it fails for a reason of
// its own, in the checks' words: the inputs of the message tests, as
// telemetry samples are for the rules. A check without a row fails with a
// generic account, so that a new check is still rendered.
var checkFailures = map[config.CheckName]monitor.CheckResult{
	config.CheckInstanceUp: {Observed: "connection refused", Expected: "an answer from GET /status",
		Reason: "connection refused: the API is disabled or the instance is not running", Cause: monitor.CauseConnectionRefused},
	config.CheckHealth: {Observed: "HTTP 500", Expected: "HTTP 200", Reason: "GET /health answered HTTP 500"},
	config.CheckStatus: {Observed: "development", Expected: "production",
		Reason: "environment is development, expected production"},
	config.CheckTelemetry: {Observed: "no data frame", Expected: "a data frame within 10s",
		Reason: "no telemetry data frame within 10s of connecting"},
	config.CheckScene: {Observed: "res://lobby.tscn", Expected: "res://vr_main.tscn",
		Reason: "res://lobby.tscn is loaded, expected res://vr_main.tscn"},
	config.CheckAuth: {Observed: "HTTP 200 without a token", Expected: "HTTP 401 without a token, 200 with it",
		Reason: "GET /scene answered 200 without a token: authentication is off"},
	config.CheckRateLimit: {Observed: "no 429 in 40 requests", Expected: "a 429 within 40 requests",
		Reason: "a burst of 40 requests on /scene drew no 429: rate limiting is off"},
	config.CheckWhitelist: {Observed: "HTTP 200", Expected: "HTTP 403",
		Reason: "POST /scene loaded res://not_whitelisted.tscn: the whitelist is off"},
	config.CheckPerformance: {Observed: "HTTP 404 (no such endpoint)", Expected: "HTTP 200 with engine and memory figures",
		Reason: "GET /performance is absent (HTTP 404): this build does not serve it", Cause: monitor.CauseEndpointAbsent},
	config.CheckThresholds: {Observed: "62% of samples in band", Expected: "at least 90% in 85–95 fps, memory under 400 MB",
		Reason: "FPS in band 62% of the window (mean 78.4 fps)"},
}

// failing is check c's failed result.
func failing(c config.CheckName) monitor.CheckResult {
	r, ok := checkFailures[c]
	if !ok {
		r = monitor.CheckResult{Observed: "failed", Expected: "pass", Reason: string(c) + " failed"}
	}
	r.Check, r.Status = c, monitor.CheckFail
	return r
}

// passing is check c's passed result.
func passing(c config.CheckName) monitor.CheckResult {
	return monitor.CheckResult{Check: c, Status: monitor.CheckPass, Observed: "as expected", Expected: "as expected",
		Reason: string(c) + " as expected"}
}
