package daemon

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestWriteGuard: writes pass only from loopback or an authenticating web
// config, to one of the daemon's own names, not across origins, and with
// a JSON body; reads pass whatever they carry. A refused write never
// reaches the API and says which rule refused it.
func TestWriteGuard(t *testing.T) {
	t.Parallel()
	const (
		loopback = "127.0.0.1:50000"
		remote   = "10.1.2.3:50000"
		own      = "127.0.0.1:9850" // the Host a local CLI sends
		jsonType = "application/json"
	)
	// The daemon listens on 10.0.0.5:9850 (and loopback) in every case.
	local := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 9850}
	cases := []struct {
		name        string
		method      string
		peer        string
		auth        bool // the web config authenticates callers
		host        string
		contentType string
		origin      string
		fetchSite   string
		want        int    // 0: served
		wantMsg     string // in the refusal
	}{
		// Reads stay as they were.
		{name: "read from elsewhere, foreign Host and Origin", method: "GET", peer: remote, host: "evil.example", origin: "http://evil.example", fetchSite: "cross-site"},
		{name: "HEAD from elsewhere", method: "HEAD", peer: remote, host: "evil.example"},
		{name: "OPTIONS from elsewhere", method: "OPTIONS", peer: remote, host: "evil.example", origin: "http://evil.example"},

		// The peer.
		{name: "loopback v4", method: "POST", peer: loopback, host: own, contentType: jsonType},
		{name: "loopback v6", method: "POST", peer: "[::1]:50000", host: "[::1]:9850", contentType: jsonType},
		{name: "loopback v4 in v6", method: "POST", peer: "[::ffff:127.0.0.1]:50000", host: own, contentType: jsonType},
		{name: "elsewhere, no auth", method: "POST", peer: remote, host: "10.0.0.5:9850", contentType: jsonType, want: 403, wantMsg: "--web.config.file"},
		{name: "elsewhere, no auth, DELETE", method: "DELETE", peer: remote, host: "10.0.0.5:9850", want: 403, wantMsg: "--web.config.file"},
		{name: "elsewhere, no auth, PUT", method: "PUT", peer: remote, host: "10.0.0.5:9850", contentType: jsonType, want: 403, wantMsg: "10.1.2.3 is not a loopback address"},
		{name: "not an IP peer, no auth", method: "POST", peer: "@", host: own, contentType: jsonType, want: 403, wantMsg: "--web.config.file"},
		{name: "elsewhere, auth", method: "POST", peer: remote, auth: true, host: "10.0.0.5:9850", contentType: jsonType},
		{name: "elsewhere, auth, DELETE", method: "DELETE", peer: remote, auth: true, host: "10.0.0.5:9850"},

		// The Host.
		{name: "Host localhost", method: "POST", peer: loopback, host: "localhost:9850", contentType: jsonType},
		{name: "Host LOCALHOST.", method: "POST", peer: loopback, host: "LOCALHOST.:9850", contentType: jsonType},
		{name: "Host without port", method: "POST", peer: loopback, host: "localhost", contentType: jsonType},
		{name: "Host with another port", method: "POST", peer: loopback, host: "127.0.0.1:19850", contentType: jsonType},
		{name: "Host other loopback", method: "POST", peer: loopback, host: "127.0.0.2:9850", contentType: jsonType},
		{name: "Host hostname", method: "POST", peer: loopback, host: "watchhost:9850", contentType: jsonType},
		{name: "Host external host", method: "POST", peer: remote, auth: true, host: "Watch.Example.com", contentType: jsonType},
		{name: "Host the address connected to", method: "POST", peer: remote, auth: true, host: "10.0.0.5", contentType: jsonType},
		{name: "Host another address", method: "POST", peer: remote, auth: true, host: "10.0.0.6:9850", contentType: jsonType, want: 403, wantMsg: "--web.external-host"},
		{name: "Host foreign name", method: "POST", peer: loopback, host: "evil.example:9850", contentType: jsonType, want: 403, wantMsg: "--web.external-host"},
		{name: "Host foreign name ending in localhost", method: "POST", peer: loopback, host: "evil.localhost:9850", contentType: jsonType, want: 403, wantMsg: "--web.external-host"},
		{name: "Host foreign, DELETE", method: "DELETE", peer: loopback, host: "evil.example:9850", want: 403, wantMsg: "--web.external-host"},
		{name: "Host empty", method: "POST", peer: loopback, host: "", contentType: jsonType, want: 403, wantMsg: "--web.external-host"},
		{
			name: "DNS rebinding: same origin on a foreign name", method: "POST", peer: loopback,
			host: "evil.example:9850", origin: "http://evil.example:9850", fetchSite: "same-origin", contentType: jsonType,
			want: 403, wantMsg: "--web.external-host",
		},

		// The Origin.
		{name: "Origin absent", method: "POST", peer: loopback, host: own, contentType: jsonType},
		{name: "Origin same", method: "POST", peer: loopback, host: own, origin: "http://127.0.0.1:9850", contentType: jsonType},
		{name: "Origin same, same-origin fetch", method: "POST", peer: loopback, host: own, origin: "http://127.0.0.1:9850", fetchSite: "same-origin", contentType: jsonType},
		{name: "Origin foreign", method: "POST", peer: loopback, host: own, origin: "http://evil.example", contentType: jsonType, want: 403, wantMsg: "cross-origin"},
		{name: "Origin own name, other port", method: "POST", peer: loopback, host: own, origin: "http://127.0.0.1:8000", contentType: jsonType, want: 403, wantMsg: "cross-origin"},
		{name: "Origin null", method: "POST", peer: loopback, host: own, origin: "null", contentType: jsonType, want: 403, wantMsg: "cross-origin"},
		{name: "cross-site fetch without Origin", method: "POST", peer: loopback, host: own, fetchSite: "cross-site", contentType: jsonType, want: 403, wantMsg: "cross-origin"},
		{name: "same-site fetch from another port", method: "POST", peer: loopback, host: own, origin: "http://127.0.0.1:8000", fetchSite: "same-site", contentType: jsonType, want: 403, wantMsg: "cross-origin"},
		{name: "Origin foreign, DELETE", method: "DELETE", peer: loopback, host: own, origin: "http://evil.example", want: 403, wantMsg: "cross-origin"},
		{name: "Origin foreign, auth", method: "POST", peer: remote, auth: true, host: "10.0.0.5:9850", origin: "http://evil.example", contentType: jsonType, want: 403, wantMsg: "cross-origin"},

		// The content type.
		{name: "JSON with charset", method: "POST", peer: loopback, host: own, contentType: "application/json; charset=utf-8"},
		{name: "JSON upper case", method: "POST", peer: loopback, host: own, contentType: "Application/JSON"},
		{name: "no content type", method: "POST", peer: loopback, host: own, want: 415, wantMsg: "Content-Type: application/json"},
		{name: "text/plain (a form or a no-cors fetch)", method: "POST", peer: loopback, host: own, contentType: "text/plain", want: 415, wantMsg: "Content-Type: application/json"},
		{name: "form", method: "POST", peer: loopback, host: own, contentType: "application/x-www-form-urlencoded", want: 415, wantMsg: "Content-Type: application/json"},
		{name: "JSON-ish", method: "POST", peer: loopback, host: own, contentType: "application/jsonx", want: 415, wantMsg: "Content-Type: application/json"},
		{name: "malformed", method: "POST", peer: loopback, host: own, contentType: "application/json; =", want: 415, wantMsg: "Content-Type: application/json"},
		{name: "DELETE needs none", method: "DELETE", peer: loopback, host: own},
	}

	g, err := newWriteGuard("", "WatchHost", []string{"watch.example.com."}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := *g
			g.authenticates = func() bool { return tc.auth }
			served := false
			h := g.wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				served = true
				w.WriteHeader(http.StatusTeapot)
			}))
			r := httptest.NewRequest(tc.method, "/api/v1/silences", strings.NewReader("{}"))
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.Addr(local)))
			r.RemoteAddr, r.Host = tc.peer, tc.host
			for k, v := range map[string]string{"Content-Type": tc.contentType, "Origin": tc.origin, "Sec-Fetch-Site": tc.fetchSite} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if tc.want == 0 {
				if !served {
					t.Fatalf("refused (%d): %s", w.Code, w.Body)
				}
				return
			}
			if served {
				t.Fatal("served, want refused")
			}
			if w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tc.wantMsg) {
				t.Errorf("body %s (%v), want a JSON error naming %q", w.Body, err, tc.wantMsg)
			}
		})
	}
}

