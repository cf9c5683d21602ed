package spacetime_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// Quirks of authentication and rate limiting (docs/instance.md, "Quirks of the
// shipped server" items 2, 3, 4, 7, "Tokens" and "Rate limiting"), each with one named test.

// countObserved counts attempts per endpoint through Options.Observe.
type countObserved struct{ status, scene, performance atomic.Int32 }

func (o *countObserved) observe(ob spacetime.Observation) {
	switch ob.Endpoint {
	case "/status":
		o.status.Add(1)
	case "/scene":
		o.scene.Add(1)
	case "/performance":
		o.performance.Add(1)
	}
}

func TestQuirk_JWTPaddingOneEquals(t *testing.T) {
	// jwt.gd strips only ONE trailing "=": a payload whose base64 ends in
	// "==" keeps one, and strict decoders refuse it. TokenExpiry must not.
	tok := makeJWT(t0, t0.Add(time.Hour))
	payload := strings.Split(tok, ".")[1]
	if !strings.HasSuffix(payload, "=") {
		t.Fatalf("test token payload %q should end in one '='", payload)
	}
	if _, err := base64.RawURLEncoding.DecodeString(payload); err == nil {
		t.Fatal("strict RawURLEncoding decoded the quirky payload: the test proves nothing")
	}
	iat, exp, ok := spacetime.TokenExpiry(spacetime.Secret(tok))
	if !ok || !iat.Equal(t0) || !exp.Equal(t0.Add(time.Hour)) {
		t.Errorf("TokenExpiry = %v, %v, %v; want %v, %v, true", iat, exp, ok, t0, t0.Add(time.Hour))
	}

	// The simulated shipped server issues such tokens too.
	e := startSim(t, sim.ProfileGodot, func(o *sim.Options) { o.TokenTTL = 90 * time.Minute })
	st, err := e.client(t).Status(ctxT(t))
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if seg := strings.Split(st.JWTToken.Reveal(), "."); len(seg) != 3 || !strings.HasSuffix(seg[1], "=") {
		t.Fatalf("sim jwt_token payload does not show the one-'=' quirk")
	}
	iat, exp, ok = spacetime.TokenExpiry(st.JWTToken)
	if !ok || !iat.Equal(t0) || exp.Sub(iat) != 90*time.Minute {
		t.Errorf("sim token: iat %v exp %v ok %v; want iat %v and a 90m lifetime", iat, exp, ok, t0)
	}
}

func TestQuirk_StatusTokenBootstrap(t *testing.T) {
	// GET /status needs no auth and hands out the JWT: the client takes its
	// token there, caches it, and fetches it again when a restart made it
	// stale (401 → one refresh → retry).
	e := startSim(t, sim.ProfileGodot)
	var obs countObserved
	c := e.client(t, func(o *spacetime.Options) { o.Observe = obs.observe })
	ctx := ctxT(t)
	for i := range 3 {
		if s, err := c.Scene(ctx); err != nil || s.Meta.Attempts != 1 {
			t.Fatalf("Scene #%d: %+v, %v", i, s, err)
		}
	}
	if n := obs.status.Load(); n != 1 {
		t.Errorf("/status fetched %d times for 3 calls; want 1 (cached)", n)
	}

	e.sim.Restart("1.0.1") // a new process signs a new JWT
	s, err := c.Scene(ctx)
	if err != nil {
		t.Fatalf("Scene after restart: %v", err)
	}
	if s.Meta.Attempts != 2 || obs.status.Load() != 2 {
		t.Errorf("after restart: %d attempts, %d /status fetches; want 2 and 2", s.Meta.Attempts, obs.status.Load())
	}
}

func TestQuirk_StatusWithoutJWTToken(t *testing.T) {
	// Older builds (and the checklist contract) have no jwt_token: the
	// /status source says so and what to configure instead.
	e := startSim(t, sim.ProfileChecklist)
	c := newClient(t, e.base, withToken(spacetime.StatusToken()))
	_, err := c.Scene(ctxT(t))
	if !errors.Is(err, spacetime.ErrTokenUnavailable) || !strings.Contains(err.Error(), "jwt_token") {
		t.Fatalf("Scene with a /status token on a server without jwt_token: %v; want ErrTokenUnavailable naming jwt_token", err)
	}
	// A file configured after it in FirstOf takes over.
	c = newClient(t, e.base, withToken(spacetime.FirstOf(spacetime.StatusToken(), spacetime.StaticToken(spacetime.Secret(e.info.Token)))))
	if _, err := c.Scene(ctxT(t)); err != nil {
		t.Fatalf("Scene with FirstOf(status, static): %v", err)
	}
}

