package main

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
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
