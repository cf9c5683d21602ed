package monitor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

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
		w, err := NewWatcher(WatcherOptions{
			Target:  name,
			Stream:  spacetime.StreamOptions{URLs: []string{"ws://127.0.0.1:8081/"}},
			Rules:   testRules(),
			Now:     now,
			Metrics: m,
		})
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

// BenchmarkScrape1000Targets serves /metrics for 1,000 targets' series as
// the daemon does (promhttp.HandlerFor, gzip asked for, as Prometheus and
// make bench-fleet ask). The budget is 0.25 ms per target: 250 ms
// per scrape here, on a machine that also runs the targets' telemetry.
func BenchmarkScrape1000Targets(b *testing.B) {
	const n = 1000
	reg, _ := fleetMetrics(b, n)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	series := countSeries(b, reg)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
			b.Fatalf("scrape: HTTP %d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
		}
	}
	b.ReportMetric(float64(series)/n, "series/target")
}
