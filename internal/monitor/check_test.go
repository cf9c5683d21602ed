package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// apiChecks are the checks that need only the HTTP API.
var apiChecks = []config.CheckName{
	config.CheckHealth, config.CheckStatus, config.CheckScene, config.CheckAuth,
	config.CheckRateLimit, config.CheckWhitelist, config.CheckPerformance,
}

// TestCheckFaults runs each check against the sim with one fault set and
// checks the result names the real cause. The healthy baseline of every
// check is in TestVerifyChecklistTwice.
func TestCheckFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		profile sim.Profile
		faults  string
		spec    simTarget
		check   config.CheckName
		status  CheckStatus
		cause   string
		reason  []string
		obs     string // a fragment of Observed
	}{
		{name: "fps 60", faults: `{"fps":60}`, check: config.CheckThresholds, status: CheckFail,
			reason: []string{"only 0% of ", "FPS samples in 85–95 (mean ", "need 95%"}, obs: "0% of "},
		{name: "fps jitter across the band", faults: `{"fps":85,"fps_jitter":3}`, check: config.CheckThresholds, status: CheckFail,
			reason: []string{"FPS samples in 85–95", "need 95%"}},
		{name: "memory 450 MB", faults: `{"memory_mb":450}`, check: config.CheckThresholds, status: CheckFail,
			reason: []string{"peak memory 450 MB, limit 400 MB"}, obs: "peak 450 MB"},
		{name: "binary stream: memory from /performance", faults: `{"telemetry_encoding":"binary"}`, check: config.CheckThresholds,
			status: CheckPass, obs: "peak 300 MB (/performance)"},
		{name: "binary stream, /performance refuses the JWT", profile: sim.ProfileGodot, faults: `{"telemetry_encoding":"binary"}`,
			check: config.CheckThresholds, status: CheckFail,
			reason: []string{"memory unknown: the stream carries none and /performance refused the token", "needs its own token"},
			obs:    "peak memory unknown"},
		{name: "telemetry down", faults: `{"telemetry_down":true}`, check: config.CheckTelemetry, status: CheckFail,
			reason: []string{"connection refused on ws://", "the telemetry server is not running"}},
		{name: "telemetry silent", faults: `{"telemetry_silent":true}`, spec: simTarget{checks: "telemetry_timeout: 300ms"},
			check: config.CheckTelemetry, status: CheckFail, reason: []string{"but no frame at all within 300ms: the stream is silent"}},
		{name: "telemetry down: thresholds", faults: `{"telemetry_down":true}`, check: config.CheckThresholds, status: CheckFail,
			reason: []string{"telemetry window: connection refused"}},
		{name: "no scene", faults: `{"scene":""}`, check: config.CheckScene, status: CheckFail, reason: []string{"no scene loaded"}, obs: "no scene"},
		{name: "another scene", faults: `{"scene":"res://node_3d.tscn"}`, check: config.CheckScene, status: CheckFail,
			reason: []string{"scene is res://node_3d.tscn, expected res://vr_main.tscn"}},
		{name: "environment staging", faults: `{"environment":"staging"}`, check: config.CheckStatus, status: CheckFail,
			reason: []string{"environment is staging, expected production"}},
		{name: "whitelist disabled", faults: `{"whitelist_disabled":true}`, check: config.CheckWhitelist, status: CheckFail,
			reason: []string{"404 scene not found", "the whitelist is not enforced"}, obs: "404 Scene file not found"},
		{name: "rate limit disabled", faults: `{"rate_limit_disabled":true}`, check: config.CheckRateLimit, status: CheckFail,
			reason: []string{"no 429 after 65 requests: rate limiting is off"}},
		{name: "auth disabled", faults: `{"auth_disabled":true}`, check: config.CheckAuth, status: CheckFail,
			reason: []string{"/scene/history answered 200 without a token: authentication is not enforced"}},
		{name: "wrong token", spec: simTarget{token: "not-the-token-0123456789"}, check: config.CheckAuth, status: CheckFail,
			cause: CauseTokenRejected, reason: []string{"/scene/history refused the token with HTTP 401 (wrong token?)"}},
		{name: "wrong token: scene", spec: simTarget{token: "not-the-token-0123456789"}, check: config.CheckScene, status: CheckFail,
			cause: CauseTokenRejected, reason: []string{"GET /scene refused the token with HTTP 401"}},
		{name: "token expired", profile: sim.ProfileGodot, faults: `{"token_expired":true}`, check: config.CheckAuth, status: CheckFail,
			cause: CauseTokenExpired, reason: []string{"token expired: the instance must be restarted"}},
		{name: "token expired: scene", profile: sim.ProfileGodot, faults: `{"token_expired":true}`, check: config.CheckScene, status: CheckFail,
			cause: CauseTokenExpired, reason: []string{"token expired: the instance must be restarted"}},
		{name: "auth path absent", spec: simTarget{checks: "auth_path: /nope"}, check: config.CheckAuth, status: CheckFail,
			cause: CauseEndpointAbsent, reason: []string{"/nope is absent (HTTP 404): set checks.auth_path"}},
		{name: "no telemetry URL", spec: simTarget{noTelemetry: true}, check: config.CheckTelemetry, status: CheckFail,
			reason: []string{"no telemetry URL configured"}},
		{name: "api answers 500s", faults: `{"api_error_rate":1}`, check: config.CheckInstanceUp, status: CheckPass, obs: "HTTP 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startCheckSim(t, sim.Options{Profile: cmpProfile(tc.profile)})
			if tc.faults != "" {
				patchFaults(t, s, tc.faults)
			}
			spec := tc.spec
			if spec.token == "" && tc.profile != sim.ProfileGodot {
				spec.token = s.Info().Token
			}
			r := resultOf(t, runOnly(t, checkTargetFor(t, s, spec), tc.check), tc.check)
			wantResult(t, r, tc.status, tc.cause, tc.reason...)
			if !strings.Contains(r.Observed, tc.obs) {
				t.Errorf("observed %q lacks %q", r.Observed, tc.obs)
			}
		})
	}
}

