package spacetime_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// Quirks of the shipped server's transport (docs/instance.md, "Quirks of
// the shipped server" items 1, 6, 9, and "Transport"), each with one named test.

// allCalls exercises every call of the client once.
func allCalls(t *testing.T, c *spacetime.Client) {
	t.Helper()
	ctx := ctxT(t)
	_, _ = c.Health(ctx)
	_, _ = c.Status(ctx)
	_, _ = c.Performance(ctx)
	_, _ = c.Scene(ctx)
	_, _ = c.SceneHistory(ctx)
	_, _ = c.Scenes(ctx, spacetime.ScenesQuery{Dir: "res://scenes/", IncludeAddons: true})
	_, _ = c.ProbeWhitelist(ctx, "")
	_, _ = c.Get(ctx, "/scene/history")
	_, _ = c.GetUnauthenticated(ctx, "/scene")
}

// fullGodot is a fake with every monitoring route of the shipped server.
func fullGodot(t *testing.T, tok string) *fakeGodot {
	return newFakeGodot(t, map[string]godotHandler{
		"GET /status":         fixed(200, `{"status":"healthy","http_api":"active","environment":"development","api_version":"1.0.0"}`),
		"GET /performance":    bearerHandler(tok, fixed(200, performanceBody)),
		"GET /scene":          bearerHandler(tok, fixed(200, `{"scene_name":"VRMain","scene_path":"res://vr_main.tscn","status":"loaded"}`)),
		"GET /scene/history":  bearerHandler(tok, fixed(200, `{"history":[],"count":0.0,"max_size":10.0}`)),
		"GET /scenes":         bearerHandler(tok, fixed(200, `{"scenes":[],"count":0.0,"directory":"res://scenes/","include_addons":true}`)),
		"POST /scene":         bearerHandler(tok, jsonBodyHandler(forbidAll)),
		"GET /health_unknown": fixed(404, "Not found"),
	})
}

func forbidAll(string) (int, string) {
	return 403, `{"error":"Forbidden","message":"Scene not in whitelist for environment: development"}`
}

// performanceBody is the shipped shape: counts as floats, percents as strings.
const performanceBody = `{"timestamp":1765900000.125,
 "cache":{"l1_cache":{"hits":412.0,"misses":37.0,"hit_rate_percent":"91.76","size":18.0,"max_size":100.0,"bytes":5120.0,"max_bytes":10485760.0,"evictions":0.0},
          "operations":{"total_gets":449.0,"total_sets":40.0,"total_invalidations":2.0}},
 "security":{"auth":{"total_checks":97.0,"cache_hits":88.0,"hit_rate_percent":"90.72"},"whitelist":{"total_checks":0.0,"cache_hits":0.0,"hit_rate_percent":"0.00"}},
 "memory":{"static_memory_usage":734003200.0,"static_memory_max":801112064.0,"dynamic_memory_usage":65536.0},
 "engine":{"fps":89.0,"process_time":0.0104,"physics_process_time":0.0021,"objects_in_use":15321.0,"resources_in_use":842.0,"nodes_in_use":2210.0}}`

func TestQuirk_RequestLineHTTP11(t *testing.T) {
	// godottpd recognises only "METHOD SP path SP HTTP/1.1"; anything else
	// falls through to 404.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	allCalls(t, newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars"))))
	reqs := f.requests()
	if len(reqs) < 9 {
		t.Fatalf("fake saw %d requests, want at least 9", len(reqs))
	}
	for _, r := range reqs {
		if r.Method == "" {
			t.Errorf("request line %q does not match METHOD SP path SP HTTP/1.1", r.Line)
		}
	}
}

func TestQuirk_NeverSendsOptionsOrHead(t *testing.T) {
	// The OPTIONS branch of godottpd dereferences a missing member; HEAD
	// /status is a 404. Monitoring uses GET, and POST only for the probe.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	allCalls(t, newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars"))))
	for _, r := range f.requests() {
		if r.Method != http.MethodGet && !(r.Method == http.MethodPost && r.Path == "/scene") {
			t.Errorf("sent %s %s; want only GET, and POST /scene for the probe", r.Method, r.Target)
		}
	}
}

func TestQuirk_ConnectionCloseEveryResponse(t *testing.T) {
	// godottpd closes every connection: the client must open a fresh one per
	// request (no keep-alive reuse) and say so.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("Status #%d: %v", i, err)
		}
		if _, err := c.ProbeWhitelist(ctx, ""); err != nil {
			t.Fatalf("ProbeWhitelist #%d: %v", i, err)
		}
	}
	reqs := f.requests()
	if got := f.connCount(); got != len(reqs) || got != 10 {
		t.Errorf("%d connections for %d requests; want one fresh connection per request (10)", got, len(reqs))
	}
	for _, r := range reqs {
		if r.Headers["Connection"] != "close" {
			t.Errorf("%s %s: Connection header %q, want close", r.Method, r.Path, r.Headers["Connection"])
		}
	}
}

