package monitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// The checks that read the instance's HTTP API: 1 instance_up, 2 health,
// 3 status, 5 scene and 9 performance.

const checkBytesPerMB = 1 << 20

// What checks 1, 2, 3, 5 and 9 want.
func instanceUpExpected(*CheckTarget) string { return "an HTTP answer to GET /status" }
func healthExpected(*CheckTarget) string     { return `200 {"status":"ok"}` }
func statusExpected(t *CheckTarget) string {
	return "healthy, http_api active, environment " + t.ExpectedEnvironment
}
func sceneExpected(t *CheckTarget) string { return t.ExpectedScene }
func performanceExpected(*CheckTarget) string {
	return "200 with every engine, memory and cache metric"
}

// checkInstanceUp is check 1: the API accepts a connection and answers
// HTTP, whatever the status code (a 404, a 429 or a 500 still prove a live
// server). GET /status needs no token and, on the shipped server, no bucket.
func checkInstanceUp(ctx context.Context, t *CheckTarget) CheckResult {
	r, _ := probeInstanceUp(ctx, t)
	return r
}

// probeInstanceUp is check 1; unreachable reports that no HTTP answer came
// back, so that the API checks after it can fail fast.
func probeInstanceUp(ctx context.Context, t *CheckTarget) (r CheckResult, unreachable bool) {
	expected := instanceUpExpected(t)
	resp, err := t.Client.GetUnauthenticated(ctx, "/status")
	if err != nil {
		var ue *spacetime.UnreachableError
		return checkErrResult(err, expected), errors.As(err, &ue)
	}
	observed := fmt.Sprintf("HTTP %d in %s", resp.Code, formatCheckDuration(resp.Duration))
	if resp.RateLimited != nil {
		observed = fmt.Sprintf("HTTP 429 (rate limited) in %s", formatCheckDuration(resp.Duration))
	}
	return CheckResult{Status: CheckPass, Observed: observed, Expected: expected, Reason: "the API answers HTTP"}, false
}

// checkHealth is check 2: GET /health is 200 {"status":"ok"}. The shipped
// server has no such endpoint; a target whose build lacks it declares the
// check a known gap.
func checkHealth(ctx context.Context, t *CheckTarget) CheckResult {
	expected := healthExpected(t)
	h, err := t.Client.Health(ctx)
	var se *spacetime.StatusError
	switch {
	case errors.As(err, &se) && se.Absent && se.LegacyBridge:
		return CheckResult{Status: CheckFail, Observed: "404 (legacy GodotBridge)", Expected: expected,
			Reason: "no /health endpoint: the legacy GodotBridge answered, so HttpApiServer did not start", Cause: CauseEndpointAbsent}
	case errors.As(err, &se) && se.Absent:
		return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("%d (no such endpoint)", se.Code), Expected: expected,
			Reason: "no /health endpoint: the stock Godot server does not serve it", Cause: CauseEndpointAbsent}
	case errors.As(err, &se):
		reason := fmt.Sprintf("/health answered HTTP %d, expected 200", se.Code)
		if se.Code >= 500 {
			reason = fmt.Sprintf("/health answered HTTP %d: the instance reports itself unhealthy", se.Code)
		}
		return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("HTTP %d", se.Code), Expected: expected, Reason: reason}
	case err != nil:
		return checkErrResult(err, expected)
	}
	observed := fmt.Sprintf("%d {\"status\":%q}", h.Meta.Code, h.Status)
	if !h.OK() {
		reason := fmt.Sprintf("/health says status %q, expected ok", h.Status)
		if len(h.Issues) > 0 {
			reason += ": " + strings.Join(h.Issues, "; ")
		}
		return CheckResult{Status: CheckFail, Observed: observed, Expected: expected, Reason: reason}
	}
	return CheckResult{Status: CheckPass, Observed: observed, Expected: expected, Reason: "/health says ok"}
}

// checkStatus is check 3: /status is healthy, http_api is active and the
// environment is the expected one. The deprecated GodotBridge answering in
// HttpApiServer's place is named as such.
func checkStatus(ctx context.Context, t *CheckTarget) CheckResult {
	expected := statusExpected(t)
	s, err := t.Client.Status(ctx)
	if err != nil {
		return checkErrResult(err, expected)
	}
	observed := fmt.Sprintf("%s, http_api %s, environment %s",
		checkOrNone(s.Status), checkOrNone(s.HTTPAPI), checkOrNone(s.Environment))
	var problems []string
	if s.Status != "healthy" {
		problems = append(problems, fmt.Sprintf("status is %s, expected healthy", checkOrNone(s.Status)))
	}
	if !s.Active() {
		problems = append(problems, fmt.Sprintf("http_api is %s, expected active", checkOrNone(s.HTTPAPI)))
	}
	switch {
	case s.Environment == "":
		problems = append(problems, "environment is not reported, expected "+t.ExpectedEnvironment)
	case s.Environment != t.ExpectedEnvironment:
		problems = append(problems, fmt.Sprintf("environment is %s, expected %s", s.Environment, t.ExpectedEnvironment))
	}
	if len(problems) > 0 {
		return CheckResult{Status: CheckFail, Observed: observed, Expected: expected, Reason: strings.Join(problems, "; ")}
	}
	return CheckResult{Status: CheckPass, Observed: observed, Expected: expected, Reason: "the instance reports itself healthy in " + s.Environment}
}