func TestQuirk_JWTExpiresNeverRenewed(t *testing.T) {
	// The JWT expires TokenTTL after start and nothing renews it; /status
	// keeps handing out the expired token. The client refreshes once, gets
	// the same token and reports Expired: the instance must be restarted.
	e := startSim(t, sim.ProfileGodot)
	var obs countObserved
	c := e.client(t, func(o *spacetime.Options) { o.Observe = obs.observe })
	ctx := ctxT(t)
	if _, err := c.Scene(ctx); err != nil {
		t.Fatalf("Scene before expiry: %v", err)
	}
	e.clock.Advance(time.Hour + time.Second)

	_, err := c.Scene(ctx)
	var ue *spacetime.UnauthorizedError
	if !errors.As(err, &ue) || !ue.Expired || ue.ByInstance {
		t.Fatalf("Scene after expiry: %v; want UnauthorizedError{Expired: true} from the exp claim", err)
	}
	if want := t0.Add(time.Hour); !ue.ExpiredAt.Equal(want) {
		t.Errorf("ExpiredAt %v, want %v", ue.ExpiredAt, want)
	}
	if !strings.Contains(err.Error(), "restart") {
		t.Errorf("error %q should say the instance must be restarted", err)
	}
	if n := obs.scene.Load(); n != 2 {
		t.Errorf("%d /scene attempts in all; want 2 (no retry with the same token)", n)
	}

	e.sim.Restart("")
	if _, err := c.Scene(ctx); err != nil {
		t.Fatalf("Scene after restart: %v", err)
	}
}

func TestQuirk_ExpiredTokenStillServedByStatus(t *testing.T) {
	// When the instance refuses the very token its /status still hands out,
	// it has expired by the instance's clock even if not by the daemon's.
	e := startSim(t, sim.ProfileGodot)
	c := e.client(t)
	ctx := ctxT(t)
	if _, err := c.Scene(ctx); err != nil {
		t.Fatalf("Scene: %v", err)
	}
	e.patch(t, `{"token_expired":true}`)
	_, err := c.Scene(ctx)
	var ue *spacetime.UnauthorizedError
	if !errors.As(err, &ue) || !ue.Expired || !ue.ByInstance {
		t.Fatalf("Scene with the token expired by the instance: %v; want Expired and ByInstance", err)
	}
	// A static token that is refused is "rejected", not "expired".
	ec := startSim(t, sim.ProfileChecklist)
	ec.patch(t, `{"token_expired":true}`)
	_, err = ec.client(t).Scene(ctx)
	if !errors.As(err, &ue) || ue.Expired {
		t.Fatalf("checklist Scene with a refused static token: %v; want UnauthorizedError not Expired", err)
	}
}

func TestQuirk_401RefreshesOnce(t *testing.T) {
	// On a 401 the client invalidates the source and retries once if that
	// yields another token; never a loop.
	const good = "fresh-token-0123456789"
	for _, tc := range []struct {
		name         string
		tokens       []spacetime.Secret
		wantRequests int32
		wantOK       bool
		wantRefresh  bool
	}{
		{"refreshed token accepted", []spacetime.Secret{"stale-token-0123456789", good}, 2, true, false},
		{"refreshed token also refused", []spacetime.Secret{"stale-token-0123456789", "other-token-0123456789", "third-token-0123456789"}, 2, false, true},
		{"same token after refresh", []spacetime.Secret{"stale-token-0123456789"}, 1, false, false},
		{"good token at once", []spacetime.Secret{good}, 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if r.Header.Get("Authorization") != "Bearer "+good {
					w.WriteHeader(http.StatusUnauthorized)
					w.Write([]byte(unauthorizedBody))
					return
				}
				w.Write([]byte(`{"scene_name":"VRMain","scene_path":"res://vr_main.tscn","status":"loaded"}`))
			}))
			t.Cleanup(srv.Close)
			src := &countingSource{tokens: tc.tokens}
			_, err := newClient(t, srv.URL, withToken(src)).Scene(ctxT(t))
			if got := requests.Load(); got != tc.wantRequests {
				t.Errorf("%d requests, want %d", got, tc.wantRequests)
			}
			if (err == nil) != tc.wantOK {
				t.Fatalf("err = %v, want ok=%v", err, tc.wantOK)
			}
			if !tc.wantOK {
				var ue *spacetime.UnauthorizedError
				if !errors.As(err, &ue) || ue.Expired || ue.Refreshed != tc.wantRefresh {
					t.Errorf("err = %#v; want UnauthorizedError{Refreshed: %v}, not expired", err, tc.wantRefresh)
				}
			}
		})
	}
}