func TestQuirk_RequestSentInOneWrite(t *testing.T) {
	// godottpd parses what one read returns: headers and body must leave in
	// one write, with a Content-Length.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	for range 10 {
		p, err := c.ProbeWhitelist(ctxT(t), "")
		if err != nil {
			t.Fatalf("ProbeWhitelist: %v", err)
		}
		if p.Code != 403 {
			t.Fatalf("probe code %d, want 403 (a 400 means the body was not seen whole)", p.Code)
		}
	}
	for _, r := range f.requests() {
		if !r.Complete || r.Headers["Content-Length"] == "" {
			t.Errorf("POST /scene: body not whole in the first read (Content-Length %q, got %q)", r.Headers["Content-Length"], r.Body)
		}
	}
}

func TestQuirk_ContentTypeExactJSONOnPOST(t *testing.T) {
	// JSON bodies are parsed only when Content-Type is exactly
	// application/json; "; charset=utf-8" earns a 400.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	p, err := c.ProbeWhitelist(ctxT(t), "")
	if err != nil {
		t.Fatalf("ProbeWhitelist: %v", err)
	}
	if !p.Enforced() {
		t.Errorf("probe code %d, want 403", p.Code)
	}
	for _, r := range f.requests() {
		if got := r.Headers["Content-Type"]; got != "application/json" {
			t.Errorf("Content-Type %q, want exactly application/json", got)
		}
	}
	// And against the simulated shipped server: a 403, not a 400.
	e := startSim(t, sim.ProfileGodot)
	sp, err := e.client(t).ProbeWhitelist(ctxT(t), "")
	if err != nil || sp.Code != 403 {
		t.Fatalf("sim godot probe: %+v, %v; want 403", sp, err)
	}
}

func TestQuirk_EmptyObjectRejected(t *testing.T) {
	// {} is rejected with 400 (an empty dictionary is falsy) and a body
	// without scene_path would load the main scene: the probe always sends
	// scene_path, with a path nobody whitelists or ships.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	p, err := c.ProbeWhitelist(ctxT(t), "")
	if err != nil {
		t.Fatalf("ProbeWhitelist: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatalf("probe body %q: %v", reqs[0].Body, err)
	}
	sp := body["scene_path"]
	if len(body) != 1 || !strings.HasPrefix(sp, spacetime.WhitelistProbePrefix) || !strings.HasSuffix(sp, ".tscn") || sp != p.Path {
		t.Errorf("probe body %q; want only scene_path = %s<random>.tscn (result path %q)", reqs[0].Body, spacetime.WhitelistProbePrefix, p.Path)
	}
	p2, err := c.ProbeWhitelist(ctxT(t), "")
	if err != nil {
		t.Fatalf("second probe: %v", err)
	}
	if p2.Path == p.Path {
		t.Errorf("two probes sent the same path %q; want a random one each time", p.Path)
	}
}

func TestQuirk_NoHealthEndpointIsAbsentNotDown(t *testing.T) {
	// The shipped server has no /health: 404 with a plain-text "Not found".
	// That is a capability gap, not an outage; the checklist serves it.
	for _, profile := range profiles {
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			h, err := e.client(t).Health(ctxT(t))
			if profile == sim.ProfileChecklist {
				if err != nil || !h.OK() {
					t.Fatalf("Health = %+v, %v; want status ok", h, err)
				}
				return
			}
			var se *spacetime.StatusError
			if !errors.Is(err, spacetime.ErrEndpointAbsent) || !errors.As(err, &se) || se.Code != 404 {
				t.Fatalf("Health error %v; want ErrEndpointAbsent from a 404", err)
			}
			if spacetime.IsConnRefused(err) || spacetime.IsTimeout(err) {
				t.Errorf("absent /health classified as down: %v", err)
			}
			if !strings.Contains(err.Error(), "/health") || !strings.Contains(err.Error(), "absent") {
				t.Errorf("error %q should name /health and say absent", err)
			}
		})
	}
}