// checkScene is check 5: the current scene is the expected one. GET /scene
// shares a 30/min bucket with operators, so it is called once. When the
// scene router is missing (it may fail to compile at HEAD), the scene
// /status reports, if any, stands in.
func checkScene(ctx context.Context, t *CheckTarget) CheckResult {
	expected := sceneExpected(t)
	sc, err := t.Client.Scene(ctx)
	path, source := "", ""
	switch {
	case errors.Is(err, spacetime.ErrEndpointAbsent):
		s, serr := t.Client.Status(ctx)
		if serr == nil {
			path = cmp.Or(s.CurrentScene, s.Scene)
		}
		if path == "" {
			return CheckResult{Status: CheckFail, Observed: "GET /scene absent", Expected: expected,
				Reason: "GET /scene is absent (the scene router did not register) and /status reports no scene", Cause: CauseEndpointAbsent}
		}
		source = " (from /status: GET /scene is absent)"
	case err != nil:
		return checkErrResult(err, expected)
	case !sc.Loaded():
		return CheckResult{Status: CheckFail, Observed: "no scene", Expected: expected, Reason: "no scene loaded"}
	default:
		path = sc.Path()
	}
	if path != expected {
		return CheckResult{Status: CheckFail, Observed: path + source, Expected: expected,
			Reason: fmt.Sprintf("scene is %s, expected %s", path, expected)}
	}
	return CheckResult{Status: CheckPass, Observed: path + source, Expected: expected, Reason: "the expected scene is loaded"}
}

// checkPerformance is check 9: /performance answers with every metric
// populated. The shipped server checks its own token there, not the JWT.
func checkPerformance(ctx context.Context, t *CheckTarget) CheckResult {
	expected := performanceExpected(t)
	p, err := t.Client.Performance(ctx)
	var au *spacetime.UnauthorizedError
	switch {
	case errors.As(err, &au) && au.Expired && !au.PerformanceTokenConfigured:
		// The API token itself has expired: that is the news, whatever
		// token /performance wants.
		return CheckResult{Status: CheckFail, Observed: "HTTP 401", Expected: expected,
			Reason: checkReasonTokenExpired, Cause: CauseTokenExpired}
	case errors.As(err, &au) && au.Performance:
		return CheckResult{Status: CheckFail, Observed: "HTTP 401", Expected: expected,
			Reason: performanceAuthReason(au), Cause: performanceRefusalCause(au)}
	}
	if err != nil {
		return checkErrResult(err, expected)
	}
	if missing := p.Missing(); len(missing) > 0 {
		return CheckResult{Status: CheckFail, Observed: "missing " + strings.Join(missing, ", "), Expected: expected,
			Reason: fmt.Sprintf("/performance lacks %d metric(s): %s", len(missing), strings.Join(missing, ", "))}
	}
	observed := fmt.Sprintf("%.1f FPS, static memory %.0f MB", *p.Engine.FPS, *p.Memory.StaticMemoryUsage/checkBytesPerMB)
	return CheckResult{Status: CheckPass, Observed: observed, Expected: expected, Reason: "every metric is populated"}
}

// performanceRefusalCause classifies a /performance 401: its own token's
// refusal when a dedicated token was sent; otherwise the API token was
// sent there, and the round decides (apiTokenAccepted).
func performanceRefusalCause(e *spacetime.UnauthorizedError) string {
	if e.PerformanceTokenConfigured {
		return CausePerformanceTokenRejected
	}
	return CauseTokenRejected
}

// apiTokenAccepted reclassifies check 9's refusal of the API token when
// the same round shows the instance accepts that token (check auth
// passed): /performance then wants a token of its own, which is not the
// API token's refusal and must not raise token_rejected.
func apiTokenAccepted(r CheckResult, earlier []CheckResult) CheckResult {
	if r.Check != config.CheckPerformance || r.Cause != CauseTokenRejected {
		return r
	}
	for _, e := range earlier {
		if e.Check == config.CheckAuth && e.Status == CheckPass {
			r.Cause = CausePerformanceTokenRejected
		}
	}
	return r
}

// performanceAuthReason explains a /performance 401 (docs/instance.md, "Performance token").
func performanceAuthReason(e *spacetime.UnauthorizedError) string {
	switch {
	case e.PerformanceTokenConfigured:
		return "the configured /performance token was refused: it changes at each instance start (see `[SecurityOptimized] API token generated:` in its log)"
	case e.NoToken:
		return "no token configured for /performance (set performance_token_file or --performance-token-file)"
	}
	return "the /performance endpoint needs its own token (set performance_token_file or --performance-token-file)"
}

// checkOrNone renders an empty string as "(none)".
func checkOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
