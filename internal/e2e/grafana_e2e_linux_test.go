// Linux only: it runs Debian's prometheus, and the parent-death signal
// that keeps a killed test from leaving it behind is Linux's.

package e2e

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// Grafana's variables, as the end-to-end test sets them: the demo's
// target, and intervals that suit a 1 s scrape interval and a test that
// has ~40 s of data (Grafana builds $__rate_interval as max($__interval +
// scrape interval, 4 × scrape interval)).
const (
	e2eInterval     = 5 * time.Second
	e2eRateInterval = "20s"
)

var grafanaVars = strings.NewReplacer(
	"$__rate_interval", e2eRateInterval,
	"$__interval_ms", strconv.FormatInt(e2eInterval.Milliseconds(), 10),
	"$__interval", e2eInterval.String(),
	"$__range", "2m",
	"${target}", "demo",
	"$target", "demo",
)

// noDataYet lists the queries that cannot return data from the first
// minute and a half of the demo (its first hour and a half at the demo's
// 60 times the wall clock); they must still parse and evaluate. Keep it
// short and say why. None today: the hour-1 review comes at ~1:01.
var noDataYet = map[string]string{}

// metricsNotInDemo are metric names the daemon exports that a demo run
// does not show (a vector with no series has no lines in /metrics). Each
// must appear as a string literal in the daemon's source. None today.
var metricsNotInDemo = []string{}