func TestQuirk_RouterMissingPlain404(t *testing.T) {
	// scene_router.gd may fail to compile, taking /scene and every router
	// registered after it (/scenes, /performance) with it; /status and
	// /scene/history survive. Each missing one is "absent", not "down".
	tok := "a-token-of-sixteen-chars"
	f := newFakeGodot(t, map[string]godotHandler{
		"GET /status":        fixed(200, `{"status":"healthy","http_api":"active","environment":"development","api_version":"1.0.0"}`),
		"GET /scene/history": bearerHandler(tok, fixed(200, `{"history":[],"count":0.0,"max_size":10.0}`)),
	})
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken(spacetime.Secret(tok))))
	ctx := ctxT(t)
	if _, err := c.SceneHistory(ctx); err != nil {
		t.Fatalf("SceneHistory: %v", err)
	}
	calls := map[string]func() error{
		"Scene":          func() error { _, err := c.Scene(ctx); return err },
		"Scenes":         func() error { _, err := c.Scenes(ctx, spacetime.ScenesQuery{}); return err },
		"Performance":    func() error { _, err := c.Performance(ctx); return err },
		"ProbeWhitelist": func() error { _, err := c.ProbeWhitelist(ctx, ""); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, spacetime.ErrEndpointAbsent) {
				t.Fatalf("error %v; want ErrEndpointAbsent", err)
			}
			var ue *spacetime.UnreachableError
			if errors.As(err, &ue) {
				t.Errorf("absent endpoint reported as unreachable: %v", err)
			}
		})
	}
	raw, err := c.Get(ctx, "/scene/dump")
	if err != nil || raw.Code != 404 || !raw.Absent {
		t.Errorf("Get /scene/dump = %+v, %v; want a 404 marked Absent", raw, err)
	}
	// A JSON 404 is an answer, not an absent endpoint.
	f2 := newFakeGodot(t, map[string]godotHandler{
		"POST /scene": jsonBodyHandler(func(p string) (int, string) {
			return 404, `{"error":"Not Found","message":"Scene file not found: ` + p + `"}`
		}),
	})
	p, err := newClient(t, f2.URL()).ProbeWhitelist(ctx, "")
	if err != nil || p.Code != 404 || p.Enforced() || !strings.HasPrefix(p.Message, "Scene file not found") {
		t.Errorf("probe through a disabled whitelist = %+v, %v; want a 404 result, not enforced", p, err)
	}
}

func TestQuirk_RedirectToOtherHostRefused(t *testing.T) {
	// A redirect to another host could carry the token away: refused. The
	// same host is followed, a few hops at most.
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"http_api":"active"}`))
	}))
	t.Cleanup(other.Close)
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/status", http.StatusFound)
	})
	mux.HandleFunc("/scene", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/scene", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/scene/history", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/real/history", http.StatusFound)
	})
	mux.HandleFunc("/real/history", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"history":[],"count":0,"max_size":10}`))
	})
	mux.HandleFunc("/scenes", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/scenes", http.StatusFound) // a loop
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := newClient(t, srv.URL, withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	ctx := ctxT(t)
	if _, err := c.Status(ctx); !errors.Is(err, spacetime.ErrRedirectRefused) {
		t.Errorf("Status through a cross-host redirect: %v; want ErrRedirectRefused", err)
	}
	if _, err := c.Scene(ctx); !errors.Is(err, spacetime.ErrRedirectRefused) {
		t.Errorf("Scene through a cross-host redirect: %v; want ErrRedirectRefused", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests; want 0", n)
	}
	if _, err := c.SceneHistory(ctx); err != nil {
		t.Errorf("same-host redirect not followed: %v", err)
	}
	if _, err := c.Scenes(ctx, spacetime.ScenesQuery{}); !errors.Is(err, spacetime.ErrRedirectRefused) {
		t.Errorf("redirect loop: %v; want ErrRedirectRefused", err)
	}
}

func TestQuirk_QueryNotURLDecoded(t *testing.T) {
	// The server splits the query on & and = and never URL-decodes: the
	// client sends dir=res://… as is, and refuses values it cannot send.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken("a-token-of-sixteen-chars")))
	if _, err := c.Scenes(ctxT(t), spacetime.ScenesQuery{Dir: "res://scenes/", IncludeAddons: true}); err != nil {
		t.Fatalf("Scenes: %v", err)
	}
	if got, want := f.requests()[0].Target, "/scenes?dir=res://scenes/&include_addons=true"; got != want {
		t.Errorf("request target %q, want %q", got, want)
	}
	for _, dir := range []string{"scenes/", "res://a b/", "res://a&b=c/"} {
		if _, err := c.Scenes(ctxT(t), spacetime.ScenesQuery{Dir: dir}); err == nil {
			t.Errorf("Scenes(dir %q) sent; want a refusal before any request", dir)
		}
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("%d requests; invalid dirs must not be sent", n)
	}
}

func TestQuirk_AuthorizationHeaderExact(t *testing.T) {
	// "Authorization: Bearer <token>": header name as written (the
	// /performance module reads only "Authorization", case-sensitive),
	// capital B, one space.
	f := fullGodot(t, "a-token-of-sixteen-chars")
	c := newClient(t, f.URL(), func(o *spacetime.Options) {
		o.Token = spacetime.StaticToken("a-token-of-sixteen-chars")
		o.PerformanceToken = spacetime.StaticToken("a-token-of-sixteen-chars")
	})
	ctx := ctxT(t)
	if _, err := c.Performance(ctx); err != nil {
		t.Fatalf("Performance: %v", err)
	}
	if _, err := c.Scene(ctx); err != nil {
		t.Fatalf("Scene: %v", err)
	}
	for _, r := range f.requests() {
		if got := r.Headers["Authorization"]; got != "Bearer a-token-of-sixteen-chars" {
			t.Errorf("%s: Authorization header %q", r.Path, got)
		}
	}
}
