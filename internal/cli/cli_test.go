package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestCheckConfig: the acceptance file exits 3 with its three field paths
// in one message; a good file prints the effective config (exit 0) and
// never the token its variable holds.
func TestCheckConfig(t *testing.T) {
	t.Setenv("STW_TEST_TOKEN", sentinel)
	dir := t.TempDir()
	cases := []struct {
		name       string
		yaml       string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		{
			name: "acceptance",
			yaml: "defaults:\n  schedule:\n    interval: -5m\ntargets:\n  - name: main\n    api_url: http://127.0.0.1:8080\n    thresholds:\n      fps: {min: 96, max: 95}\n    colour: blue\n",
			code: cli.ExitBadConfig,
			wantStderr: []string{"3 problems",
				"defaults.schedule.interval", "targets[0].thresholds.fps.min", "targets[0].colour"},
		},
		{
			name:       "token from the environment",
			yaml:       "targets:\n  - name: main\n    api_url: http://127.0.0.1:8080\n    token_env: STW_TEST_TOKEN\n",
			code:       cli.ExitOK,
			wantStdout: []string{"token_env: STW_TEST_TOKEN", "interval: 5m", "min: 85", "max: 95", "max_mb: 400", "offsets: [1h, 4h, 24h]"},
			wantStderr: []string{"OK, 1 target(s)"},
		},
		{
			name:       "no file",
			code:       cli.ExitBadConfig,
			wantStderr: []string{"missing.yaml"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.yaml")
			if tc.yaml != "" {
				path = testkit.WriteFileIn(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.yaml)
			}
			var stdout, stderr syncBuffer
			code := cli.CheckConfig(path, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), sentinel) {
				t.Error("check-config printed the token")
			}
		})
	}
}

// TestRunRefuses: the daemon command exits 3 on a bad log level and on a
// bad config, before anything starts.
func TestRunRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := testkit.WriteFileIn(t, dir, "bad.yaml", "targets:\n  - name: main\n    colour: blue\n")
	cases := []struct {
		name string
		opts cli.RunOptions
		want string
	}{
		{"bad log level", cli.RunOptions{Log: cli.LogOptions{Level: "loud", Format: "json"}, ConfigFile: bad}, "--log.level"},
		{"bad log format", cli.RunOptions{Log: cli.LogOptions{Level: "info", Format: "xml"}, ConfigFile: bad}, "--log.format"},
		{"bad config", cli.RunOptions{Log: cli.LogOptions{Level: "info", Format: "json"}, ConfigFile: bad}, "targets[0].colour"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.StateDir = filepath.Join(t.TempDir(), "state")
			var stderr syncBuffer
			if code := cli.Run(context.Background(), tc.opts, &stderr); code != cli.ExitBadConfig {
				t.Fatalf("exit %d, want 3\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}
