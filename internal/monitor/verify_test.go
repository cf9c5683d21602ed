package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// verify runs RunVerify with a generous deadline.
func verify(t *testing.T, ct *CheckTarget, opts VerifyOptions) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return RunVerify(ctx, ct, opts)
}

// failedChecks lists the checks a report failed, in the order they ran.
func failedChecks(r Report) []config.CheckName {
	var out []config.CheckName
	for _, c := range r.Results {
		if c.Status == CheckFail {
			out = append(out, c.Check)
		}
	}
	return out
}

// TestVerifyChecklistTwice is the first acceptance line: the checklist
// profile verifies 10/10 SUCCESSFUL, and again right away (check 7 finds
// the bucket still empty and passes on its first request).
func TestVerifyChecklistTwice(t *testing.T) {
	t.Parallel()
	_, ct := checklistTarget(t, sim.Options{}, simTarget{})

	var progressed []config.CheckName
	first := verify(t, ct, VerifyOptions{Progress: func(r CheckResult) { progressed = append(progressed, r.Check) }})
	if got := first.Summary.Line(); got != "DEPLOYMENT SUCCESSFUL (10/10 passed)" || first.ExitCode() != 0 {
		t.Fatalf("first run: %s, exit %d\n%s", got, first.ExitCode(), reportText(t, first))
	}
	wantOrder := []config.CheckName{
		config.CheckInstanceUp, config.CheckHealth, config.CheckStatus, config.CheckTelemetry, config.CheckScene,
		config.CheckAuth, config.CheckWhitelist, config.CheckPerformance, config.CheckThresholds, config.CheckRateLimit,
	}
	if !slices.Equal(progressed, wantOrder) {
		t.Errorf("progress order %v, want %v", progressed, wantOrder)
	}
	for _, r := range first.Results {
		if r.Observed == "" || r.Expected == "" || r.Reason == "" || r.Duration <= 0 {
			t.Errorf("%s: incomplete result %+v", r.Check, r)
		}
	}
	if th := resultOf(t, first.Results, config.CheckThresholds); !strings.Contains(th.Observed, "samples in 85–95 FPS, peak 300 MB") {
		t.Errorf("thresholds observed %q", th.Observed)
	}
	if rl := resultOf(t, first.Results, config.CheckRateLimit).Observed; !strings.HasPrefix(rl, "429 after ") {
		t.Errorf("rate_limit observed %q", rl)
	}

	second := verify(t, ct, VerifyOptions{})
	if got := second.Summary.Line(); got != "DEPLOYMENT SUCCESSFUL (10/10 passed)" || second.ExitCode() != 0 {
		t.Fatalf("second run: %s, exit %d\n%s", got, second.ExitCode(), reportText(t, second))
	}
	// The bucket refills at 1/s, so the second burst meets a 429 within
	// the few tokens refilled since the first, far below the limit.
	var n int
	rl := resultOf(t, second.Results, config.CheckRateLimit).Observed
	if _, err := fmt.Sscanf(rl, "429 after %d request", &n); err != nil || n > 10 {
		t.Errorf("second run's rate_limit observed %q, want a 429 within the few refilled tokens", rl)
	}
}

// TestVerifyAuthDisabledPartial: auth_disabled → 9/10 PARTIAL, exit 1,
// naming check 6.
func TestVerifyAuthDisabledPartial(t *testing.T) {
	t.Parallel()
	s, ct := checklistTarget(t, sim.Options{}, simTarget{})
	patchFaults(t, s, `{"auth_disabled":true}`)

	r := verify(t, ct, VerifyOptions{})
	if got := r.Summary.Line(); got != "DEPLOYMENT PARTIAL (9/10 passed)" || r.ExitCode() != 1 {
		t.Fatalf("%s, exit %d\n%s", got, r.ExitCode(), reportText(t, r))
	}
	if got := failedChecks(r); !slices.Equal(got, []config.CheckName{config.CheckAuth}) {
		t.Fatalf("failed %v, want [auth]", got)
	}
	wantResult(t, resultOf(t, r.Results, config.CheckAuth), CheckFail, "",
		"/scene/history answered 200 without a token: authentication is not enforced")
	table := reportText(t, r)
	if !regexp.MustCompile(`(?m)^6\s+auth\s+FAIL\s`).MatchString(table) {
		t.Errorf("the table does not name check 6:\n%s", table)
	}
}

