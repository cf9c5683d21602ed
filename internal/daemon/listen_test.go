package daemon_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// runOn runs the daemon with the given web flags and no Options.Listener,
// so that it opens its listeners itself. It returns the address the daemon
// reported ready on, or Run's error when it stopped before READY=1.
func runOn(t *testing.T, flags *web.FlagConfig) (net.Addr, error) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			ConfigFile: mainConfig(t), StateDir: filepath.Join(dir, "state"), Web: flags,
			Notifier: newFakeNotifier(0), Ready: func(a net.Addr) { ready <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("daemon.Run did not return within 10s of cancellation")
		}
	})
	select {
	case a := <-ready:
		return a, nil
	case err := <-done:
		done <- err // for the cleanup
		return nil, err
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon neither served nor failed within 10s")
		return nil, nil
	}
}

// webFlags is the web flags of `run` with the given addresses and web config.
func webFlags(webConfig string, addrs ...string) *web.FlagConfig {
	noSocket := false
	return &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &noSocket, WebConfigFile: &webConfig}
}

// TestListenVsock: --web.listen-address=vsock://:PORT, as exporter-toolkit
// documents it, listens on vsock. A malformed vsock address is a bad flag
// (a *ConfigError: exit 3) naming the address and the form wanted. Where
// the host has vsock the daemon serves on a vsock address; where it has
// none, Run fails with a *ListenError naming the address and saying what
// the host lacks. (The sandbox this was written in can listen on vsock but
// has no vsock_loopback to connect back, so no request goes over it.)
func TestListenVsock(t *testing.T) {
	t.Parallel()
	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		for _, addr := range []string{"vsock://:nine", "vsock://9100", "vsock://:99999999999"} {
			_, err := runOn(t, webFlags("", addr))
			var ce *daemon.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--web.listen-address "+addr) || !strings.Contains(err.Error(), "vsock://:PORT") {
				t.Errorf("%s: Run: %v, want a *ConfigError naming the address and vsock://:PORT", addr, err)
			}
		}
	})
	t.Run("listens", func(t *testing.T) {
		t.Parallel()
		addr := fmt.Sprintf("vsock://:%d", 20000+os.Getpid()%20000)
		got, err := runOn(t, webFlags("", addr))
		if err != nil {
			var le *daemon.ListenError
			if !errors.As(err, &le) || le.Addr != addr || !strings.Contains(err.Error(), "no usable vsock") {
				t.Fatalf("Run: %v, want serving or a *ListenError naming %s and saying the host has no usable vsock", err, addr)
			}
			t.Logf("this host has no usable vsock: %v", err)
			return
		}
		if got.Network() != "vsock" {
			t.Errorf("ready on %s %s, want a vsock address", got.Network(), got)
		}
	})
}

// TestWebConfigTLS: with tls_server_config in --web.config.file the daemon
// serves HTTPS with that certificate, on the addresses it opened itself,
// and a plain-HTTP request is refused.
func TestWebConfigTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// crypto/tls checks the certificate against the real clock, so its
	// validity is around the real now.
	now := time.Now()
	ca := testkit.NewCA(t, now.Add(-time.Hour), now.Add(time.Hour))
	certFile, keyFile := ca.IssueFiles(t, dir, now.Add(-time.Hour), now.Add(time.Hour), "127.0.0.1")
	pool := ca.Pool()
	webConfig := testkit.WriteFileIn(t, dir, "web.yml", "tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\n")
	addr, err := runOn(t, webFlags(webConfig, "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr.String() + "/-/healthy")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET over TLS: %d (TLS: %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	if code, _, err := tryGet("http://" + addr.String() + "/-/healthy"); err == nil && code == http.StatusOK {
		t.Error("plain HTTP got 200 from a TLS listener")
	}
}
