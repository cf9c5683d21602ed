package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestDemo runs the demo for a few seconds with a short story (FPS drops
// to ~60 at 1 s): it prints the full /metrics URL, which serves
// spacetime_fps and spacetime_check_success while the demo runs and shows
// the drop; its status line narrates it; it stops by itself and exits 0;
// the simulated instance's token is in none of its output; and its
// temporary dir is gone afterwards. (The lead runs the full 90 s story,
// whose 10 s rules need longer than a unit test should take.)
func TestDemo(t *testing.T) {
	// The demo's temporary dir, where it writes the instance's token,
	// lands here, so that the test can read the token it must not print.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	urls := make(chan string, 1)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- cli.Demo(context.Background(), cli.DemoOptions{
			Log:      cli.LogOptions{Level: "debug", Format: "json"},
			Duration: 6 * time.Second,
			Story:    "- at: 1s\n  set: {fps: 60}\n",
			Ready:    func(url string) { urls <- url },
		}, &stdout, &stderr)
	}()

	var url string
	select {
	case url = <-urls:
	case code := <-done:
		t.Fatalf("demo exited %d before serving\n%s\n%s", code, stdout.String(), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not serve within 10s")
	}
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/metrics$`).MatchString(url) {
		t.Errorf("metrics URL %q, want http://127.0.0.1:PORT/metrics", url)
	}
	matches, _ := filepath.Glob(filepath.Join(tmp, "spacetime-watch-demo-*", "api-token"))
	if len(matches) != 1 {
		t.Fatalf("found %d demo token files under TMPDIR, want 1", len(matches))
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		t.Fatalf("the demo's token %d chars: the leak check would prove little", len(token))
	}

	testkit.Eventually(t, 5*time.Second, "spacetime_fps and spacetime_check_success on "+url, func() (bool, string) {
		_, body, err := get(url)
		return strings.Contains(body, "spacetime_fps{") && strings.Contains(body, "spacetime_check_success{"), errString(err)
	})
	testkit.Eventually(t, 5*time.Second, "the story's FPS drop on /metrics", func() (bool, string) {
		_, body, _ := get(url)
		fps, ok := metric(body, `spacetime_fps{target="demo"}`)
		return ok && fps < 70, strconv.FormatFloat(fps, 'g', -1, 64)
	})

	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exited %d, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("demo did not stop by itself within 15s of a 6s --duration")
	}
	if el := time.Since(start); el < 5*time.Second {
		t.Errorf("demo stopped after %s, before its 6s duration", el)
	}

	out := stdout.String()
	for _, want := range []string{"Metrics: " + url, "demo finished."} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q\n%s", want, out)
		}
	}
	// The status line at 0:05 narrates the drop.
	if !regexp.MustCompile(`\[0:0[5-6]\] FPS (5[7-9]|6[0-3])\.\d`).MatchString(out) {
		t.Errorf("no status line with the dropped FPS\n%s", out)
	}
	for where, text := range map[string]string{"stdout": out, "stderr": stderr.String()} {
		if strings.Contains(text, token) {
			t.Errorf("the demo's %s shows the instance's token", where)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "spacetime-watch-demo-*")); len(left) != 0 {
		t.Errorf("the demo left %v behind", left)
	}
	if _, _, err := get(url); err == nil {
		t.Errorf("%s still answers after the demo exited", url)
	}
}

// TestDemoRefuses: bad options exit 3 at once.
func TestDemoRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts cli.DemoOptions
		want string
	}{
		{"negative duration", cli.DemoOptions{Duration: -time.Second}, "--duration"},
		{"bad story", cli.DemoOptions{Story: "- at: soon\n  set: {fps: 60}\n"}, "soon"},
		{"bad log level", cli.DemoOptions{Log: cli.LogOptions{Level: "loud", Format: "json"}}, "--log.level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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

// metric reads the value of one series line in a /metrics body.
func metric(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

func errString(err error) string {
	if err == nil {
		return "series missing"
	}
	return err.Error()
}
