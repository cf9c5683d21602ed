package cli_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestVerifyOnATerminal: with stderr a terminal, verify says on stderr
// what it is doing and one short line per check as it completes (not the
// table again); the table on stdout fits the terminal's width.
func TestVerifyOnATerminal(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	info := s.Info()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	code := cli.Verify(ctx, cli.VerifyOptions{
		APIURL:              "http://" + info.API,
		TelemetryURLs:       []string{"ws://" + info.Telemetry + "/"},
		TokenFile:           testkit.WriteFileIn(t, t.TempDir(), "api-token", info.Token+"\n"),
		ExpectedEnvironment: "production", ExpectedScene: "res://vr_main.tscn",
		ThresholdWindow: time.Second,
		Output:          "table",
		Terminal:        cli.Terminal{Width: 60, Progress: true},
	}, &stdout, &stderr)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if n := utf8.RuneCountInString(line); n > 60 {
			t.Errorf("a line of %d columns on a 60-column terminal: %q", n, line)
		}
	}
	progress := regexp.MustCompile(`(?m)^  \d+ +[a-z_]+ +PASS$`).FindAllString(stderr.String(), -1)
	if !strings.HasPrefix(stderr.String(), "Verifying cli; check 10 watches telemetry for 1s.\n") || len(progress) != 10 {
		t.Errorf("stderr: want the heading and 10 progress lines, got %d:\n%s", len(progress), stderr.String())
	}
}