// TestVerifyGodot: against the shipped server, each failure names its
// real cause; with the /performance token configured, performance passes.
func TestVerifyGodot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		perfToken  bool
		line       string
		exit       int
		wantFailed []config.CheckName
	}{
		{"without the performance token", false, "DEPLOYMENT FAILED (7/10 passed)", 2,
			[]config.CheckName{config.CheckHealth, config.CheckStatus, config.CheckPerformance}},
		{"with the performance token", true, "DEPLOYMENT PARTIAL (8/10 passed)", 1,
			[]config.CheckName{config.CheckHealth, config.CheckStatus}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startCheckSim(t, sim.Options{Profile: sim.ProfileGodot})
			spec := simTarget{}
			if tc.perfToken {
				spec.perfToken = s.Info().PerformanceToken
			}
			r := verify(t, checkTargetFor(t, s, spec), VerifyOptions{})
			if got := r.Summary.Line(); got != tc.line || r.ExitCode() != tc.exit {
				t.Fatalf("%s, exit %d; want %s, exit %d\n%s", got, r.ExitCode(), tc.line, tc.exit, reportText(t, r))
			}
			if got := failedChecks(r); !slices.Equal(got, tc.wantFailed) {
				t.Fatalf("failed %v, want %v\n%s", got, tc.wantFailed, reportText(t, r))
			}
			wantResult(t, resultOf(t, r.Results, config.CheckHealth), CheckFail, CauseEndpointAbsent,
				"no /health endpoint: the stock Godot server does not serve it")
			wantResult(t, resultOf(t, r.Results, config.CheckStatus), CheckFail, "",
				"environment is development, expected production")
			perf := resultOf(t, r.Results, config.CheckPerformance)
			if tc.perfToken {
				wantResult(t, perf, CheckPass, "", "every metric is populated")
			} else {
				wantResult(t, perf, CheckFail, CausePerformanceTokenRejected,
					"the /performance endpoint needs its own token (set performance_token_file or --performance-token-file)")
			}
		})
	}
}

// TestVerifyNoIntrusive: --no-intrusive reports check 7 skipped, outside
// the count.
func TestVerifyNoIntrusive(t *testing.T) {
	t.Parallel()
	_, ct := checklistTarget(t, sim.Options{}, simTarget{})
	var last CheckResult
	r := verify(t, ct, VerifyOptions{NoIntrusive: true, Progress: func(c CheckResult) { last = c }})
	if got := r.Summary.Line(); got != "DEPLOYMENT SUCCESSFUL (9/9 passed, 1 skipped)" || r.ExitCode() != 0 {
		t.Fatalf("%s, exit %d\n%s", got, r.ExitCode(), reportText(t, r))
	}
	rl := resultOf(t, r.Results, config.CheckRateLimit)
	wantResult(t, rl, CheckSkipped, "", "intrusive checks are off")
	if last.Check != config.CheckRateLimit {
		t.Errorf("the skipped check 7 was not reported through Progress (last %s)", last.Check)
	}
}

