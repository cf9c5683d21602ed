package cli_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestDemoLogsToStderr: with --log.level given, the demo logs to stderr at
// that level and names no log file; it serves the status page's address
// and /metrics (with the instance's FPS) while it runs, stops by itself
// after --duration with the summary of a story cut short, and leaves
// nothing behind.
func TestDemoLogsToStderr(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()

	bases := make(chan string, 1)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Demo(context.Background(), cli.DemoOptions{
			Log:         cli.LogOptions{Level: "debug", Format: "json"},
			LogToStderr: true,
			Duration:    4 * time.Second,
			TempDir:     tmp,
			Ready:       func(base string) { bases <- base },
		}, &stdout, &stderr)
	}()
	var base string
	select {
	case base = <-bases:
	case code := <-done:
		t.Fatalf("demo exited %d before serving\n%s\n%s", code, stdout.String(), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not serve within 10s")
	}
	testkit.Eventually(t, 5*time.Second, "spacetime_fps on "+base+"/metrics", func() (bool, string) {
		_, body, err := get(base + "/metrics")
		return strings.Contains(body, `spacetime_fps{target="demo"}`), errString(err)
	})

	select {
	case code := <-done:
		if code != cli.ExitOK {
			t.Errorf("demo exited %d, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop by itself within 15s of a 4s --duration")
	}
	out := stdout.String()
	if !strings.Contains(out, "  Status page  "+base+"/\n  Metrics      "+base+"/metrics\n  Instance ") {
		t.Errorf("stdout does not give the status page, /metrics, and no log file:\n%s", out)
	}
	if !regexp.MustCompile(`\nThe demo was stopped at T\+0:0[3-5]\.\n  Alerts fired     none\n`).MatchString(out) {
		t.Errorf("no summary of a story cut short at about 4 minutes of story time:\n%s", out)
	}
	if strings.Contains(out, `{"level"`) || !strings.Contains(stderr.String(), `"level":"debug"`) {
		t.Errorf("the logs are not on stderr at debug level, or are on stdout\n--- stdout:\n%s\n--- stderr:\n%.2000s", out, stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("the demo left %v behind", left)
	}
	if _, _, err := get(base + "/metrics"); err == nil {
		t.Errorf("%s still answers after the demo exited", base)
	}
}

// TestDemoRefuses: bad options exit 3 at once, naming the flag.
func TestDemoRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts cli.DemoOptions
		want string
	}{
		{"negative duration", cli.DemoOptions{Duration: -time.Second}, "--duration"},
		{"slower than real time", cli.DemoOptions{Scale: 0.5}, "--scale 0.5: want 1"},
		{"bad log level", cli.DemoOptions{Log: cli.LogOptions{Level: "loud", Format: "json"}, LogToStderr: true}, "--log.level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.TempDir = t.TempDir()
			if tc.opts.Log.Level == "" {
				tc.opts.Log = cli.LogOptions{Level: "info", Format: "json"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr syncBuffer
			if code := cli.Demo(ctx, tc.opts, &stdout, &stderr); code != cli.ExitBadConfig {
				t.Fatalf("exit %d, want 3\n%s%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "series missing"
	}
	return err.Error()
}
