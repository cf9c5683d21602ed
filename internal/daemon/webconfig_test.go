package daemon_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestWebConfigBasicAuth: with --web.config.file requiring basic auth, the
// daemon's endpoints refuse anonymous requests, and the API client gets
// in with the credentials of --daemon.auth-file (and says what to pass
// when they are missing or wrong).
func TestWebConfigBasicAuth(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, mainConfig(t), daemonSetup{webConfigFile: basicAuthWebConfig(t, "ci", "s3cret-pass")})
	defer func() {
		if err := d.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	url := d.url

	for _, path := range []string{"/metrics", "/api/v1/status", "/api/v1/deployments", "/", "/targets/main", "/static/refresh.js"} {
		if code, _ := httpDo(t, http.MethodGet, url+path, ""); code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %d, want 401", path, code)
		}
	}

	cases := []struct {
		name    string
		auth    string // the auth file's content; "" means no --daemon.auth-file
		wantErr string
	}{
		{"right credentials", "ci:s3cret-pass\n", ""},
		{"no credentials", "", "--daemon.auth-file"},
		{"wrong password", "ci:guess\n", "--daemon.auth-file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			authFile := ""
			if tc.auth != "" {
				authFile = filepath.Join(t.TempDir(), "auth")
				testkit.WriteFile(t, authFile, tc.auth)
			}
			c, err := daemon.NewClient(url, authFile)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Deployments(context.Background(), "")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Deployments: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Deployments: %v, want an error naming %s", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "guess") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestWebConfigInvalid: an unreadable web config is a config error (exit 3),
// found before the daemon says it is ready.
func TestWebConfigInvalid(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"main", s}))
	webConfig := filepath.Join(dir, "web.yml")
	testkit.WriteFile(t, webConfig, "basic_auth_users: [not, a, map]\n")
	addrs, noSocket := []string{"127.0.0.1:0"}, false
	n := newFakeNotifier(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := daemon.Run(ctx, daemon.Options{
		ConfigFile: cfg, StateDir: filepath.Join(dir, "state"), Listener: mustListen(t), Notifier: n,
		Web: &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &noSocket, WebConfigFile: &webConfig},
	})
	var ce *daemon.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--web.config.file") {
		t.Fatalf("Run: %v, want a *ConfigError naming --web.config.file", err)
	}
	if sent := n.sent(); len(sent) != 0 {
		t.Errorf("notified systemd: %v", sent)
	}
}
