package spacetime_test

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// Quirks of the shipped server's bodies (docs/instance.md, "Quirks of the
// shipped server" items 6, 8, "Transport", "Status endpoint", "Performance
// endpoint" and "Legacy bridge"), each with one named test.

func TestQuirk_TextHTMLJSONDecoded(t *testing.T) {
	// Every router answers Content-Type: text/html, JSON or not: decode
	// regardless of the content type.
	e := startSim(t, sim.ProfileGodot)
	resp, err := http.Get(e.base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/html" {
		t.Fatalf("sim godot /status Content-Type %q; the test needs text/html", ct)
	}
	st, err := e.client(t).Status(ctxT(t))
	if err != nil || !st.Active() || st.Meta.Server != "GodotTPD" {
		t.Fatalf("Status = %+v, %v; want an active status from GodotTPD", st, err)
	}
	f := fullGodot(t, "a-token-of-sixteen-chars") // text/html too, raw framing
	if st, err := newClient(t, f.URL()).Status(ctxT(t)); err != nil || !st.Active() {
		t.Fatalf("fake godottpd Status = %+v, %v", st, err)
	}
}

func TestQuirk_CountsAsFloats(t *testing.T) {
	// JSON.stringify writes counts as floats ("412.0"): every number
	// decodes as a float64.
	tok := "a-token-of-sixteen-chars"
	f := newFakeGodot(t, map[string]godotHandler{
		"GET /performance": bearerHandler(tok, fixed(200, performanceBody)),
		"GET /scenes": bearerHandler(tok, fixed(200, `{"scenes":[{"name":"vr_main","path":"res://vr_main.tscn","size_bytes":5223.0,"modified":"2025-12-10T14:02:11Z"}],
			"count":1.0,"directory":"res://","include_addons":false}`)),
		"GET /scene/history": bearerHandler(tok, fixed(200, `{"history":[{"scene_path":"res://vr_main.tscn","scene_name":"VRMain","loaded_at":"2025-12-16T09:41:05","load_duration_ms":812.0}],"count":1.0,"max_size":10.0}`)),
		"GET /status":        fixed(200, `{"status":"healthy","http_api":"active","uptime_seconds":12.0,"requests_total":3.0,"vr_mode":2.0}`),
	})
	c := newClient(t, f.URL(), withToken(spacetime.StaticToken(spacetime.Secret(tok))))
	ctx := ctxT(t)
	p, err := c.Performance(ctx)
	if err != nil {
		t.Fatalf("Performance: %v", err)
	}
	if *p.Engine.ObjectsInUse != 15321 || *p.Memory.StaticMemoryUsage != 734003200 || *p.Cache.L1.Hits != 412 {
		t.Errorf("Performance counts decoded wrong: %+v", p)
	}
	s, err := c.Scenes(ctx, spacetime.ScenesQuery{})
	if err != nil || s.Count != 1 || s.Scenes[0].SizeBytes != 5223 {
		t.Errorf("Scenes = %+v, %v", s, err)
	}
	h, err := c.SceneHistory(ctx)
	if err != nil || h.Count != 1 || *h.History[0].LoadDurationMS != 812 {
		t.Errorf("SceneHistory = %+v, %v", h, err)
	}
	st, err := c.Status(ctx)
	if err != nil || *st.RequestsTotal != 3 || *st.VRMode != 2 {
		t.Errorf("Status = %+v, %v", st, err)
	}
	// And the simulated shipped server, which writes every number with ".0".
	e := startSim(t, sim.ProfileGodot)
	if p, err := e.client(t).Performance(ctx); err != nil || *p.Engine.NodesInUse != 2210 {
		t.Errorf("sim godot Performance = %+v, %v", p, err)
	}
}