func TestQuirk_PerformanceSeparateToken(t *testing.T) {
	// /performance checks its own 64-hex token: the JWT gets 401, reported
	// with a hint at where that token comes from; with it, 200.
	e := startSim(t, sim.ProfileGodot)
	ctx := ctxT(t)
	var obs countObserved
	jwtOnly := e.client(t, func(o *spacetime.Options) {
		o.PerformanceToken = nil
		o.Observe = obs.observe
	})
	if _, err := jwtOnly.Scene(ctx); err != nil {
		t.Fatalf("Scene with the JWT: %v", err)
	}
	_, err := jwtOnly.Performance(ctx)
	var ue *spacetime.UnauthorizedError
	if !errors.As(err, &ue) || !ue.Performance || ue.Expired || ue.PerformanceTokenConfigured {
		t.Fatalf("Performance with the JWT: %v; want UnauthorizedError{Performance: true}", err)
	}
	if !strings.Contains(err.Error(), "[SecurityOptimized] API token generated:") {
		t.Errorf("error %q should say where the /performance token is printed", err)
	}
	// That 401 says nothing about the JWT: no refetch, no retry.
	if p, st := obs.performance.Load(), obs.status.Load(); p != 1 || st != 1 {
		t.Errorf("%d /performance attempts and %d /status fetches; want 1 and 1", p, st)
	}

	p, err := e.client(t).Performance(ctx)
	if err != nil {
		t.Fatalf("Performance with the separate token: %v", err)
	}
	if !p.Complete() {
		t.Errorf("Performance missing %v", p.Missing())
	}
	wrong := e.client(t, func(o *spacetime.Options) {
		o.PerformanceToken = spacetime.StaticToken(spacetime.Secret(strings.Repeat("0", 64)))
	})
	if _, err := wrong.Performance(ctx); !errors.As(err, &ue) || !ue.PerformanceTokenConfigured {
		t.Errorf("Performance with a wrong separate token: %v; want UnauthorizedError{PerformanceTokenConfigured: true}", err)
	}
}

func TestQuirk_RateLimit429BodyOnly(t *testing.T) {
	// The shipped server sends no Retry-After: the delay is the body's
	// float retry_after_seconds. /scene's 30/min bucket is shared by all.
	e := startSim(t, sim.ProfileGodot) // the clock is frozen: no refill
	c := e.client(t)
	ctx := ctxT(t)
	for i := range 30 {
		if _, err := c.Scene(ctx); err != nil {
			t.Fatalf("Scene #%d within the bucket: %v", i, err)
		}
	}
	_, err := c.Scene(ctx)
	var rl *spacetime.RateLimitedError
	if !errors.As(err, &rl) || rl.FromHeader || rl.RetryAfter != 2*time.Second {
		t.Fatalf("31st Scene: %v; want RateLimitedError{RetryAfter: 2s from the body}", err)
	}
	raw, err := c.Get(ctx, "/scene")
	if err != nil || raw.Code != 429 || raw.RateLimited == nil || raw.RateLimited.FromHeader {
		t.Fatalf("Get /scene when limited = %+v, %v; want a 429 read from the body", raw, err)
	}

	// A fractional delay is kept as is.
	f := newFakeGodot(t, map[string]godotHandler{
		"GET /scene/history": fixed(429, `{"error":"Too Many Requests","message":"Rate limit exceeded","retry_after_seconds":1.73}`),
	})
	_, err = newClient(t, f.URL()).SceneHistory(ctx)
	if !errors.As(err, &rl) || rl.RetryAfter != 1730*time.Millisecond || rl.Message != "Rate limit exceeded" {
		t.Fatalf("SceneHistory: %v; want RetryAfter 1.73s", err)
	}
}

func TestQuirk_RateLimit429WithHeader(t *testing.T) {
	// The checklist contract limits /status to 100/min and sends
	// Retry-After (whole seconds), which wins over the body.
	e := startSim(t, sim.ProfileChecklist)
	c := e.client(t)
	ctx := ctxT(t)
	for i := range 100 {
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("Status #%d within the bucket: %v", i, err)
		}
	}
	_, err := c.Status(ctx)
	var rl *spacetime.RateLimitedError
	if !errors.As(err, &rl) || !rl.FromHeader || rl.RetryAfter != time.Second {
		t.Fatalf("101st Status: %v; want RateLimitedError{RetryAfter: 1s, FromHeader: true}", err)
	}
	e.clock.Advance(time.Second)
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("Status after Retry-After: %v", err)
	}
}
