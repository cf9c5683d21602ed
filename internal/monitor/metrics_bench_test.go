package monitor

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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
