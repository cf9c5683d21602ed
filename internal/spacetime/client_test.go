package spacetime_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

func TestNew_Validation(t *testing.T) {
	for _, tc := range []struct {
		name, base, wantErr string
		timeout             time.Duration
	}{
		{name: "empty", base: "", wantErr: "base URL is empty"},
		{name: "no scheme", base: "127.0.0.1:8080", wantErr: "scheme must be http or https"},
		{name: "ftp", base: "ftp://127.0.0.1:8080", wantErr: "scheme must be http or https"},
		{name: "no host", base: "http:///status", wantErr: "missing host"},
		{name: "credentials", base: "http://user:pass@127.0.0.1:8080", wantErr: "must not carry credentials"},
		{name: "query", base: "http://127.0.0.1:8080/?x=1", wantErr: "must not have a query"},
		{name: "negative timeout", base: "http://127.0.0.1:8080", timeout: -time.Second, wantErr: "timeout must not be negative"},
		{name: "ok", base: "http://127.0.0.1:8080"},
		{name: "ok with prefix", base: "https://example.org/api/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := spacetime.New(spacetime.Options{BaseURL: tc.base, Timeout: tc.timeout})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New(%q): %v", tc.base, err)
				}
				if strings.HasSuffix(c.BaseURL(), "/") {
					t.Errorf("BaseURL %q keeps a trailing slash", c.BaseURL())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New(%q) = %v; want an error containing %q", tc.base, err, tc.wantErr)
			}
			if strings.Contains(tc.base, "pass") && strings.Contains(err.Error(), "pass") {
				t.Errorf("error %q repeats the credentials", err)
			}
		})
	}
}

func TestClient_BasePathPrefix(t *testing.T) {
	// Behind an ingress the API lives under a prefix (/api/status).
	mux := http.NewServeMux()
	mux.HandleFunc("/api/status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"http_api":"active"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if st, err := newClient(t, srv.URL+"/api/").Status(ctxT(t)); err != nil || !st.Active() {
		t.Fatalf("Status under /api = %+v, %v", st, err)
	}
}

func TestUnreachable_RefusedVsTimeout(t *testing.T) {
	// "Instance down" (connection refused: api_down) and "engine stalled"
	// (no answer in time: api_latency_ms) are different alerts.
	for _, profile := range profiles {
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			c := e.client(t, func(o *spacetime.Options) { o.Timeout = 150 * time.Millisecond })
			ctx := ctxT(t)

			e.patch(t, `{"api_down":true}`)
			_, err := c.Status(ctx)
			if !spacetime.IsConnRefused(err) || spacetime.IsTimeout(err) {
				t.Fatalf("Status with the API down: %v; want connection refused", err)
			}
			if !strings.Contains(err.Error(), "refused") {
				t.Errorf("error %q should say refused", err)
			}

			e.patch(t, `{"api_down":false,"api_latency_ms":3000}`)
			start := time.Now()
			_, err = c.Status(ctx)
			if !spacetime.IsTimeout(err) || spacetime.IsConnRefused(err) {
				t.Fatalf("Status with 3s latency and a 150ms timeout: %v; want a timeout", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("timed out after %v; want about 150ms", d)
			}
			var ue *spacetime.UnreachableError
			if !errors.As(err, &ue) || ue.Timeout != 150*time.Millisecond || ue.Endpoint != "/status" {
				t.Errorf("UnreachableError = %+v", ue)
			}
		})
	}
}

func TestClient_CallerCancelIsNotUnreachable(t *testing.T) {
	// The caller's own cancellation (shutdown) is not an outage.
	arrived, block := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		select {
		case <-arrived: // the request is in flight: now the caller gives up
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := newClient(t, srv.URL).Status(ctx)
	var ue *spacetime.UnreachableError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
		t.Fatalf("err = %v; want context.Canceled, not UnreachableError", err)
	}
}

func TestClient_ResetIsUnreachableOther(t *testing.T) {
	// A server that accepts and closes without answering: unreachable, but
	// neither refused nor timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	_, err = newClient(t, "http://"+ln.Addr().String()).Status(ctxT(t))
	var ue *spacetime.UnreachableError
	if !errors.As(err, &ue) || ue.Kind != spacetime.UnreachableOther {
		t.Fatalf("err = %v; want UnreachableError of kind other", err)
	}
}