// TestVerifyNoSecrets: a sentinel token, right or wrong, never appears in a
// result, the table or the JSON.
func TestVerifyNoSecrets(t *testing.T) {
	t.Parallel()
	const sentinel = "SENTINEL-token-0123456789-do-not-print"
	cases := []struct {
		name    string
		simTok  string // the instance's token
		fileTok string // the configured token
	}{
		{"right token", sentinel, sentinel},
		{"wrong token", "the-instance-token-0123456789", sentinel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, ct := checklistTarget(t, sim.Options{Token: tc.simTok}, simTarget{token: tc.fileTok})
			r := verify(t, ct, VerifyOptions{})
			assertNoSecret(t, r, sentinel)
		})
	}
	t.Run("godot tokens", func(t *testing.T) {
		t.Parallel()
		s := startCheckSim(t, sim.Options{Profile: sim.ProfileGodot, TelemetryAuth: true})
		info := s.Info()
		r := verify(t, checkTargetFor(t, s, simTarget{perfToken: info.PerformanceToken}), VerifyOptions{})
		if resultOf(t, r.Results, config.CheckTelemetry).Status != CheckPass {
			t.Errorf("telemetry with auth_required: %+v", resultOf(t, r.Results, config.CheckTelemetry))
		}
		assertNoSecret(t, r, info.Token)
		assertNoSecret(t, r, info.PerformanceToken)
	})
}

func assertNoSecret(t *testing.T, r Report, secret string) {
	t.Helper()
	js, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var results bytes.Buffer
	for _, c := range r.Results {
		results.WriteString(strings.Join([]string{c.Observed, c.Expected, c.Reason, c.Cause}, "|"))
	}
	for name, text := range map[string]string{
		"results": results.String(), "table": reportText(t, r), "JSON": string(js),
	} {
		if strings.Contains(text, secret) {
			t.Errorf("the %s contain the token:\n%s", name, text)
		}
	}
}

// TestVerdicts: the checklist's decision rule, the verdict line and the
// exit code.
func TestVerdicts(t *testing.T) {
	results := func(pass, fail, skip int) []CheckResult {
		var out []CheckResult
		for range pass {
			out = append(out, CheckResult{Status: CheckPass})
		}
		for range fail {
			out = append(out, CheckResult{Status: CheckFail})
		}
		for range skip {
			out = append(out, CheckResult{Status: CheckSkipped})
		}
		return out
	}
	cases := []struct {
		name             string
		pass, fail, skip int
		line             string
		exit             int
	}{
		{"all passed", 10, 0, 0, "DEPLOYMENT SUCCESSFUL (10/10 passed)", 0},
		{"one skipped", 9, 0, 1, "DEPLOYMENT SUCCESSFUL (9/9 passed, 1 skipped)", 0},
		{"one failed", 9, 1, 0, "DEPLOYMENT PARTIAL (9/10 passed)", 1},
		{"two failed", 8, 2, 0, "DEPLOYMENT PARTIAL (8/10 passed)", 1},
		{"three failed", 7, 3, 0, "DEPLOYMENT FAILED (7/10 passed)", 2},
		{"failed with skips", 5, 3, 2, "DEPLOYMENT FAILED (5/8 passed, 2 skipped)", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Summary: Summarize(results(tc.pass, tc.fail, tc.skip))}
			if got := r.Summary.Line(); got != tc.line {
				t.Errorf("line %q, want %q", got, tc.line)
			}
			if got := r.ExitCode(); got != tc.exit {
				t.Errorf("exit %d, want %d", got, tc.exit)
			}
		})
	}
}

