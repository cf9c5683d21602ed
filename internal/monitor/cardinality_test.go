package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// seriesPerTargetBound is the budget: at most 60 series per
// target, all of the daemon's counted. Every label of a target's series is
// a check, a rule, a state, a review or an alert, never a value the
// instance or an operator chooses.
const seriesPerTargetBound = 60

// reviewSeriesPerTarget are the review service's series of a target once
// its three reviews (hour 1, 4 and 24) are delivered: spacetime_review_verdict
// and spacetime_review_timestamp_seconds for each (internal/review). What the
// bound leaves beyond them and the monitor's series is for
// spacetime_alerts_firing, one series per alert that fires.
const reviewSeriesPerTarget = 6

// TestSeriesPerTarget counts the series of a target that has run every
// check and received telemetry with every rule bound, against the issue's
// budget, and lists them when it is over.
func TestSeriesPerTarget(t *testing.T) {
	reg, _ := fleetMetrics(t, 2)
	byName := map[string]int{}
	n := 0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == labelTarget && l.GetValue() == "vr-0000" {
					byName[mf.GetName()] += seriesOf(metric)
					n += seriesOf(metric)
				}
			}
		}
	}
	if byName["spacetime_check_success"] != len(config.AllChecks()) || byName["spacetime_fps"] != 1 || byName["spacetime_rule_state"] != int(numRules) {
		t.Fatalf("the target has not run its checks and telemetry: %v", byName)
	}
	t.Logf("%d monitor series for one target, %d with its reviews: %v", n, n+reviewSeriesPerTarget, byName)
	if n+reviewSeriesPerTarget > seriesPerTargetBound-3 {
		t.Errorf("%d series for one target (%d of the monitor's, %d of its reviews), want at most %d with room for 3 firing alerts: %v",
			n+reviewSeriesPerTarget, n, reviewSeriesPerTarget, seriesPerTargetBound-3, byName)
	}
}

// fleetMetrics returns the monitor's metrics, on their own registry, for n
// targets that have each started a deployment, run a round of every check
// and received telemetry (fps, frame time, memory) with every rule bound:
// every series a target of a running daemon exports from the monitor, the
// occasional ones (token and certificate expiry, static memory) included.
func fleetMetrics(tb testing.TB, n int) (*prometheus.Registry, *Metrics) {
	tb.Helper()
	at := testkit.BaseTime(tb)
	now := func() time.Time { return at }
	st := openTestStore(tb, now)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	checks := config.AllChecks()
	for i := range n {
		name := fmt.Sprintf("vr-%04d", i)
		opts := testWatcherOptions(name, "ws://127.0.0.1:8081/")
		opts.Now, opts.Metrics = now, m
		w, err := NewWatcher(opts)
		if err != nil {
			tb.Fatal(err)
		}
		w.begin(now())
		dec := &spacetime.Decoder{Now: now}
		var f spacetime.Frame
		for range 3 {
			w.processFrame(dec, &f, websocket.TextMessage, []byte(benchFPSJSON))
		}
		w.tick(now())

		r := newTargetRunner(name, runnerSettings{failureThreshold: 2, successThreshold: 1}, runnerDeps{}, m, st, &eventRecorder{}, zap.NewNop(), now)
		if _, err := r.startDeployment(store.Deployment{Target: name, Source: store.SourceAPI, Version: "1.0.0", StartedAt: at}); err != nil {
			tb.Fatal(err)
		}
		results := make([]CheckResult, 0, len(checks))
		for j, c := range checks {
			results = append(results, CheckResult{Check: c, Status: CheckPass, Duration: time.Duration(j+1) * 7 * time.Millisecond})
		}
		r.apply(results, at)
		m.TokenExpiry.WithLabelValues(name).Set(float64(at.Add(2 * time.Hour).Unix()))
		m.TLSCertExpiry.WithLabelValues(name).Set(float64(at.Add(90 * 24 * time.Hour).Unix()))
		m.StaticMemoryBytes.WithLabelValues(name).Set(300 << 20)
	}
	return reg, m
}

// TestSeriesStayBounded is reliability scenario 18's cardinality half:
// 1,000 deployments (each with its own version) and 10,000 distinct error
// strings from failing checks leave the number of series where one round
// put it, within seriesPerTargetBound.
func TestSeriesStayBounded(t *testing.T) {
	at := testkit.BaseTime(t)
	now := func() time.Time { return at }
	st := openTestStore(t, now)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.InitTarget("main")
	r := newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1}, runnerDeps{}, m, st, &eventRecorder{}, zap.NewNop(), now)
	checks := config.AllChecks()
	round := func(i int, status CheckStatus) {
		results := make([]CheckResult, 0, len(checks))
		for _, c := range checks {
			results = append(results, CheckResult{Check: c, Status: status, Duration: time.Duration(i%997+1) * time.Millisecond,
				Reason: fmt.Sprintf("HTTP 500: error #%d of %s", i, c), Observed: fmt.Sprintf("body %d", i)})
		}
		r.apply(results, at)
		at = at.Add(5 * time.Minute)
	}
	deploy := func(i int) {
		if _, err := r.startDeployment(store.Deployment{Target: "main", Source: store.SourceAPI, Version: fmt.Sprintf("1.%d.0-build.%d", i, i*7919), StartedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	deploy(0)
	round(0, CheckPass)
	baseline := countSeries(t, reg)

	for i := range 1000 {
		deploy(i + 1)
		round(i+1, CheckFail) // len(checks) distinct error strings per round: 10,000 in all
	}
	round(1001, CheckPass)
	got := countSeries(t, reg)
	t.Logf("series for one target: %d after one round, %d after 1,000 deployments and %d distinct error strings (bound %d)",
		baseline, got, 1000*len(checks), seriesPerTargetBound)
	if got > baseline {
		t.Errorf("%d series after the deployments and errors, %d before: a label grows with the input", got, baseline)
	}
	if got > seriesPerTargetBound {
		t.Errorf("%d series for one target, over the bound of %d", got, seriesPerTargetBound)
	}
}

// countSeries gathers reg and counts its series.
func countSeries(t testing.TB, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			n += seriesOf(metric)
		}
	}
	return n
}

// seriesOf is how many series Prometheus stores for metric: a histogram's
// buckets, +Inf, sum and count each count as one.
func seriesOf(metric *dto.Metric) int {
	if h := metric.GetHistogram(); h != nil {
		return len(h.GetBucket()) + 3
	}
	return 1
}
