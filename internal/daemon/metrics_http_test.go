package daemon_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsEndpoint: /metrics serves every family of the daemon's
// registry, the per-target ones (written directly) and the others
// (gathered), each once, in the text format, and a text parser reads it
// all, whether the client accepts gzip or not (one target's body is short
// enough to go uncompressed either way: TestMetricsGzipOnlyWhenLong).
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, mainConfig(t), daemonSetup{})
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", map[string]string{"target": "main"}, 1)
	want := gather(t, d.reg)

	for _, gz := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodGet, d.url+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8; escaping=underscores" && ct != "text/plain; version=0.0.4; charset=utf-8" {
			t.Errorf("Content-Type %q, want the text format 0.0.4", ct)
		}
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		got, err := parser.TextToMetricFamilies(body)
		if err != nil {
			t.Fatalf("gzip %v: parsing /metrics: %v", gz, err)
		}
		var missing, extra []string
		for name := range want {
			if _, ok := got[name]; !ok {
				missing = append(missing, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				extra = append(extra, name)
			}
		}
		slices.Sort(missing)
		slices.Sort(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("gzip %v: /metrics lacks %v and has %v beyond the registry", gz, missing, extra)
		}
		for _, name := range []string{"spacetime_up", "spacetime_check_success", "spacetime_telemetry_frames_total", "go_goroutines", "spacetime_watch_targets"} {
			if mf, ok := got[name]; !ok || len(mf.Metric) != len(want[name]) {
				t.Errorf("gzip %v: %s has %d series on /metrics, %d in the registry", gz, name, len(got[name].GetMetric()), len(want[name]))
			}
		}
	}
}