func TestQuirk_PercentAsString(t *testing.T) {
	// hit_rate_percent is a string with two decimals ("91.76"); the
	// checklist writes a number. Both give the same ratio.
	for _, tc := range []struct {
		name, value string
		want        float64
	}{
		{"string", `"91.76"`, 0.9176},
		{"string with percent sign", `"91.76%"`, 0.9176},
		{"number", `91.76`, 0.9176},
		{"zero string", `"0.00"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(performanceBody, `"hit_rate_percent":"91.76"`, `"hit_rate_percent":`+tc.value, 1)
			f := newFakeGodot(t, map[string]godotHandler{"GET /performance": fixed(200, body)})
			p, err := newClient(t, f.URL()).Performance(ctxT(t))
			if err != nil {
				t.Fatalf("Performance: %v", err)
			}
			if got, ok := p.CacheHitRatio(); !ok || math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("CacheHitRatio = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
	t.Run("not a number names the field", func(t *testing.T) {
		body := strings.Replace(performanceBody, `"hit_rate_percent":"91.76"`, `"hit_rate_percent":"n/a"`, 1)
		f := newFakeGodot(t, map[string]godotHandler{"GET /performance": fixed(200, body)})
		_, err := newClient(t, f.URL()).Performance(ctxT(t))
		var de *spacetime.DecodeError
		if !errors.As(err, &de) || de.Field != "cache.l1_cache.hit_rate_percent" || de.Endpoint != "/performance" {
			t.Fatalf("err = %v; want a DecodeError naming cache.l1_cache.hit_rate_percent", err)
		}
	})
	t.Run("sim godot", func(t *testing.T) {
		e := startSim(t, sim.ProfileGodot)
		p, err := e.client(t).Performance(ctxT(t))
		if err != nil {
			t.Fatalf("Performance: %v", err)
		}
		if r, ok := p.CacheHitRatio(); !ok || r < 0 || r > 1 {
			t.Errorf("CacheHitRatio = %v, %v; want a ratio in [0, 1]", r, ok)
		}
	})
}

func TestQuirk_EnvironmentAlwaysDevelopment(t *testing.T) {
	// The shipped /status hard-codes environment "development" whatever the
	// instance runs as; the client reports what was said, never guesses.
	for _, tc := range []struct {
		profile sim.Profile
		want    string
	}{
		{sim.ProfileChecklist, "production"},
		{sim.ProfileGodot, "development"},
	} {
		t.Run(string(tc.profile), func(t *testing.T) {
			e := startSim(t, tc.profile)
			e.patch(t, `{"environment":"production"}`)
			st, err := e.client(t).Status(ctxT(t))
			if err != nil || st.Environment != tc.want {
				t.Fatalf("Status = %+v, %v; want environment %q", st, err, tc.want)
			}
		})
	}
}

func TestQuirk_CountersAbsentNotZero(t *testing.T) {
	// The shipped /status reports no counters: "not reported" must differ
	// from 0, and the checklist's counters must come through.
	for _, profile := range profiles {
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			st, err := e.client(t).Status(ctxT(t))
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			counters := []*float64{st.UptimeSeconds, st.RequestsTotal, st.ErrorsTotal, st.RestartsTotal, st.AuthFailuresTotal, st.RateLimitViolationsTotal}
			for i, c := range counters {
				if (c != nil) != (profile == sim.ProfileChecklist) {
					t.Errorf("counter #%d present=%v in profile %s", i, c != nil, profile)
				}
			}
		})
	}
}

func TestQuirk_LegacyBridgeFingerprint(t *testing.T) {
	// The deprecated GodotBridge may hold port 8080: its /status has
	// debug_adapter/language_server/overall_ready, and unknown paths get a
	// JSON 404 with status_code. Reported as such, not as "healthy".
	mux := http.NewServeMux()
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"debug_adapter":{"service_name":"dap","port":6006,"state":2,"retry_count":0,"last_activity":0},
			"language_server":{"service_name":"lsp","port":6005,"state":2,"retry_count":0,"last_activity":0},"overall_ready":true}`))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"Not Found","message":"Endpoint not found: ` + r.URL.Path + `","status_code":404}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	ctx := ctxT(t)

	_, err := c.Status(ctx)
	var lb *spacetime.LegacyBridgeError
	if !errors.Is(err, spacetime.ErrLegacyBridge) || !errors.As(err, &lb) || lb.OverallReady == nil || !*lb.OverallReady {
		t.Fatalf("Status from the legacy bridge: %v; want ErrLegacyBridge with overall_ready", err)
	}
	_, err = c.Health(ctx)
	var se *spacetime.StatusError
	if !errors.Is(err, spacetime.ErrEndpointAbsent) || !errors.As(err, &se) || !se.LegacyBridge {
		t.Fatalf("Health from the legacy bridge: %v; want ErrEndpointAbsent marked LegacyBridge", err)
	}
}

func TestQuirk_SceneNullWhenNoScene(t *testing.T) {
	// With no current scene, scene_name and scene_path are null.
	for _, profile := range profiles {
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			c := e.client(t)
			s, err := c.Scene(ctxT(t))
			if err != nil || !s.Loaded() || s.Path() != sim.DefaultScene {
				t.Fatalf("Scene = %+v, %v; want %s loaded", s, err, sim.DefaultScene)
			}
			e.patch(t, `{"scene":""}`)
			s, err = c.Scene(ctxT(t))
			if err != nil || s.Loaded() || s.SceneName != nil || s.Status != "no_scene" {
				t.Fatalf("Scene = %+v, %v; want nothing loaded, status no_scene", s, err)
			}
		})
	}
}

func TestQuirk_HistoryLoadedAtWithoutZone(t *testing.T) {
	// loaded_at is local time without a zone on the shipped server, RFC 3339
	// in the docs: both parse.
	ist := time.FixedZone("IST", 5*3600+1800)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2025-12-16T09:41:05", time.Date(2025, 12, 16, 9, 41, 5, 0, ist)},
		{"2025-12-16T09:41:05Z", time.Date(2025, 12, 16, 9, 41, 5, 0, time.UTC)},
	} {
		got, err := spacetime.SceneLoad{LoadedAt: tc.in}.LoadedAtTime(ist)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("LoadedAtTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := (spacetime.SceneLoad{LoadedAt: "yesterday"}).LoadedAtTime(nil); err == nil {
		t.Error("LoadedAtTime(yesterday) succeeded")
	}
}

func TestQuirk_NonJSONSuccessIsNotJSON(t *testing.T) {
	// A 200 that is not JSON (another program on the port) is ErrNotJSON
	// naming the endpoint, not a zero-valued status.
	f := newFakeGodot(t, map[string]godotHandler{"GET /status": fixed(200, "<html>hello</html>")})
	_, err := newClient(t, f.URL()).Status(ctxT(t))
	var de *spacetime.DecodeError
	if !errors.Is(err, spacetime.ErrNotJSON) || !errors.As(err, &de) || de.Endpoint != "/status" {
		t.Fatalf("err = %v; want ErrNotJSON for /status", err)
	}
}
