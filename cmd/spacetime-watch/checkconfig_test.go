package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestCheckConfig: `spacetime-watch check-config --config.file F` exits 3
// with every problem in one message, and 0 with the effective config on
// stdout (which loads back to the same config).
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		file       string
		code       int
		wantStderr []string
		wantStdout []string
	}{
		{
			name: "acceptance: three problems at once",
			file: "testdata/acceptance.yaml",
			code: 3,
			wantStderr: []string{
				"3 problems",
				"defaults.schedule.interval: must be positive",
				"targets[0].thresholds.fps.min: must be below max (95)",
				"targets[0].colour: unknown field",
			},
		},
		{
			name:       "missing file",
			file:       "testdata/no-such-file.yaml",
			code:       3,
			wantStderr: []string{"no-such-file.yaml"},
		},
		{
			name:       "good file",
			file:       "testdata/good.yaml",
			code:       0,
			wantStderr: []string{"testdata/good.yaml: OK, 2 target(s)"},
			wantStdout: []string{
				"Effective configuration of spacetime-watch",
				"interval: 10m",
				"- name: main",
				"- name: vr-2",
				"token_file: /run/credentials/spacetime-watch/vr-2-token",
				"reason: the stock build has no /health",
				"min: 85", // a default filled in
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := invoke(context.Background(), "check-config", "--config.file", tc.file)
			if r.code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, r)
				}
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q\n%s", w, r)
				}
			}
			if tc.code != 0 {
				if r.stdout != "" {
					t.Errorf("a bad config printed on stdout:\n%s", r.stdout)
				}
				// One message: the problems are not spread over several runs.
				if n := strings.Count(r.stderr, "config file "); n > 1 {
					t.Errorf("%d messages, want one:\n%s", n, r.stderr)
				}
				return
			}
			// The effective config is itself a valid config, equal to the file's.
			orig, err := config.Load(tc.file, config.Known{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := config.Parse([]byte(r.stdout), config.ParseOptions{Filename: "effective"})
			if err != nil {
				t.Fatalf("the effective config does not load: %v\n%s", err, r.stdout)
			}
			if !reflect.DeepEqual(orig, back) {
				t.Errorf("the effective config loads to %+v, the file to %+v", back, orig)
			}
		})
	}
}

