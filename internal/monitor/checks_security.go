package monitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// The checks that prove the instance's defences: 6 auth, 7 rate_limit and
// 8 whitelist.

// What checks 6, 7 and 8 want.
func authExpected(*CheckTarget) string      { return "401 without a token, 200 with it" }
func whitelistExpected(*CheckTarget) string { return "403 for a scene outside the whitelist" }
func rateLimitExpected(t *CheckTarget) string {
	limit := t.Settings.RateLimitPerMinute
	return fmt.Sprintf("429 within %d requests (limit %d/min)", limit+5, limit)
}

// checkAuth is check 6: checks.auth_path answers 401 without a token and
// 200 with it. The reason names the half that failed. /scene/history (the
// default) is read-only and has a roomy 100/min bucket; a 401 spends none.
func checkAuth(ctx context.Context, t *CheckTarget) CheckResult {
	path := t.Settings.AuthPath
	expected := authExpected(t)
	fail := func(observed, reason string) CheckResult {
		return CheckResult{Status: CheckFail, Observed: observed, Expected: expected, Reason: reason}
	}

	anon, err := t.Client.GetUnauthenticated(ctx, path)
	if err != nil {
		return checkErrResult(err, expected)
	}
	switch {
	case anon.Code == http.StatusUnauthorized:
	case anon.RateLimited != nil:
		return checkRateLimited(anon.RateLimited.RetryAfter, expected)
	case anon.Code >= 200 && anon.Code < 300:
		return fail(fmt.Sprintf("%d without a token", anon.Code),
			fmt.Sprintf("%s answered %d without a token: authentication is not enforced", path, anon.Code))
	case anon.Absent:
		r := fail(fmt.Sprintf("%d without a token (no such endpoint)", anon.Code),
			fmt.Sprintf("%s is absent (HTTP %d): set checks.auth_path to a protected endpoint", path, anon.Code))
		r.Cause = CauseEndpointAbsent
		return r
	default:
		return fail(fmt.Sprintf("%d without a token", anon.Code),
			fmt.Sprintf("%s answered HTTP %d without a token, expected 401", path, anon.Code))
	}

	if t.APIToken == nil {
		r := fail("401 without a token; no token to try",
			"no API token configured: set token_file, token_env or token_from_status")
		r.Cause = CauseTokenRejected
		return r
	}
	authed, err := t.Client.Get(ctx, path)
	if err != nil {
		return checkErrResult(err, expected)
	}
	refreshed := ""
	if authed.Code == http.StatusUnauthorized {
		var reason string
		if authed, reason, err = retryRefusedToken(ctx, t, path); err != nil {
			return checkErrResult(err, expected)
		}
		if reason != "" {
			r := fail("401 without a token, 401 with it", reason)
			r.Cause = CauseTokenRejected
			if strings.HasPrefix(reason, checkReasonTokenExpired) {
				r.Cause = CauseTokenExpired
			}
			return r
		}
		refreshed = " (after refreshing the token)"
	}
	switch {
	case authed.Code >= 200 && authed.Code < 300:
		return CheckResult{Status: CheckPass, Observed: fmt.Sprintf("401 without a token, %d with it", authed.Code),
			Expected: expected, Reason: "authentication is enforced and the token is accepted" + refreshed}
	case authed.RateLimited != nil:
		return checkRateLimited(authed.RateLimited.RetryAfter, expected)
	default:
		return fail(fmt.Sprintf("401 without a token, %d with it", authed.Code),
			fmt.Sprintf("%s answered HTTP %d with the token, expected 200", path, authed.Code))
	}
}

// retryRefusedToken handles a 401 to the token: it tells an expired token
// (its exp has passed, or the instance refuses the very token its own
// /status hands out: nothing renews it, docs/instance.md, "Tokens") from a
// wrong one, and otherwise refreshes the token and tries once more. A
// non-empty reason means the token was refused for good.
func retryRefusedToken(ctx context.Context, t *CheckTarget, path string) (*spacetime.RawResponse, string, error) {
	sent, err := t.APIToken.Token(ctx)
	if err != nil {
		return nil, "", err
	}
	if _, exp, ok := spacetime.TokenExpiry(sent); ok && !t.now().Before(exp) {
		return nil, checkReasonTokenExpired, nil
	}
	if st, err := t.Client.Status(ctx); err == nil && st.JWTToken != "" && st.JWTToken == sent {
		return nil, checkReasonTokenExpired + " (it refuses the token its own /status hands out)", nil
	}
	t.APIToken.Invalidate()
	fresh, err := t.APIToken.Token(ctx)
	if err != nil || fresh == sent {
		return nil, fmt.Sprintf("%s refused the token with HTTP 401 (wrong token?)", path), nil
	}
	resp, err := t.Client.Get(ctx, path)
	if err != nil {
		return nil, "", err
	}
	if resp.Code == http.StatusUnauthorized {
		return nil, fmt.Sprintf("%s refused the token with HTTP 401, also after a refresh (wrong token?)", path), nil
	}
	return resp, "", nil
}