func TestClient_BodySizeLimit(t *testing.T) {
	big := strings.Repeat("x", 4096)
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content-length over the limit", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"` + big + `"}`))
		}},
		{"chunked over the limit", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"`))
			w.(http.Flusher).Flush() // no Content-Length: chunked
			for range 4 {
				w.Write([]byte(big))
				w.(http.Flusher).Flush()
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, func(o *spacetime.Options) { o.MaxBodyBytes = 1024 })
			_, err := c.Status(ctxT(t))
			if !errors.Is(err, spacetime.ErrBodyTooLarge) || !strings.Contains(err.Error(), "/status") {
				t.Fatalf("err = %v; want ErrBodyTooLarge naming /status", err)
			}
			if _, err := c.Get(ctxT(t), "/status"); !errors.Is(err, spacetime.ErrBodyTooLarge) {
				t.Fatalf("Get: %v; want ErrBodyTooLarge", err)
			}
		})
	}
}

func TestClient_ServerErrorIsStatusError(t *testing.T) {
	for _, profile := range profiles {
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			e.patch(t, `{"api_error_rate":1}`)
			_, err := e.client(t).Scene(ctxT(t))
			var se *spacetime.StatusError
			if !errors.As(err, &se) || se.Code != 500 || se.Absent || errors.Is(err, spacetime.ErrEndpointAbsent) {
				t.Fatalf("err = %v; want StatusError 500, not absent", err)
			}
			if !strings.Contains(se.Body, "Simulated failure") {
				t.Errorf("StatusError body %q should keep the start of the body", se.Body)
			}
		})
	}
}

func TestClient_ObserveEveryAttempt(t *testing.T) {
	f := fullGodot(t, "a-token-of-sixteen-chars")
	var got []spacetime.Observation
	c := newClient(t, f.URL(), func(o *spacetime.Options) {
		o.Observe = func(ob spacetime.Observation) { got = append(got, ob) }
		o.Token = &countingSource{tokens: []spacetime.Secret{"stale-token-0123456789", "a-token-of-sixteen-chars"}}
	})
	s, err := c.Scene(ctxT(t))
	if err != nil {
		t.Fatalf("Scene: %v", err)
	}
	if len(got) != 2 || got[0].Code != 401 || got[1].Code != 200 || got[1].Endpoint != "/scene" || got[1].Method != "GET" {
		t.Fatalf("observations %+v; want a 401 then a 200 on GET /scene", got)
	}
	if got[1].Duration <= 0 || s.Meta.Duration != got[1].Duration || s.Meta.Attempts != 2 || s.Meta.Code != 200 {
		t.Errorf("durations: observed %v, meta %+v", got[1].Duration, s.Meta)
	}
	if _, err := c.Scenes(ctxT(t), spacetime.ScenesQuery{Dir: "res://scenes/"}); err != nil {
		t.Fatal(err)
	}
	if last := got[len(got)-1]; last.Endpoint != "/scenes" {
		t.Errorf("endpoint %q should not carry the query", last.Endpoint)
	}
}

func TestClient_RawGetUnauthenticated(t *testing.T) {
	// The auth check calls a protected endpoint without a token and expects
	// 401; Get never refreshes or retries.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	src := &countingSource{tokens: []spacetime.Secret{"stale-token-0123456789", "a-token-of-sixteen-chars"}}
	c := newClient(t, f.URL(), withToken(src))
	ctx := ctxT(t)
	raw, err := c.GetUnauthenticated(ctx, "/scene")
	if err != nil || raw.Code != 401 {
		t.Fatalf("GetUnauthenticated /scene = %+v, %v; want 401", raw, err)
	}
	if _, ok := f.requests()[0].Headers["Authorization"]; ok {
		t.Error("GetUnauthenticated sent an Authorization header")
	}
	raw, err = c.Get(ctx, "/scene")
	if err != nil || raw.Code != 401 || src.invalidates != 0 || len(f.requests()) != 2 {
		t.Fatalf("Get /scene with a stale token = %+v, %v (%d invalidations); want one 401, no refresh", raw, err, src.invalidates)
	}
	if _, err := c.Get(ctx, "status"); err == nil {
		t.Error("Get with a relative path succeeded")
	}
}

func TestClient_HTTP1OnlyOverTLS(t *testing.T) {
	// Even where the server offers HTTP/2 (an ingress), the client speaks
	// HTTP/1.1, as godottpd does.
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		w.Write([]byte(`{"http_api":"active"}`))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := newClient(t, srv.URL, func(o *spacetime.Options) { o.TLSConfig = &tls.Config{RootCAs: roots} })
	if _, err := c.Status(ctxT(t)); err != nil {
		t.Fatalf("Status over TLS: %v", err)
	}
	if got := proto.Load(); got != "HTTP/1.1" {
		t.Errorf("protocol %v; want HTTP/1.1", got)
	}
}
