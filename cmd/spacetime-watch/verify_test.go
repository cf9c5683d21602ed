package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// verifyArgs is the verify command line for s, the way an operator types
// it: URLs and, for the checklist profile, the token in a file.
func verifyArgs(t *testing.T, s *sim.Sim, extra ...string) []string {
	t.Helper()
	info := s.Info()
	args := []string{"verify",
		"--api-url=http://" + info.API,
		"--telemetry-url=ws://" + info.Telemetry + "/",
		"--threshold-window=1s",
	}
	if info.PerformanceToken == "" { // checklist: a static token
		args = append(args, "--token-file="+testkit.WriteFileIn(t, t.TempDir(), "api-token", info.Token+"\n"))
	}
	return append(args, extra...)
}

func verifyCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// failedRow matches a FAIL row of check n in verify's table.
func failedRow(n int, name string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + strconv.Itoa(n) + `\s+` + name + `\s+FAIL\s`)
}

// TestVerifyChecklist: the acceptance sequence against the checklist
// profile, through the command line: 10/10 and exit 0; again right away,
// still 10/10 (the first run exhausted no bucket the second needs); after
// POST /faults {"auth_disabled":true}, 9/10 PARTIAL and exit 1, naming
// check 6.
func TestVerifyChecklist(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	ctx := verifyCtx(t)
	args := verifyArgs(t, s)

	for _, run := range []string{"first run", "second run right away"} {
		r := invoke(ctx, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "DEPLOYMENT SUCCESSFUL (10/10 passed)") {
			t.Fatalf("%s: want DEPLOYMENT SUCCESSFUL (10/10 passed), exit 0\n%s", run, r)
		}
	}

	if err := s.PatchFaults([]byte(`{"auth_disabled":true}`)); err != nil {
		t.Fatal(err)
	}
	r := invoke(ctx, args...)
	if r.code != 1 || !strings.Contains(r.stdout, "DEPLOYMENT PARTIAL (9/10 passed)") {
		t.Fatalf("after auth_disabled: want DEPLOYMENT PARTIAL (9/10 passed), exit 1\n%s", r)
	}
	if !failedRow(6, "auth").MatchString(r.stdout) {
		t.Errorf("the table does not name check 6 auth as failed\n%s", r)
	}
	if !strings.Contains(testkit.Unwrapped(r.stdout), "without a token: authentication is not enforced") {
		t.Errorf("the auth failure does not say why (answered without a token)\n%s", r)
	}
	if n := strings.Count(r.stdout, " FAIL "); n != 1 {
		t.Errorf("%d FAIL rows, want 1\n%s", n, r)
	}
	// Not a terminal: the table fits 80 columns and stderr stays quiet
	// (no progress lines repeating the table into a log).
	for _, line := range strings.Split(r.stdout, "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("a line of %d columns, want at most 80: %q", n, line)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr is not a terminal, yet verify wrote to it:\n%s", r.stderr)
	}
}

// verifyJSON is the part of `verify --output json` the test reads.
type verifyJSON struct {
	Target string `json:"target"`
	Checks []struct {
		Number          int      `json:"number"`
		Name            string   `json:"name"`
		Result          string   `json:"result"`
		Observed        *string  `json:"observed"`
		Expected        *string  `json:"expected"`
		Reason          *string  `json:"reason"`
		DurationSeconds *float64 `json:"duration_seconds"`
	} `json:"checks"`
	Summary struct {
		Passed, Failed, Skipped int
		Verdict                 string
	} `json:"summary"`
	VerdictLine string `json:"verdict_line"`
	ExitCode    int    `json:"exit_code"`
}