func cmpProfile(p sim.Profile) sim.Profile {
	if p == "" {
		return sim.ProfileChecklist
	}
	return p
}

// TestCheckAPIDown: instance_up says "connection refused" and the API
// checks fail at once with "instance down", without waiting for timeouts.
func TestCheckAPIDown(t *testing.T) {
	t.Parallel()
	s, ct := checklistTarget(t, sim.Options{}, simTarget{})
	patchFaults(t, s, `{"api_down":true}`)
	results := runOnly(t, ct, append([]config.CheckName{config.CheckInstanceUp}, apiChecks...)...)
	wantResult(t, resultOf(t, results, config.CheckInstanceUp), CheckFail, CauseConnectionRefused,
		"connection refused: the API is disabled or the instance is not running")
	for _, c := range apiChecks {
		r := resultOf(t, results, c)
		wantResult(t, r, CheckFail, CauseInstanceDown, "instance down: connection refused")
		if r.Duration > 100*time.Millisecond {
			t.Errorf("%s took %s: it should fail fast", c, r.Duration)
		}
	}
}

// TestCheckAPIStalled: an API that accepts connections but never answers
// fails instance_up as "no answer within", and the rest fail fast.
func TestCheckAPIStalled(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	ct := checkTargetFromYAML(t, "targets:\n  - name: stalled\n    api_url: "+srv.URL+"\n    telemetry_urls: []\n    token_from_status: true\n    checks:\n      request_timeout: 200ms\n")
	start := time.Now()
	results := runOnly(t, ct, config.CheckInstanceUp, config.CheckHealth, config.CheckScene, config.CheckPerformance)
	wantResult(t, results[0], CheckFail, CauseTimeout, "no answer within 200ms: the engine may be stalled")
	for _, r := range results[1:] {
		wantResult(t, r, CheckFail, CauseInstanceDown, "instance down: no answer within 200ms")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the round took %s: the dependent checks waited for their own timeouts", d)
	}
}

// TestCheckRateLimitedSkips: a 429 met by a check other than rate_limit
// skips it with the retry delay; it never fails.
func TestCheckRateLimitedSkips(t *testing.T) {
	t.Parallel()
	s, ct := checklistTarget(t, sim.Options{}, simTarget{})
	// Drain the /scene bucket (30/min), shared by GET and POST /scene.
	for i := 0; ; i++ {
		_, err := ct.Client.Scene(context.Background())
		var rl *spacetime.RateLimitedError
		if errors.As(err, &rl) {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("draining /scene: %v after %d requests", err, i)
		}
	}
	_ = s
	results := runOnly(t, ct, config.CheckScene, config.CheckWhitelist)
	for _, r := range results {
		wantResult(t, r, CheckSkipped, CauseRateLimited, "rate limited, retry after ")
		if r.RetryAfter <= 0 {
			t.Errorf("%s: no retry delay", r.Check)
		}
	}
	if sum := Summarize(results); sum.Line() != "DEPLOYMENT SUCCESSFUL (0/0 passed, 2 skipped)" {
		t.Errorf("skipped checks counted: %s", sum.Line())
	}
}

