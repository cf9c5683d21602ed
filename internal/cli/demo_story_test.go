package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
)

// TestDemoStory runs the demo's real story for 2m15s: within the first
// minute and a half the FPS drop fires fps_low and its recovery resolves
// it (through the console sink), and within the first 3 minutes the
// hour-1 review, compressed to minute 2, is delivered and reflects the
// drop (FPS not stable, with the worst minute named). It is the slowest
// test of the suite, so it runs in parallel with the others.
func TestDemoStory(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo's story takes 2m15s")
	}
	t.Parallel()
	var stdout, stderr syncBuffer
	code := cli.Demo(context.Background(), cli.DemoOptions{
		Log:      cli.LogOptions{Level: "warn", Format: "json"},
		Duration: 2*time.Minute + 15*time.Second,
	}, &stdout, &stderr)
	out := stdout.String()
	if code != cli.ExitOK {
		t.Fatalf("demo exited %d\n%s\n%s", code, out, stderr.String())
	}
	for _, want := range []string{
		"ALERT FIRING fps_low",
		"ALERT RESOLVED fps_low",
		"Review minute-2 of demo",
		"FPS stable at 85–95",
		"demo finished.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// The review saw the drop: FPS not stable in the first two minutes.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "FPS stable at 85–95") && !strings.Contains(line, "❌") && !strings.Contains(line, "⚠") {
			t.Errorf("the hour-1 review did not flag the FPS drop: %s", line)
		}
	}
	// Everything happened within the first 3 minutes (stamped [m:ss]).
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Review minute-2 of demo") && !strings.HasPrefix(line, "[1:") && !strings.HasPrefix(line, "[2:") {
			t.Errorf("review line stamped outside 1:00–2:59: %s", line)
		}
	}
}
