package daemon_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPprof: --web.enable-pprof serves Go's profiles under /debug/pprof/;
// without it the paths are not there.
func TestPprof(t *testing.T) {
	t.Parallel()
	cfg := mainConfig(t)
	on := startDaemon(t, cfg, daemonSetup{pprof: true})
	off := startDaemon(t, cfg, daemonSetup{})
	for _, tc := range []struct{ path, want string }{
		{"/debug/pprof/", "Types of profiles available"},
		{"/debug/pprof/heap?debug=1", "heap profile"},
		{"/debug/pprof/goroutine?debug=1", "goroutine profile"},
	} {
		if code, body := on.get(tc.path); code != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s with --web.enable-pprof = %d %.80q, want 200 with %q", tc.path, code, body, tc.want)
		}
		if code, _ := off.get(tc.path); code != http.StatusNotFound {
			t.Errorf("GET %s without --web.enable-pprof = %d, want 404", tc.path, code)
		}
	}
}
