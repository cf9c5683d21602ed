package daemon

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// writeGuard keeps the API's writes safe by default. A write is any request
// but GET, HEAD and OPTIONS (deployments, silences, notify test, and any
// write endpoint added later); reads pass untouched. A write is served
// only when all of these hold, checked in this order:
//
//   - the peer is a loopback address, or the web config authenticates every
//     caller (exporter-toolkit checks the credentials before this handler
//     runs, so a request that gets here is authenticated): 403 otherwise;
//   - the Host header names this daemon (see ownHost), so that a browser
//     page on a rebinding DNS name cannot reach it: 403 otherwise;
//   - it is not a cross-origin browser request (Sec-Fetch-Site, or Origin
//     against Host; net/http's CrossOriginProtection): 403 otherwise;
//   - a write with a body says Content-Type: application/json, a type a
//     browser cannot send across sites without a CORS preflight, which the
//     daemon never answers: 415 otherwise (a DELETE, and a /-/reload
//     without a body, need none).
type writeGuard struct {
	// authenticates reports whether the web config authenticates every
	// caller; it is asked on each write, because exporter-toolkit re-reads
	// the file on each request.
	authenticates func() bool
	// names are the host names, lower case, that a write's Host may carry
	// besides localhost and IP literals: the machine's hostname and
	// --web.external-host.
	names []string
	cross *http.CrossOriginProtection
	log   *zap.Logger
}

// newWriteGuard guards writes for a daemon whose web config is
// webConfigFile ("" for none), reachable as hostname and externalHosts
// (--web.external-host) besides its addresses.
func newWriteGuard(webConfigFile, hostname string, externalHosts []string, log *zap.Logger) (*writeGuard, error) {
	g := &writeGuard{
		authenticates: func() bool {
			// An unreadable file counts as no authentication: refuse
			// rather than guess. (exporter-toolkit fails such requests
			// before they get here anyway.)
			ok, err := webConfigAuthenticates(webConfigFile)
			return err == nil && ok
		},
		cross: http.NewCrossOriginProtection(),
		log:   log,
	}
	if h := normalHost(hostname); h != "" {
		g.names = append(g.names, h)
	}
	for _, h := range externalHosts {
		if h == "" || strings.ContainsAny(h, ":/[]@?# ") {
			return nil, fmt.Errorf("--web.external-host %q: want a host name such as watch.example.com, without scheme, port or path", h)
		}
		g.names = append(g.names, normalHost(h))
	}
	return g, nil
}

// wrap returns next behind the guard.
func (g *writeGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if code, err := g.check(r); err != nil {
			g.log.Info("write refused", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.String("peer", r.RemoteAddr), zap.Int("status", code), zap.Error(err))
			writeJSON(w, code, apiError{Error: err.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// check says why the write r is refused, with the status to answer, or
// nil when it may be served.
func (g *writeGuard) check(r *http.Request) (int, error) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if (err != nil || !peer.Addr().Unmap().IsLoopback()) && !g.authenticates() {
		who := r.RemoteAddr
		if err == nil {
			who = peer.Addr().Unmap().String()
		}
		return http.StatusForbidden, fmt.Errorf("write refused: %s is not a loopback address, and writes from elsewhere need authentication in --web.config.file (basic_auth_users, or tls_server_config.client_auth_type: RequireAndVerifyClientCert); run the command on the daemon's host, or configure one of those", who)
	}
	if !g.ownHost(r) {
		names := append([]string{"localhost", "loopback addresses", "the address connected to"}, g.names...)
		return http.StatusForbidden, fmt.Errorf("write refused: Host %q is not this daemon's (%s); add the name the daemon is reached by with --web.external-host", r.Host, strings.Join(names, ", "))
	}
	if err := g.cross.Check(r); err != nil {
		return http.StatusForbidden, fmt.Errorf("write refused: a cross-origin browser request (Origin %q, Sec-Fetch-Site %q); the API takes writes from the CLI and scripts, not from other sites' pages", r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"))
	}
	// DELETE carries no body, so it has no content type to require; it is
	// not a method a page may send across sites without a CORS preflight
	// either, and the peer, Host and Origin rules above still apply. The
	// lifecycle endpoints (/-/reload) take no body either: `curl -X POST`
	// sends none and no Content-Type, as for Prometheus; one with a body
	// is held to the rule like any write.
	if r.Method != http.MethodDelete && !(lifecycle(r) && r.ContentLength == 0) {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Errorf("write refused: Content-Type %q; send a JSON body with Content-Type: application/json", r.Header.Get("Content-Type"))
		}
	}
	return 0, nil
}

// lifecycle reports whether r is for a lifecycle endpoint (/-/reload).
func lifecycle(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/-/") }

// ownHost reports whether r's Host names this daemon: localhost, a
// loopback address, the address the client connected to, the machine's
// hostname, or a --web.external-host. The port is not compared: a port
// forward or a proxy may change it, and a DNS-rebinding page is told apart
// by its name, not its port.
func (g *writeGuard) ownHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = normalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if host == "localhost" || slices.Contains(g.names, host) {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if ip.IsLoopback() {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	own, err := netip.ParseAddrPort(local.String())
	return err == nil && own.Addr().Unmap().WithZone("") == ip
}

// normalHost is a host name in the form ownHost compares: lower case,
// without the root's trailing dot.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// webConfigAuthenticates reports whether the exporter-toolkit web config at
// path makes the server authenticate every caller before a handler runs:
// basic_auth_users is set, or TLS requires a client certificate signed by
// client_ca_file (RequireAndVerifyClientCert; RequireAnyClientCert takes
// any self-signed certificate, so it proves no identity). path "" is no web
// config. exporter-toolkit validates the file; this reads only those keys.
func webConfigAuthenticates(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("--web.config.file: %w", err)
	}
	var c struct {
		Users map[string]any `yaml:"basic_auth_users"`
		TLS   struct {
			ClientAuth string `yaml:"client_auth_type"`
		} `yaml:"tls_server_config"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		return false, fmt.Errorf("--web.config.file %s: %w", path, err)
	}
	return len(c.Users) > 0 || c.TLS.ClientAuth == "RequireAndVerifyClientCert", nil
}
