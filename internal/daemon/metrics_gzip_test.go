package daemon

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// TestMetricsGzipOnlyWhenLong: /metrics is gzipped when the client accepts
// it and the body is longer than gzipAbove, and sent as it is otherwise;
// either way the body is whole.
func TestMetricsGzipOnlyWhenLong(t *testing.T) {
	for _, tc := range []struct {
		targets  int
		accept   string
		wantGzip bool
	}{
		{1, "gzip", false},
		{2000, "gzip", true},
		{2000, "br, gzip;q=0.5", true},
		{2000, "", false},
		{2000, "identity", false},
		{2000, "gzip;q=0, identity", false},
		{2000, "*", true},
		{2000, "*;q=0, gzip", true},
		{2000, "gzip;q=0, *", false},
		{2000, "*;q=0", false},
		{2000, "gzip;q=0.000", false},
		{2000, "gzip; q=0.001", true},
	} {
		t.Run(fmt.Sprintf("%d targets, Accept-Encoding %q", tc.targets, tc.accept), func(t *testing.T) {
			e := newExposition(prometheus.NewRegistry())
			m := monitor.NewMetrics(e)
			for i := range tc.targets {
				m.Up.WithLabelValues(fmt.Sprintf("target-%04d", i)).Set(1)
			}
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept-Encoding", tc.accept)
			rec := httptest.NewRecorder()
			e.handler(zap.NewNop()).ServeHTTP(rec, req)

			var body io.Reader = rec.Body
			if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != tc.wantGzip {
				t.Fatalf("gzipped %v, want %v", gz, tc.wantGzip)
			} else if gz {
				r, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = r
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(b), "\nspacetime_up{target="); n != tc.targets {
				t.Errorf("%d spacetime_up series in the body, want %d", n, tc.targets)
			}
		})
	}
}

// TestExpositionUnregister: a collector leaves /metrics when unregistered,
// found by its descriptors as the Registry finds it (an equal collector
// will do), per-target text families and gathered collectors alike; it can
// then be registered again. An unchecked collector cannot be unregistered,
// as from a Registry.
func TestExpositionUnregister(t *testing.T) {
	e := newExposition(prometheus.NewRegistry())
	m := monitor.NewMetrics(e)
	m.Up.WithLabelValues("main").Set(1)
	m.TelemetryConnected.WithLabelValues("main").Set(1)
	gaugeOpts := prometheus.GaugeOpts{Name: "spacetime_watch_test_gauge", Help: "A gauge of the test."}
	e.MustRegister(prometheus.NewGauge(gaugeOpts))
	unchecked := uncheckedGauge{prometheus.NewGauge(prometheus.GaugeOpts{Name: "spacetime_watch_test_unchecked", Help: "An unchecked gauge of the test."})}
	e.MustRegister(unchecked)
	body := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		e.handler(zap.NewNop()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	for _, name := range []string{"spacetime_up{", "spacetime_watch_test_gauge ", "spacetime_watch_test_unchecked "} {
		if !strings.Contains(body(), name) {
			t.Fatalf("/metrics lacks %s before any unregistering", name)
		}
	}

	if !e.Unregister(prometheus.NewGauge(gaugeOpts)) || !e.Unregister(m.Up) {
		t.Fatal("Unregister found nothing to unregister")
	}
	if e.Unregister(unchecked) {
		t.Error("an unchecked collector was unregistered")
	}
	got := body()
	for _, gone := range []string{"spacetime_up", "spacetime_watch_test_gauge"} {
		if strings.Contains(got, gone) {
			t.Errorf("/metrics still shows %s after it was unregistered", gone)
		}
	}
	if !strings.Contains(got, "spacetime_watch_test_unchecked ") || !strings.Contains(got, "spacetime_telemetry_connected") {
		t.Error("unregistering took other families with it")
	}

	again := prometheus.NewGauge(gaugeOpts)
	again.Set(7)
	if err := e.Register(again); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	if got := strings.Count(body(), "spacetime_watch_test_gauge 7"); got != 1 {
		t.Errorf("the gauge registered again shows %d times", got)
	}
}

// uncheckedGauge describes nothing: a Registry cannot check or unregister it.
type uncheckedGauge struct{ prometheus.Gauge }

func (uncheckedGauge) Describe(chan<- *prometheus.Desc) {}