// TestCheckConfigAgreesWithRun: check-config and run give one verdict on
// every file. An error (with its field path and line) is exit 3 from both;
// a warning (a value run will not use as written) is printed by check-config,
// which exits 0, and logged by run, which starts; nothing is silent.
func TestCheckConfigAgreesWithRun(t *testing.T) {
	t.Parallel()
	const target = "targets:\n  - name: main\n    api_url: http://127.0.0.1:1\n    telemetry_urls: []\n"
	cases := []struct {
		name, yaml string
		code       int
		// problems are printed by check-config and logged by run, as errors
		// (code 3) or warnings (code 0).
		problems []string
		ok       string // check-config's last line, for code 0
	}{
		{
			name:     "a listed target without api_url is an error",
			yaml:     "targets:\n  - name: main\n    telemetry_urls: []\n",
			code:     3,
			problems: []string{"line 2: targets[0].api_url: required for each listed target: the base URL of its instance's API, e.g. http://127.0.0.1:8080"},
		},
		{
			name: "a sink timeout above the outbox's attempt limit is a warning",
			yaml: target + "alerting:\n  sinks:\n    - name: log\n      type: console\n      timeout: 60s\n",
			code: 0,
			problems: []string{"warning: line 9: alerting.sinks[0].timeout: 1m is above the outbox's limit on one delivery attempt (10s): " +
				"each attempt is cut at 10s and retried; set 10s or less"},
			ok: "OK, 1 target(s), 1 warning(s)",
		},
		{
			name: "a sink timeout at the limit is fine",
			yaml: target + "alerting:\n  sinks:\n    - name: log\n      type: console\n      timeout: 10s\n",
			code: 0,
			ok:   "OK, 1 target(s)\n",
		},
		{
			name: "a file without targets watches the local instance",
			yaml: "defaults:\n  telemetry: {down_for: 0s}\n",
			code: 0,
			ok:   "OK, 1 target(s)\n",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := testkit.WriteFileIn(t, dir, "config.yaml", tc.yaml)

			check := invoke(context.Background(), "check-config", "--config.file", cfg)
			if check.code != tc.code {
				t.Fatalf("check-config: want exit %d\n%s", tc.code, check)
			}
			for _, p := range tc.problems {
				if !strings.Contains(check.stderr, p) {
					t.Errorf("check-config does not print %q\n%s", p, check)
				}
			}
			if tc.code != 0 {
				if !strings.Contains(check.stderr, "config file "+cfg) {
					t.Errorf("check-config does not name the file\n%s", check)
				}
			} else {
				if !strings.HasSuffix(check.stderr, cfg+": "+strings.TrimSuffix(tc.ok, "\n")+"\n") {
					t.Errorf("check-config's last line is not %q\n%s", cfg+": "+tc.ok, check)
				}
				if len(tc.problems) == 0 && strings.Contains(check.stderr, "warning") {
					t.Errorf("check-config warns about a file with nothing to say\n%s", check)
				}
			}

			// run, on the same file: the same verdict, the same words.
			args := []string{"run", "--config.file", cfg, "--state.dir", filepath.Join(dir, "state"), "--web.listen-address=127.0.0.1:0"}
			if tc.code != 0 {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				r := invoke(ctx, args...)
				if r.code != tc.code {
					t.Fatalf("run: want exit %d, as check-config\n%s", tc.code, r)
				}
				for _, p := range tc.problems {
					if !strings.Contains(r.stderr, p) {
						t.Errorf("run does not log %q\n%s", p, r)
					}
				}
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			var stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, args, &syncBuffer{}, &stderr, nil) }()
			testkit.Eventually(t, 10*time.Second, "run started", func() (bool, string) {
				return strings.Contains(stderr.String(), "spacetime-watch started"), stderr.String()
			})
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("run exited %d after cancellation, want 0\n%s", code, stderr.String())
			}
			log := stderr.String()
			for _, p := range tc.problems {
				if !strings.Contains(log, "config warning: "+strings.TrimPrefix(p, "warning: ")) {
					t.Errorf("run does not log %q\n%s", p, log)
				}
			}
			if len(tc.problems) == 0 && strings.Contains(log, "config warning") {
				t.Errorf("run logs a warning check-config does not print\n%s", log)
			}
		})
	}
}

// TestCheckConfigTargetFiles: check-config lists the targets the target
// files give, each with its place, and refuses a bad file (exit 3, its
// path, line and field), which the daemon would run without.
func TestCheckConfigTargetFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", "targets:\n  - name: main\n    api_url: http://10.0.0.1:8080\n    telemetry_urls: []\ntarget_files: [fleet/*.yaml]\n")
	fleet := filepath.Join(dir, "fleet")
	if err := os.Mkdir(fleet, 0o700); err != nil {
		t.Fatal(err)
	}
	file := testkit.WriteFileIn(t, fleet, "a.yaml", "- name: vr-1\n  api_url: http://10.0.1.1:8080\n  telemetry_urls: []\n- name: vr-2\n  api_url: http://10.0.1.2:8080\n  telemetry_urls: []\n")
	r := invoke(t.Context(), "check-config", "--config.file", cfg)
	for _, want := range []string{file + ":1: target vr-1 at http://10.0.1.1:8080", file + ":4: target vr-2 at", "OK, 3 target(s)"} {
		if r.code != 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("want exit 0 and %q in stderr; got %s", want, r)
		}
	}
	testkit.WriteFileIn(t, fleet, "a.yaml", "- name: vr-1\n  api_url: http://10.0.1.1:8080\n  telemetry_urls: []\n  colour: red\n")
	r = invoke(t.Context(), "check-config", "--config.file", cfg)
	if want := "target file " + file + ": line 4: [0].colour: unknown field"; r.code != 3 || !strings.Contains(r.stderr, want) {
		t.Errorf("want exit 3 and %q; got %s", want, r)
	}
}