// checkRateLimit is check 7: a burst on checks.rate_limit_path draws a 429
// within limit+5 requests. It stops at the first 429, so it spends no more
// of the shared bucket than needed; right after a previous run the bucket
// is still empty and the first request draws the 429, which passes too.
// No other check touches that path.
func checkRateLimit(ctx context.Context, t *CheckTarget) CheckResult {
	path, limit := t.Settings.RateLimitPath, t.Settings.RateLimitPerMinute
	budget := limit + 5
	expected := rateLimitExpected(t)
	for n := 1; n <= budget; n++ {
		resp, err := t.Client.Get(ctx, path)
		if err != nil {
			r := checkErrResult(err, expected)
			if r.Status == CheckFail {
				r.Reason = fmt.Sprintf("request %d of the burst: %s", n, r.Reason)
			}
			return r
		}
		switch {
		case resp.Code == http.StatusTooManyRequests:
			return CheckResult{Status: CheckPass, Observed: fmt.Sprintf("429 after %d %s", n, checkPlural(n, "request")),
				Expected: expected, Reason: "rate limiting is enforced on " + path}
		case resp.Code >= 200 && resp.Code < 300:
			continue
		case resp.Code == http.StatusUnauthorized:
			return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("401 on request %d", n), Expected: expected,
				Reason: fmt.Sprintf("%s refused the token with HTTP 401: the burst cannot reach the rate limiter", path), Cause: CauseTokenRejected}
		case resp.Absent:
			return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("%d (no such endpoint)", resp.Code), Expected: expected,
				Reason: fmt.Sprintf("%s is absent (HTTP %d): set checks.rate_limit_path to a rate-limited endpoint", path, resp.Code), Cause: CauseEndpointAbsent}
		default:
			return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("HTTP %d on request %d", resp.Code, n), Expected: expected,
				Reason: fmt.Sprintf("%s answered HTTP %d on request %d of the burst", path, resp.Code, n)}
		}
	}
	return CheckResult{Status: CheckFail, Observed: fmt.Sprintf("no 429 after %d requests", budget), Expected: expected,
		Reason: fmt.Sprintf("no 429 after %d requests: rate limiting is off", budget)}
}

// checkWhitelist is check 8: POST /scene with a path that is neither
// whitelisted nor present must get 403. A 404 ("scene not found") means the
// path got through the whitelist. Nothing is ever loaded: the path does not
// exist.
func checkWhitelist(ctx context.Context, t *CheckTarget) CheckResult {
	expected := whitelistExpected(t)
	w, err := t.Client.ProbeWhitelist(ctx, t.Settings.WhitelistProbeScene)
	if err != nil {
		r := checkErrResult(err, expected)
		if errors.Is(err, spacetime.ErrEndpointAbsent) {
			r.Reason = "POST /scene is absent (the scene router did not register): the whitelist cannot be checked"
		}
		return r
	}
	observed := fmt.Sprintf("%d %s", w.Code, cmp.Or(w.Message, w.Error))
	switch w.Code {
	case http.StatusForbidden:
		return CheckResult{Status: CheckPass, Observed: observed, Expected: expected, Reason: "the whitelist refused a scene outside it"}
	case http.StatusNotFound:
		return CheckResult{Status: CheckFail, Observed: observed, Expected: expected,
			Reason: "the whitelist let the probe scene through (404 scene not found): the whitelist is not enforced"}
	default:
		return CheckResult{Status: CheckFail, Observed: observed, Expected: expected,
			Reason: fmt.Sprintf("the server accepted to load a scene that is neither whitelisted nor present (HTTP %d): the whitelist is not enforced", w.Code)}
	}
}

// plural returns word, with an s unless n is 1.
func checkPlural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