// TestWebConfigAuthenticates: basic_auth_users, or client certificates
// verified against a CA, authenticate every caller; TLS alone, or a client
// certificate nobody verifies, does not.
func TestWebConfigAuthenticates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file string
		want       bool
	}{
		{"basic auth", "basic_auth_users:\n  ci: $2y$10$abcdefghijklmnopqrstuv\n", true},
		{"verified client certificates", "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n", true},
		{"any client certificate", "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: RequireAnyClientCert\n", false},
		{"client certificate if given", "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n", false},
		{"TLS only", "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n", false},
		{"empty users", "basic_auth_users: {}\n", false},
		{"other settings only", "http_server_config:\n  http2: false\n", false},
		{"empty file", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "web.yml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := webConfigAuthenticates(path)
			if err != nil || got != tc.want {
				t.Errorf("webConfigAuthenticates = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	if got, err := webConfigAuthenticates(""); got || err != nil {
		t.Errorf("no web config: %v, %v; want false", got, err)
	}
	missing := filepath.Join(t.TempDir(), "gone.yml")
	if got, err := webConfigAuthenticates(missing); got || err == nil || !strings.Contains(err.Error(), "--web.config.file") {
		t.Errorf("missing file: %v, %v; want false and an error naming --web.config.file", got, err)
	}
	// The guard fails closed on such a file.
	g, err := newWriteGuard(missing, "", nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if g.authenticates() {
		t.Error("an unreadable web config counts as authenticating")
	}
}

// TestWriteGuardExternalHostInvalid: --web.external-host takes a bare host
// name; anything else is refused with the flag's name and the fix.
func TestWriteGuardExternalHostInvalid(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"", "https://watch.example.com", "watch.example.com:9850", "watch.example.com/api", "[::1]"} {
		_, err := newWriteGuard("", "", []string{h}, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), "--web.external-host") || !strings.Contains(err.Error(), "without scheme, port or path") {
			t.Errorf("--web.external-host %q: %v, want an error naming the flag and the fix", h, err)
		}
	}
}