// TestVerifyJSON: --output json parses, carries every field of every
// check, and says what the table says.
func TestVerifyJSON(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	ctx := verifyCtx(t)

	table := invoke(ctx, verifyArgs(t, s, "--no-intrusive")...)
	r := invoke(ctx, verifyArgs(t, s, "--no-intrusive", "--output=json")...)
	if r.code != 0 || table.code != 0 {
		t.Fatalf("want exit 0 from both\ntable: %s\njson: %s", table, r)
	}
	var out verifyJSON
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r)
	}
	const line = "DEPLOYMENT SUCCESSFUL (9/9 passed, 1 skipped)"
	if out.VerdictLine != line || out.ExitCode != 0 || out.Summary.Passed != 9 || out.Summary.Skipped != 1 {
		t.Errorf("verdict %q exit %d summary %+v; want %s", out.VerdictLine, out.ExitCode, out.Summary, line)
	}
	if !strings.Contains(table.stdout, line) {
		t.Errorf("the table's verdict differs from the JSON's %q\n%s", line, table.stdout)
	}
	var names []string
	for _, c := range out.Checks {
		names = append(names, c.Name)
		if c.Observed == nil || c.Expected == nil || c.Reason == nil || c.DurationSeconds == nil {
			t.Errorf("check %s lacks observed, expected, reason or duration_seconds", c.Name)
		}
		want := "pass"
		if c.Name == "rate_limit" {
			want = "skipped"
		}
		if c.Result != want {
			t.Errorf("check %s: %s, want %s", c.Name, c.Result, want)
		}
		// The same check, with the same result, is in the table.
		row := regexp.MustCompile(`(?m)^` + strconv.Itoa(c.Number) + `\s+` + c.Name + `\s+` + strings.ToUpper(c.Result) + `\s`)
		if !row.MatchString(table.stdout) {
			t.Errorf("the table has no row %d %s %s\n%s", c.Number, c.Name, strings.ToUpper(c.Result), table.stdout)
		}
	}
	wantOrder := []string{"instance_up", "health", "status", "telemetry", "scene", "auth", "whitelist", "performance", "thresholds", "rate_limit"}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("checks %v, want %v", names, wantOrder)
	}
	if strings.Contains(r.stdout, "Verifying") {
		t.Errorf("progress lines leaked into the JSON output")
	}
}

// TestVerifyGodot: against the shipped server's behaviour (no token flags:
// the token comes from /status), verify fails with exit 2 and every
// failure names its real cause.
func TestVerifyGodot(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{Profile: sim.ProfileGodot, TelemetryAuth: true})
	r := invoke(verifyCtx(t), verifyArgs(t, s)...)
	if r.code != 2 || !strings.Contains(r.stdout, "DEPLOYMENT FAILED (7/10 passed)") {
		t.Fatalf("want DEPLOYMENT FAILED (7/10 passed), exit 2\n%s", r)
	}
	for _, c := range []struct {
		n          int
		name, want string
	}{
		{2, "health", "no /health endpoint: the stock Godot server does not serve it"},
		{3, "status", "environment is development, expected production"},
		{9, "performance", "the /performance endpoint needs its own token"},
	} {
		if !failedRow(c.n, c.name).MatchString(r.stdout) {
			t.Errorf("check %d %s is not failed\n%s", c.n, c.name, r)
		}
		if !strings.Contains(testkit.Unwrapped(r.stdout), c.want) {
			t.Errorf("check %s: the cause %q is not given\n%s", c.name, c.want, r)
		}
	}
	// Authenticated checks passed with the JWT from /status.
	for _, name := range []string{"telemetry", "auth"} {
		if !regexp.MustCompile(`(?m)^\d+\s+` + name + `\s+PASS\s`).MatchString(r.stdout) {
			t.Errorf("check %s did not pass with the token from /status\n%s", name, r)
		}
	}
}

// TestVerifyCannotRun: verify exits 3 when it cannot run at all, and says
// why.
func TestVerifyCannotRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"several targets and no --target", []string{"verify", "--config.file=testdata/multi.yaml"}, []string{"2 targets", "main", "vr-2", "--target"}},
		{"unknown --target", []string{"verify", "--config.file=testdata/multi.yaml", "--target=staging"}, []string{"staging", "main, vr-2"}},
		{"--target without a config", []string{"verify", "--target=main"}, []string{"--config.file"}},
		{"bad config", []string{"verify", "--config.file=testdata/acceptance.yaml"}, []string{"targets[0].colour"}},
		{"bad api url", []string{"verify", "--api-url=ftp://example"}, []string{"api_url"}},
		{"unknown known gap", []string{"verify", "--known-gap=speed=too slow"}, []string{"speed"}},
		{"--config.file with --api-url", []string{"verify", "--config.file=testdata/good.yaml", "--target=x", "--api-url=http://x:1"},
			[]string{"--config.file and --api-url conflict", "drop --api-url, or drop --config.file"}},
		{"--config.file with two target flags", []string{"verify", "--config.file=testdata/good.yaml", "--token-env=T", "--threshold-window=1s"},
			[]string{"--config.file and --threshold-window, --token-env conflict"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invoke(context.Background(), tc.args...)
			if r.code != 3 {
				t.Fatalf("want exit 3\n%s", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, r)
				}
			}
		})
	}
}