// TestCheckKnownGaps: verify runs a known gap and reports its failure with
// the declared reason; scheduled rounds skip it; a gap that passes says so.
func TestCheckKnownGaps(t *testing.T) {
	t.Parallel()
	gaps := "known_gaps:\n  - check: health\n    reason: the stock build has no /health\n  - status"
	cases := []struct {
		name    string
		profile sim.Profile
		mode    CheckMode
		check   config.CheckName
		status  CheckStatus
		cause   string
		reason  string
	}{
		{"verify: failed with the reason", sim.ProfileGodot, ModeVerify, config.CheckHealth, CheckFail, CauseEndpointAbsent,
			"no /health endpoint: the stock Godot server does not serve it (known gap: the stock build has no /health)"},
		{"verify: short form", sim.ProfileGodot, ModeVerify, config.CheckStatus, CheckFail, "",
			"environment is development, expected production (known gap: declared known gap)"},
		{"scheduled: skipped", sim.ProfileGodot, ModeScheduled, config.CheckHealth, CheckSkipped, CauseKnownGap,
			"known gap: the stock build has no /health"},
		{"verify: a gap that passes", sim.ProfileChecklist, ModeVerify, config.CheckHealth, CheckPass, "",
			"yet it passes: remove it from known_gaps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startCheckSim(t, sim.Options{Profile: tc.profile})
			spec := simTarget{extra: gaps}
			if tc.profile == sim.ProfileChecklist {
				spec.token = s.Info().Token
			}
			ct := checkTargetFor(t, s, spec)
			results := RunChecks(context.Background(), ct, tc.mode, []config.CheckName{tc.check})
			r := resultOf(t, results, tc.check)
			wantResult(t, r, tc.status, tc.cause, tc.reason)
			if !r.KnownGap {
				t.Errorf("KnownGap not set")
			}
			// A check not run has no duration, so no duration series.
			if ran := tc.status != CheckSkipped; ran != (r.Duration > 0) {
				t.Errorf("duration %v for a check that ran: %v", r.Duration, ran)
			}
		})
	}
}

// TestCheckScheduledMode: a scheduled round runs CheckTarget.Scheduled
// (no thresholds, no rate_limit) by default; check 7 asked for explicitly
// is skipped unless schedule.intrusive is set.
func TestCheckScheduledMode(t *testing.T) {
	t.Parallel()
	s, ct := checklistTarget(t, sim.Options{}, simTarget{})
	results := RunChecks(context.Background(), ct, ModeScheduled, nil)
	var names []config.CheckName
	for _, r := range results {
		names = append(names, r.Check)
		if r.Status != CheckPass {
			t.Errorf("%s: %s %q", r.Check, r.Status, r.Reason)
		}
	}
	want := []config.CheckName{config.CheckInstanceUp, config.CheckHealth, config.CheckStatus, config.CheckTelemetry,
		config.CheckScene, config.CheckAuth, config.CheckWhitelist, config.CheckPerformance}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("scheduled round ran %v, want %v", names, want)
	}

	rl := RunChecks(context.Background(), ct, ModeScheduled, []config.CheckName{config.CheckRateLimit})
	wantResult(t, rl[0], CheckSkipped, "", "schedule.intrusive is off")

	intrusive := checkTargetFor(t, s, simTarget{token: s.Info().Token, extra: "schedule:\n  intrusive: true"})
	rl = RunChecks(context.Background(), intrusive, ModeScheduled, nil)
	wantResult(t, resultOf(t, rl, config.CheckRateLimit), CheckPass, "", "rate limiting is enforced on /scenes")
}

