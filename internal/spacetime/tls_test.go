package spacetime_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestClient_PeerCert: the client keeps the earliest expiry of the verified
// chain of its latest answer, the leaf's or the CA's, whichever comes
// first, and sees a renewed certificate at the next request. Verification
// runs on the client's clock (tls.Config.Time), the test's base.
func TestClient_PeerCert(t *testing.T) {
	base := testkit.BaseTime(t)
	ca := testkit.NewCA(t, base.AddDate(-1, 0, 0), base.AddDate(1, 0, 0))
	var cert atomic.Pointer[tls.Certificate]
	leaf := ca.Issue(t, base.Add(-24*time.Hour), base.Add(10*24*time.Hour), "127.0.0.1")
	cert.Store(&leaf)
	srv := testkit.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"http_api":"active"}`))
	}), &cert)
	c := newClient(t, srv.URL, func(o *spacetime.Options) {
		o.TLSConfig = &tls.Config{RootCAs: ca.Pool(), Time: func() time.Time { return base }}
	})
	if pc, ok := c.PeerCert(); ok {
		t.Fatalf("PeerCert before any request: %+v", pc)
	}
	expect := func(want time.Time, subject string) {
		t.Helper()
		if _, err := c.Status(ctxT(t)); err != nil {
			t.Fatalf("Status over TLS: %v", err)
		}
		pc, ok := c.PeerCert()
		if !ok || !pc.NotAfter.Equal(want) || pc.Subject != subject {
			t.Errorf("PeerCert = %+v, %v; want NotAfter %s, subject %q", pc, ok, want, subject)
		}
	}
	expect(base.Add(10*24*time.Hour), "127.0.0.1")

	renewed := ca.Issue(t, base, base.AddDate(2, 0, 0), "127.0.0.1") // outlives the CA
	cert.Store(&renewed)
	expect(ca.Cert.NotAfter, "spacetime-watch test CA") // the CA now expires first

	// An expired certificate fails the request, and is reported as such.
	expired := ca.Issue(t, base.Add(-30*24*time.Hour), base.Add(-2*24*time.Hour), "127.0.0.1")
	cert.Store(&expired)
	if _, err := c.Status(ctxT(t)); err == nil {
		t.Fatal("Status with an expired certificate succeeded")
	}
	if pc, ok := c.PeerCert(); !ok || !pc.NotAfter.Equal(base.Add(-2*24*time.Hour)) {
		t.Errorf("PeerCert after an expired certificate = %+v, %v; want its NotAfter %s", pc, ok, base.Add(-2*24*time.Hour))
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"http_api":"active"}`))
	}))
	t.Cleanup(plain.Close)
	pc := newClient(t, plain.URL)
	if _, err := pc.Status(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got, ok := pc.PeerCert(); ok {
		t.Errorf("PeerCert over plain http: %+v", got)
	}
}

// TestDial_WSSUsesTLSConfig: a wss telemetry URL is verified with
// StreamOptions.TLSConfig (a private CA): with it the handshake succeeds,
// without it (the system roots) it fails on the certificate.
func TestDial_WSSUsesTLSConfig(t *testing.T) {
	base := testkit.BaseTime(t)
	ca := testkit.NewCA(t, base.AddDate(-1, 0, 0), base.AddDate(1, 0, 0))
	var cert atomic.Pointer[tls.Certificate]
	leaf := ca.Issue(t, base.Add(-time.Hour), base.Add(30*24*time.Hour), "127.0.0.1")
	cert.Store(&leaf)
	up := websocket.Upgrader{}
	srv := testkit.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}), &cert)
	wss := "wss" + strings.TrimPrefix(srv.URL, "https") + "/"

	s, err := spacetime.Dial(ctxT(t), spacetime.StreamOptions{URLs: []string{wss}, DialTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: ca.Pool(), Time: func() time.Time { return base }}})
	if err != nil {
		t.Fatalf("Dial wss with the CA: %v", err)
	}
	s.Close()

	_, err = spacetime.Dial(ctxT(t), spacetime.StreamOptions{URLs: []string{wss}, DialTimeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Dial wss without the CA: %v; want a certificate error", err)
	}
}
