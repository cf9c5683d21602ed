package daemon_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// reloadMetric is the value of spacetime_watch_config_last_reload_successful.
func reloadMetric(t *testing.T, d *runningDaemon) float64 {
	t.Helper()
	v, _ := value(gather(t, d.reg), "spacetime_watch_config_last_reload_successful", nil)
	return v
}

// postReload sends method /-/reload without a body, as `curl -X POST` does.
func postReload(t *testing.T, d *runningDaemon, method string, edit func(*http.Request)) (int, string) {
	t.Helper()
	req := jsonRequest(t, method, d.url+"/-/reload", "")
	if edit != nil {
		edit(req)
	}
	return doFrom(t, nil, req)
}

// TestReloadHTTP: POST and PUT /-/reload reload with --web.enable-lifecycle
// (200, the new target runs), answer 500 with every problem and keep the
// old config for a bad file, are refused by the write guard for a foreign
// Host, a cross-site page or a non-JSON body, and answer 403 without the
// flag, reloading nothing.
func TestReloadHTTP(t *testing.T) {
	t.Parallel()
	alpha, beta, dir, cfg := reloadSetup(t)
	d := startDaemon(t, cfg, daemonSetup{lifecycle: true})

	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}, simTarget{"beta", beta}))
	if code, body := postReload(t, d, http.MethodPost, nil); code != http.StatusOK {
		t.Fatalf("POST /-/reload = %d %s, want 200", code, body)
	}
	// The answer comes after the reload: the new target is there at once.
	if names := targetNames(d.status()); names != "alpha,beta" {
		t.Errorf("targets after POST /-/reload = %s, want alpha,beta", names)
	}

	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha})+"    colour: blue\n    shade: dark\n")
	code, body := postReload(t, d, http.MethodPut, nil)
	if code != http.StatusInternalServerError || !strings.Contains(body, "colour") || !strings.Contains(body, "shade") {
		t.Errorf("PUT /-/reload of a bad file = %d %s, want 500 naming colour and shade", code, body)
	}
	if v := reloadMetric(t, d); v != 0 {
		t.Errorf("reload metric = %v after a failed reload, want 0", v)
	}
	if names := targetNames(d.status()); names != "alpha,beta" {
		t.Errorf("targets after a failed reload = %s, want the old alpha,beta", names)
	}

	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}))
	refusals := []struct {
		name string
		edit func(*http.Request)
		code int
	}{
		{"a foreign Host", func(r *http.Request) { r.Host = "rebound.example" }, http.StatusForbidden},
		{"a cross-site page", func(r *http.Request) {
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden},
		{"a form body", func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("a=b&c")), 5
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, http.StatusUnsupportedMediaType},
	}
	for _, tc := range refusals {
		if code, body := postReload(t, d, http.MethodPost, tc.edit); code != tc.code {
			t.Errorf("POST /-/reload from %s = %d %s, want %d", tc.name, code, body, tc.code)
		}
	}
	if names := targetNames(d.status()); names != "alpha,beta" {
		t.Errorf("targets after refused reloads = %s, want alpha,beta (nothing reloaded)", names)
	}
	if code, body := postReload(t, d, http.MethodPost, nil); code != http.StatusOK || reloadMetric(t, d) != 1 {
		t.Errorf("POST /-/reload = %d %s, metric %v; want 200 and 1", code, body, reloadMetric(t, d))
	}
	if names := targetNames(d.status()); names != "alpha" {
		t.Errorf("targets = %s, want alpha", names)
	}

	t.Run("disabled without --web.enable-lifecycle", func(t *testing.T) {
		off := startDaemon(t, mainConfig(t), daemonSetup{})
		testkit.WriteFile(t, off.configFile, "this: is not a config\n")
		for _, m := range []string{http.MethodPost, http.MethodPut} {
			code, body := postReload(t, off, m, nil)
			if code != http.StatusForbidden || !strings.Contains(body, "--web.enable-lifecycle") {
				t.Errorf("%s /-/reload without the flag = %d %s, want 403 naming --web.enable-lifecycle", m, code, body)
			}
		}
		if v := reloadMetric(t, off); v != 1 {
			t.Errorf("reload metric = %v: a refused reload ran", v)
		}
	})
}
