package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestReviewLatest: `spacetime-watch review --target=main` without --hour
// against a running daemon (reviews at 1 minute and 1 hour, on a fast
// clock). Right after a deployment it shows the first review, computed
// now and partial; for a deployment whose minute-1 review fell due (it
// was declared as started two minutes ago) it shows that review as the
// daemon delivered it: the report file's, with the headline the console
// sink printed. --hour still computes the named review now.
func TestReviewLatest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, _ := watchConfig(t, dir, simtest.Start(t, sim.Options{}),
		"alerting:\n  group_wait: 0s\n  sinks:\n    - {name: console, type: console}\n",
		"  reviews: {offsets: [1m, 1h]}\n")
	var console syncBuffer
	base, _ := runDaemon(t, daemon.Options{
		ConfigFile: cfg, StateDir: filepath.Join(dir, "state"), Registry: prometheus.NewRegistry(), Console: &console,
		Reviews: daemon.ReviewTiming{Interval: 2 * time.Second, Settle: -1},
	})
	ctx := context.Background()
	do := cli.DaemonOptions{URL: base}
	show := func(opts cli.ReviewOptions) string {
		t.Helper()
		var stdout, stderr syncBuffer
		opts.Target = "main"
		if code := cli.Review(ctx, do, opts, &stdout, &stderr); code != cli.ExitOK {
			t.Fatalf("review %+v: exit %d\n%s%s", opts, code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	deploy := func(version string, at time.Time) {
		t.Helper()
		var stdout, stderr syncBuffer
		if code := cli.DeploymentStart(ctx, do, "main", version, "", at, &stdout, &stderr); code != cli.ExitOK {
			t.Fatalf("deployment start: exit %d\n%s%s", code, stdout.String(), stderr.String())
		}
	}

	// A deployment that just started: the first review, computed now.
	deploy("1.2.4", time.Time{})
	out := show(cli.ReviewOptions{})
	for _, want := range []string{"Review minute-1 of main (1.2.4)", "PARTIAL", "Computed before its due time"} {
		if !strings.Contains(out, want) {
			t.Errorf("right after the deployment, review lacks %q:\n%s", want, out)
		}
	}

	// Declared as started two minutes ago: its minute-1 review fell due a
	// minute ago and goes out at the next tick.
	deploy("1.2.5", time.Now().Add(-2*time.Minute))
	testkit.Eventually(t, 10*time.Second, "the minute-1 review marked delivered", func() (bool, string) {
		_, body, _ := get(base + "/api/v1/reviews?target=main") // the delivered ones
		var list daemon.ReviewsResponse
		_ = json.Unmarshal([]byte(body), &list)
		return len(list.Reviews) == 1 && list.Reviews[0].Name == "minute-1", body
	})
	const headline = "Review minute-1 of main (1.2.5)"
	testkit.Eventually(t, 10*time.Second, "the minute-1 review on the console", func() (bool, string) {
		return strings.Contains(console.String(), headline), console.String()
	})
	if c := console.String(); strings.Contains(c, " : ") || !strings.Contains(c, headline+": ") {
		t.Errorf("the console's headline is malformed:\n%s", c)
	}
	if out := show(cli.ReviewOptions{}); !strings.Contains(strings.SplitN(out, "\n", 2)[0], headline) {
		t.Errorf("after minute-1 fell due, review shows:\n%s\nwant %q", out, headline)
	}
	// As delivered: the report file's review, computed when it went out.
	var shown, delivered review.Review
	if err := json.Unmarshal([]byte(show(cli.ReviewOptions{Output: "json"})), &shown); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "state", review.ReviewsDir, "*-minute-1.json"))
	if len(files) != 1 {
		t.Fatalf("report files %v, want one minute-1 report", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &delivered); err != nil {
		t.Fatal(err)
	}
	if shown.Name != "minute-1" || shown.Version != "1.2.5" || !shown.ComputedAt.Equal(delivered.ComputedAt) {
		t.Errorf("review shows %s of %s computed %s; want the delivered minute-1 of 1.2.5, computed %s",
			shown.Name, shown.Version, shown.ComputedAt, delivered.ComputedAt)
	}

	// Named, the review is computed now: the hour-1 one is partial.
	if out := show(cli.ReviewOptions{Name: "hour-1"}); !strings.Contains(out, "Review hour-1 of main (1.2.5)") || !strings.Contains(out, "PARTIAL") {
		t.Errorf("review --hour=1:\n%s", out)
	}
}
