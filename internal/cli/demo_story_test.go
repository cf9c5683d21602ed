package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestDemoStory runs the demo's whole story at 300 times the wall clock
// (its four hours in about 50 s) and reads the terminal as a person
// would: the status page URL first, then /metrics and the log file; no
// log line among the narration; every line within 80 columns; each fault
// narrated; exactly one alert per fault, each fired and resolved in the
// story's order (the API outage and the expired token inhibit the checks
// they explain, the refused /performance token memory_unwatched); the
// memory alert with its projection; memory unwatched while the stream
// carries none and /performance refuses the token, then read from
// /performance, as the daemon's status says; the hour-1 review
// at T+1:00 flagging the FPS drop and the hour-4 review at T+4:00; a
// summary. Neither the instance's API token nor its /performance token is
// printed or logged; the temporary dir is gone and the log file stays.
func TestDemoStory(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo's story takes about 50s")
	}
	t.Parallel()
	tmp := t.TempDir()

	var stdout, stderr syncBuffer
	var mu sync.Mutex
	var secrets []string // the instance's tokens, read while it runs
	code := cli.Demo(context.Background(), cli.DemoOptions{
		Log:     cli.LogOptions{Level: "info", Format: "json"},
		Scale:   300,
		TempDir: tmp, // the demo's dir and log file land here
		Ready: func(string) {
			mu.Lock()
			defer mu.Unlock()
			secrets = append(secrets, demoSecrets(t, tmp, stdout.String())...)
		},
	}, &stdout, &stderr)
	out := stdout.String()
	if code != cli.ExitOK {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, stderr.String())
	}
	if stderr.String() != "" {
		t.Errorf("stderr is not empty without --log.level:\n%s", stderr.String())
	}

	lines := strings.Split(out, "\n")
	intro := regexp.MustCompile(`(?s)^spacetime-watch demo: .*\n  Status page  http://127\.0\.0\.1:\d+/\n  Metrics      http://127\.0\.0\.1:\d+/metrics\n  Logs         (\S+)\n`).FindStringSubmatch(out)
	if intro == nil {
		t.Fatalf("the intro does not give the status page, then /metrics, then the log file:\n%s", out)
	}
	logs, err := os.ReadFile(intro[1])
	if err != nil || !strings.Contains(string(logs), `"msg":"spacetime-watch started"`) {
		t.Errorf("the log file %s does not hold the daemon's logs: %v", intro[1], err)
	}
	for _, line := range lines {
		if strings.Contains(line, `{"level"`) {
			t.Errorf("a log line among the narration: %s", line)
		}
		if n := utf8.RuneCountInString(line); n > 80 && !strings.Contains(line, intro[1]) { // a path is not cut
			t.Errorf("a line of %d columns, want at most 80: %q", n, line)
		}
	}

	// The story: each fault narrated, one alert each, fired then resolved.
	for _, want := range []string{"Injecting an FPS drop", "Injecting a memory leak", "The instance's API token expires", "Restarting the instance", "Taking the API down", "The API is back", "The /performance token file now holds a previous run's token", "telemetry to the binary encoding"} {
		if !strings.Contains(out, want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	alerts := regexp.MustCompile(`(?m)^T\+\d:\d\d  ALERT (FIRING|RESOLVED) (\S+) `).FindAllStringSubmatch(out, -1)
	var got []string
	for _, a := range alerts {
		got = append(got, a[1]+" "+a[2])
	}
	want := []string{
		"FIRING fps_low", "RESOLVED fps_low",
		"FIRING memory_growth", "RESOLVED memory_growth",
		"FIRING token_expired", "RESOLVED token_expired",
		"FIRING check_instance_up", "RESOLVED check_instance_up",
		"FIRING check_performance", "RESOLVED check_performance",
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts notified:\n  %s\nwant:\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), out)
	}
	if !regexp.MustCompile(`memory growing [\d.]+ MB/min over \S+; 400 MB reached in ~`).MatchString(testkit.Unwrapped(out)) {
		t.Errorf("the memory alert does not project the time to 400 MB:\n%s", out)
	}

	// Memory: unwatched while neither source gives it (memory_unwatched
	// inhibited by the refused token), then read from /performance.
	for _, want := range []string{
		`T\+3:32 The daemon's status: memory unwatched; memory_high and memory_growth are unknown \(no memory: the stream carries none and /performance refused the token\b.*\)\. memory_unwatched fires, inhibited by check_performance \(token refused\): not notified\.`,
		`T\+3:40 The daemon's status: memory \d+ MB, from /performance\.`,
		`T\+3:50 The daemon's status: memory \d+ MB, from the telemetry stream\.`,
	} {
		if !regexp.MustCompile(want).MatchString(testkit.Unwrapped(out)) {
			t.Errorf("the narration lacks %s:\n%s", want, out)
		}
	}

	// The reviews, at their hours, the first one flagging the FPS drop.
	for _, r := range []struct{ name, stamp string }{{"hour-1", "T+1:0"}, {"hour-4", "T+4:0"}} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(r.stamp) + `\d  NOTE on demo .*Review ` + r.name + `\b`).MatchString(out) {
			t.Errorf("no review %s stamped %sx", r.name, r.stamp)
		}
	}
	hour1 := out[strings.Index(out, "Review hour-1"):]
	if fps := hour1[strings.Index(hour1, "FPS stable at 85–95")-4:]; !strings.HasPrefix(fps, "❌") {
		t.Errorf("the hour-1 review does not fail FPS: %.80s", fps)
	}
	for _, want := range []string{
		"The story is over at T+4:02.",
		"  Alerts fired     5: fps_low, memory_growth, token_expired, check_instance_up,\n                   check_performance\n",
		"  Alerts resolved  5: fps_low, memory_growth, token_expired, check_instance_up,\n                   check_performance\n",
		"  Reviews          2: hour-1, hour-4\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q", want)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(secrets) != 2 {
		t.Fatalf("read %d of the instance's 2 tokens", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(out, s) || strings.Contains(string(logs), s) {
			t.Errorf("a token of the instance (%d chars) is on stdout or in the log file", len(s))
		}
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "spacetime-watch-demo-*")); len(left) != 1 || left[0] != intro[1] {
		t.Errorf("left behind %v, want only the log file %s", left, intro[1])
	}
}

// demoSecrets reads the running demo's tokens: the /performance token it
// wrote under tmp, and the JWT the instance (its API in the intro, out)
// hands out on GET /status.
func demoSecrets(t *testing.T, tmp, out string) []string {
	var secrets []string
	files, _ := filepath.Glob(filepath.Join(tmp, "spacetime-watch-demo-*", "performance-token"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
			secrets = append(secrets, strings.TrimSpace(string(b)))
		}
	}
	api := regexp.MustCompile(`Instance     API (http://\S+),`).FindStringSubmatch(out)
	if api == nil {
		t.Errorf("the intro does not name the instance's API:\n%s", out)
		return secrets
	}
	_, body, err := get(api[1] + "/status")
	var st struct {
		JWT string `json:"jwt_token"`
	}
	if err := errors.Join(err, json.Unmarshal([]byte(body), &st)); err != nil || len(st.JWT) < 16 {
		t.Errorf("GET %s/status: %v, jwt_token of %d chars", api[1], err, len(st.JWT))
		return secrets
	}
	return append(secrets, st.JWT)
}
