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