// TestCheckContextEnded: a cancelled round skips what it did not run (a
// shutdown is no failure); a round past its deadline fails it.
func TestCheckContextEnded(t *testing.T) {
	t.Parallel()
	_, ct := checklistTarget(t, sim.Options{}, simTarget{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range RunChecks(cancelled, ct, ModeVerify, nil) {
		wantResult(t, r, CheckSkipped, "", "not run: cancelled")
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, r := range RunChecks(expired, ct, ModeVerify, nil) {
		wantResult(t, r, CheckFail, "", "deadline passed")
	}
}

// TestCheckPanicContained: a check that panics fails; the run goes on.
func TestCheckPanicContained(t *testing.T) {
	r := runCheck(config.CheckHealth, func() CheckResult { panic("boom") })
	if r.Status != CheckFail || !strings.Contains(r.Reason, "internal error in check health: boom") {
		t.Errorf("%+v", r)
	}
}

// TestCheckOddServers covers answers the sim does not give: the legacy
// bridge, a degraded /health, an incomplete /performance, an inactive API,
// a whitelist that accepts a missing scene, a /scene router that is gone.
func TestCheckOddServers(t *testing.T) {
	t.Parallel()
	type route struct {
		code int
		body string
	}
	cases := []struct {
		name   string
		routes map[string]route
		check  config.CheckName
		status CheckStatus
		cause  string
		reason string
	}{
		{"legacy bridge /status", map[string]route{"GET /status": {200, `{"debug_adapter":{"state":2},"language_server":{"state":2},"overall_ready":false}`}},
			config.CheckStatus, CheckFail, "", "legacy bridge detected: the deprecated GodotBridge answers on the API port"},
		{"legacy bridge /health", map[string]route{"GET /health": {404, `{"error":"Not Found","message":"Endpoint not found: /health","status_code":404}`}},
			config.CheckHealth, CheckFail, CauseEndpointAbsent, "the legacy GodotBridge answered"},
		{"degraded /health", map[string]route{"GET /health": {200, `{"status":"degraded","issues":["memory high"]}`}},
			config.CheckHealth, CheckFail, "", `/health says status "degraded", expected ok: memory high`},
		{"/health 503", map[string]route{"GET /health": {503, `{"status":"unhealthy"}`}},
			config.CheckHealth, CheckFail, "", "/health answered HTTP 503"},
		{"inactive API", map[string]route{"GET /status": {200, `{"status":"degraded","http_api":"starting","environment":"production"}`}},
			config.CheckStatus, CheckFail, "", "status is degraded, expected healthy; http_api is starting, expected active"},
		{"incomplete /performance", map[string]route{"GET /performance": {200, `{"engine":{"fps":90},"memory":{"static_memory_usage":1048576}}`}},
			config.CheckPerformance, CheckFail, "", "/performance lacks 8 metric(s): engine.process_time"},
		{"/performance absent", map[string]route{},
			config.CheckPerformance, CheckFail, CauseEndpointAbsent, "GET /performance is absent (HTTP 404): this build does not serve it"},
		{"whitelist accepts a missing scene", map[string]route{"POST /scene": {200, `{"status":"loading"}`}},
			config.CheckWhitelist, CheckFail, "", "neither whitelisted nor present (HTTP 200): the whitelist is not enforced"},
		{"scene router gone", map[string]route{},
			config.CheckWhitelist, CheckFail, CauseEndpointAbsent, "POST /scene is absent (the scene router did not register)"},
		{"scene router gone, /status names the scene", map[string]route{"GET /status": {200, `{"status":"healthy","http_api":"active","current_scene":"res://vr_main.tscn"}`}},
			config.CheckScene, CheckPass, "", "the expected scene is loaded"},
		{"scene router gone, no scene anywhere", map[string]route{"GET /status": {200, `{"status":"healthy","http_api":"active"}`}},
			config.CheckScene, CheckFail, CauseEndpointAbsent, "GET /scene is absent (the scene router did not register) and /status reports no scene"},
		{"rate-limit path answers 500", map[string]route{"GET /scenes": {500, `oops`}},
			config.CheckRateLimit, CheckFail, "", "/scenes answered HTTP 500 on request 1 of the burst"},
		{"auth path open", map[string]route{"GET /scene/history": {200, `{"history":[]}`}},
			config.CheckAuth, CheckFail, "", "/scene/history answered 200 without a token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rt, ok := tc.routes[r.Method+" "+r.URL.Path]
				if !ok {
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte("Not found"))
					return
				}
				w.WriteHeader(rt.code)
				_, _ = w.Write([]byte(rt.body))
			}))
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			ct := checkTargetFromYAML(t, "targets:\n  - name: odd\n    api_url: "+srv.URL+
				"\n    telemetry_urls: []\n    token_file: "+writeCheckFile(t, dir, "token", "a-token-of-some-length")+"\n")
			wantResult(t, resultOf(t, runOnly(t, ct, tc.check), tc.check), tc.status, tc.cause, tc.reason)
		})
	}
}