// TestDashboardAgainstPrometheus runs the dashboard and the rules against
// real data: it builds spacetime-watch, runs its demo (at 60 times the
// wall clock, FPS drops from 90 to 60 at 0:10 and recovers at 0:30; the
// hour-1 review comes at 1:01), has Debian's Prometheus scrape it every second with
// rules.yml loaded, waits until the rules turned the story into alerts
// (SpacetimeAlertFiring for the daemon's fps_low, and the smoothness SLO's
// fast burn), then evaluates every panel and annotation query with $target
// set to the demo's target, as Grafana does (range queries): each must
// parse and, but for noDataYet, return a finite value. Finally, every
// metric a panel or a rule names must be one the daemon exports.
func TestDashboardAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end: runs the demo and Prometheus for about a minute")
	}
	// Parallel: most of the time goes waiting for the demo's story, which
	// the other parallel tests (promtool's) can use.
	t.Parallel()
	promBin := testkit.Tool(t, "prometheus")
	goBin := testkit.Tool(t, "go")
	root := repoRoot(t)
	dash := loadDashboard(t, root)
	rules := loadRules(t, root)
	dir := t.TempDir()

	bin := filepath.Join(dir, "spacetime-watch")
	build := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "./cmd/spacetime-watch")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	demo := startProcess(t, "demo", bin, "demo", "--duration=120s")
	demoStarted := time.Now()
	m := demo.waitOutput(t, regexp.MustCompile(`Metrics +(http://127\.0\.0\.1:(\d+)/metrics)`), 30*time.Second)
	metricsURL := m[1]
	t.Logf("demo serves %s", metricsURL)

	prom := startPrometheus(t, promBin, dir, filepath.Join(root, "deploy", "prometheus", "rules.yml"), "127.0.0.1:"+m[2])
	promStarted := time.Now()
	prom.waitData(t, `spacetime_up{target="demo"}`, 20*time.Second)
	t.Logf("Prometheus has the demo's data %s after the demo started", time.Since(demoStarted).Round(time.Second))

	// The story: fps_low fires in the daemon at ~0:11 and resolves at
	// ~0:31; the smoothness SLO burns fast from ~0:11 on.
	for _, q := range []string{
		`ALERTS{alertname="SpacetimeSmoothnessBudgetBurnFast", target="demo", alertstate="firing"}`,
		`ALERTS{alertname="SpacetimeAlertFiring", alert="fps_low", severity="warning", target="demo", alertstate="firing"}`,
	} {
		prom.waitData(t, q, time.Until(demoStarted.Add(60*time.Second)))
		t.Logf("%s at demo time %s", q, time.Since(demoStarted).Round(time.Second))
	}

	t.Run("variable target", func(t *testing.T) {
		var values []string
		prom.get(t, "/api/v1/label/target/values", url.Values{"match[]": {"spacetime_up"}}, &values)
		if !slices.Contains(values, "demo") {
			t.Errorf("label_values(spacetime_up, target) = %q, want demo among them", values)
		}
	})

	t.Run("queries", func(t *testing.T) {
		pending := map[string]string{} // where → expr, awaiting data
		for _, q := range dash.queries() {
			expr := grafanaVars.Replace(q.expr)
			if strings.Contains(expr, "$") {
				t.Errorf("%s: unknown Grafana variable left in %q", q.where, expr)
				continue
			}
			// Parses and evaluates as an instant query, as a stat would.
			var instant promResult
			if err := prom.query(expr, time.Now(), &instant); err != nil {
				t.Errorf("%s: %q: %v", q.where, expr, err)
				continue
			}
			if _, exempt := noDataYet[q.where]; !exempt {
				pending[q.where] = expr
			}
		}
		for where := range noDataYet {
			if !slices.ContainsFunc(dash.queries(), func(q dashboardQuery) bool { return q.where == where }) {
				t.Errorf("noDataYet names %s, which the dashboard no longer has", where)
			}
		}
		evaluated := time.Now()
		// Range queries over the whole run, as Grafana's panels ask.
		// Data that comes late gets until the end of the story: the
		// notification latency histogram of a sink is born with its
		// first observation, which rate() cannot see, so that panel
		// shows the second notification (fps_low resolved, ~0:31); the
		// hour-1 review comes at ~1:01.
		storyEnd := demoStarted.Add(85 * time.Second)
		for {
			for where, expr := range pending {
				var r promResult
				err := prom.queryRange(expr, promStarted.Add(-time.Second), time.Now(), e2eInterval, &r)
				if err != nil {
					t.Errorf("%s: %q: %v", where, expr, err)
					delete(pending, where)
				} else if r.finite() {
					delete(pending, where)
					if time.Since(evaluated) > time.Second {
						t.Logf("%s: data after %s more", where, time.Since(evaluated).Round(time.Second))
					}
				}
			}
			if len(pending) == 0 || time.Now().After(storyEnd) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		for where, expr := range pending {
			t.Errorf("%s: %q returned no finite value", where, expr)
		}
	})

	t.Run("deployment annotation", func(t *testing.T) {
		// As Grafana draws it: the value is the time, and equal times
		// merge into one event, so one deployment is one annotation.
		for _, a := range dash.Annotations.List {
			if !a.UseValueForTime {
				continue
			}
			var r promResult
			if err := prom.queryRange(grafanaVars.Replace(a.Expr), promStarted, time.Now(), time.Minute/4, &r); err != nil {
				t.Fatal(err)
			}
			times := r.distinctValues()
			if len(times) != 1 {
				t.Fatalf("annotation %s: %d events (%v), want the demo's one deployment\n%+v", a.Name, len(times), times, r)
			}
			// The demo's clock runs 60 times as fast as the wall clock
			// from its start: its deployment starts within its first
			// real second, a minute of its time.
			at := time.UnixMilli(int64(times[0]))
			if at.Before(demoStarted.Add(-5*time.Second)) || at.After(demoStarted.Add(time.Minute)) {
				t.Errorf("annotation %s at %s, want the demo's start (%s, or up to a minute of its time after)", a.Name, at, demoStarted)
			}
		}
	})

	t.Run("metric names", func(t *testing.T) {
		known := map[string]bool{"ALERTS": true, "ALERTS_FOR_STATE": true}
		var names []string
		prom.get(t, "/api/v1/label/__name__/values", url.Values{"match[]": {`{job="spacetime-watch"}`}}, &names)
		for _, n := range names {
			// scrape_* are Prometheus' own series about the scrape.
			if !strings.HasPrefix(n, "scrape_") {
				known[n] = true
			}
		}
		for _, n := range metricsNotInDemo {
			if !inDaemonSource(t, root, n) {
				t.Errorf("metricsNotInDemo: %s is not a string literal in internal/", n)
			}
			known[n] = true
		}
		var named []dashboardQuery
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					known[r.Record] = true
				}
				named = append(named, dashboardQuery{where: "rule " + r.Alert + r.Record, expr: r.Expr})
			}
		}
		named = append(named, dash.queries()...)
		for _, q := range named {
			for _, n := range promqlMetricNames(q.expr) {
				if !known[n] {
					t.Errorf("%s names %s, which the daemon does not export", q.where, n)
				}
			}
		}
	})
}

// inDaemonSource reports whether name appears as a Go string literal in
// a non-test file under internal/.
func inDaemonSource(t *testing.T, root, name string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = bytes.Contains(b, []byte(`"`+name+`"`))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