// fixedReport is a report with every kind of row, for the golden table
// and the JSON test.
func fixedReport(tb testing.TB) Report {
	rs := []CheckResult{
		{Check: config.CheckInstanceUp, Status: CheckPass, Observed: "HTTP 200 in 3ms", Expected: "an HTTP answer to GET /status", Reason: "the API answers HTTP", Duration: 3 * time.Millisecond},
		{Check: config.CheckHealth, Status: CheckFail, Observed: "404 (no such endpoint)", Expected: `200 {"status":"ok"}`, Reason: "no /health endpoint: the stock Godot server does not serve it (known gap: stock build)", Cause: CauseEndpointAbsent, KnownGap: true, Duration: 2 * time.Millisecond},
		{Check: config.CheckStatus, Status: CheckFail, Observed: "healthy, http_api active, environment development", Expected: "healthy, http_api active, environment production", Reason: "environment is development, expected production", Duration: 2 * time.Millisecond},
		{Check: config.CheckTelemetry, Status: CheckPass, Observed: "fps frame after 21ms", Expected: "an fps or vr_tracking frame within 10s", Reason: "telemetry flows", Duration: 21 * time.Millisecond},
		{Check: config.CheckScene, Status: CheckSkipped, Observed: "HTTP 429", Expected: "res://vr_main.tscn", Reason: "rate limited, retry after 2 s", Cause: CauseRateLimited, RetryAfter: 1500 * time.Millisecond, Duration: time.Millisecond},
		{Check: config.CheckAuth, Status: CheckPass, Observed: "401 without a token, 200 with it", Expected: "401 without a token, 200 with it", Reason: "authentication is enforced and the token is accepted", Duration: 4 * time.Millisecond},
		{Check: config.CheckWhitelist, Status: CheckPass, Observed: "403 Scene not in whitelist for environment: development", Expected: "403 for a scene outside the whitelist", Reason: "the whitelist refused a scene outside it", Duration: 2 * time.Millisecond},
		{Check: config.CheckPerformance, Status: CheckFail, Observed: "HTTP 401", Expected: "200 with every engine, memory and cache metric", Reason: "the /performance endpoint needs its own token (set performance_token_file or --performance-token-file)", Cause: CausePerformanceTokenRejected, Duration: 2 * time.Millisecond},
		{Check: config.CheckThresholds, Status: CheckPass, Observed: "97% of 30 samples in 85–95 FPS, peak 300 MB", Expected: "≥95% of FPS samples in 85–95, peak memory < 400 MB", Reason: "FPS and memory within the thresholds", Duration: 15 * time.Second},
		{Check: config.CheckRateLimit, Status: CheckPass, Observed: "429 after 61 requests", Expected: "429 within 65 requests (limit 60/min)", Reason: "rate limiting is enforced on /scenes", Duration: 180 * time.Millisecond},
	}
	return Report{
		Target: "main", APIURL: "http://127.0.0.1:8080",
		StartedAt: testkit.BaseTime(tb), Duration: 15250 * time.Millisecond,
		Results: rs, Summary: Summarize(rs),
	}
}

// TestReportJSON: each check carries number, name, result, observed,
// expected, reason and duration; the summary, verdict line and exit code
// come along.
func TestReportJSON(t *testing.T) {
	b, err := fixedReport(t).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Target      string `json:"target"`
		Checks      []map[string]any
		Summary     Summary `json:"summary"`
		VerdictLine string  `json:"verdict_line"`
		ExitCode    int     `json:"exit_code"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got.Target != "main" || got.ExitCode != 2 || got.VerdictLine != "DEPLOYMENT FAILED (6/9 passed, 1 skipped)" ||
		got.Summary != (Summary{Passed: 6, Failed: 3, Skipped: 1, Verdict: VerdictFailed}) {
		t.Errorf("header %+v", got)
	}
	if len(got.Checks) != 10 {
		t.Fatalf("%d checks", len(got.Checks))
	}
	for _, c := range got.Checks {
		for _, k := range []string{"number", "name", "result", "observed", "expected", "reason", "duration_seconds"} {
			if _, ok := c[k]; !ok {
				t.Errorf("check %v lacks %q", c["name"], k)
			}
		}
	}
	scene := got.Checks[4]
	if scene["name"] != "scene" || scene["number"] != 5.0 || scene["result"] != "skipped" || scene["retry_after_seconds"] != 1.5 {
		t.Errorf("scene: %v", scene)
	}
	if th := got.Checks[8]; th["duration_seconds"] != 15.0 || th["number"] != 10.0 {
		t.Errorf("thresholds: %v", th)
	}
	if h := got.Checks[1]; h["known_gap"] != true || h["cause"] != CauseEndpointAbsent {
		t.Errorf("health: %v", h)
	}
}
