package monitor

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// seriesPerTargetBound is the most series one target may export from the
// monitor's metrics, whatever the instance does: every label is a target,
// a check, a rule, a state or a frame kind, never a value the instance or
// an operator chooses. 176 today (the check durations' histograms are
// most of them); the bound leaves room for a few more
// checks or rules, not for a label that grows.
const seriesPerTargetBound = 200

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
	m.InitTarget("main", nil)
	r := newTargetRunner("main", runnerSettings{failureThreshold: 2, successThreshold: 1}, runnerDeps{}, m, st, &eventRecorder{}, zap.NewNop(), now)
	checks := config.AllChecks()
	round := func(i int, status CheckStatus) {
		results := make([]CheckResult, 0, len(checks))
		for _, c := range checks {
			results = append(results, CheckResult{Check: c, Status: status, Duration: time.Duration(i%997) * time.Millisecond,
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

// countSeries gathers reg and counts its series (a histogram's buckets,
// sum and count each count as one, as Prometheus stores them).
func countSeries(t testing.TB, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			if h := metric.GetHistogram(); h != nil {
				n += len(h.GetBucket()) + 3 // buckets, +Inf, sum, count
				continue
			}
			n++
		}
	}
	return n
}
