package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestChecklistEndpoints(t *testing.T) {
	s := startTestSim(t, Options{Profile: ProfileChecklist, Token: "checklist-token-0123456789"})
	tok := s.Info().Token
	if tok != "checklist-token-0123456789" {
		t.Fatalf("Info().Token = %q, want the configured token", tok)
	}
	tests := []struct {
		name     string
		method   string
		path     string
		token    string
		body     string
		wantCode int
		wantBody string // a substring of the body
	}{
		{"health", "GET", "/health", "", "", 200, `{"status":"ok"}`},
		{"status needs no token", "GET", "/status", "", "", 200, `"http_api":"active"`},
		{"scene without token", "GET", "/scene", "", "", 401, `"error":"Unauthorized"`},
		{"scene with wrong token", "GET", "/scene", "wrong-token-0123456789", "", 401, `"error":"Unauthorized"`},
		{"scene", "GET", "/scene", tok, "", 200, `{"scene_name":"VRMain","scene_path":"res://vr_main.tscn","status":"loaded"}`},
		{"scenes", "GET", "/scenes", tok, "", 200, `"path":"res://vr_main.tscn"`},
		{"scenes refuses a dir outside res://", "GET", "/scenes?dir=/etc", tok, "", 400, `Directory path must start with 'res://'`},
		{"scene history", "GET", "/scene/history", tok, "", 200, `{"count":0,"history":[],"max_size":10}`},
		{"performance takes the API token", "GET", "/performance", tok, "", 200, `"static_memory_usage":314572800}`},
		{"performance without token", "GET", "/performance", "", "", 401, `Unauthorized`},
		{"put scene validates", "PUT", "/scene", tok, `{"scene_path":"res://vr_main.tscn"}`, 200, `"valid":true`},
		{"unknown path", "GET", "/nope", "", "", 404, `Endpoint not found: /nope`},
		{"wrong method", "DELETE", "/health", "", "", 405, `Method Not Allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, tt.method, "http://"+s.Info().API+tt.path, tt.token, "application/json", tt.body)
			if r.code != tt.wantCode || !strings.Contains(r.body, tt.wantBody) {
				t.Fatalf("%s %s = %d %s, want %d containing %s", tt.method, tt.path, r.code, r.body, tt.wantCode, tt.wantBody)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

func TestChecklistStatus(t *testing.T) {
	clock := testkit.NewClock(t)
	s := startTestSim(t, Options{Profile: ProfileChecklist, Now: clock.Now, Environment: "staging", AppVersion: "1.2.3"})
	tok := s.Info().Token

	get(t, s, "/scene", "")  // 401
	get(t, s, "/scene", tok) // 200
	if err := s.PatchFaults([]byte(`{"api_error_rate":1}`)); err != nil {
		t.Fatal(err)
	}
	get(t, s, "/health", "") // 500
	if err := s.PatchFaults([]byte(`{"api_error_rate":0,"scene":""}`)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90 * time.Second)

	m := get(t, s, "/status", "").json(t)
	want := map[string]string{
		"status":                      "healthy",
		"environment":                 "staging",
		"http_api":                    "active",
		"api_version":                 "1.0.0",
		"version":                     "1.2.3",
		"current_scene":               "<nil>",
		"uptime_seconds":              "90",
		"requests_total":              "4", // this request included
		"errors_total":                "1",
		"restarts_total":              "0",
		"auth_failures_total":         "1",
		"rate_limit_violations_total": "0",
	}
	for k, v := range want {
		if got := fmt.Sprint(m[k]); got != v {
			t.Errorf("/status %s = %s, want %s", k, got, v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("/status has %d fields, want %d: %v", len(m), len(want), m)
	}

	t.Run("environment follows the fault", func(t *testing.T) {
		if err := s.PatchFaults([]byte(`{"environment":"production"}`)); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, "/status", "").json(t)["environment"]; got != "production" {
			t.Errorf("environment = %v, want production", got)
		}
	})
}

func TestChecklistPostScene(t *testing.T) {
	clock := testkit.NewClock(t)
	s := startTestSim(t, Options{Profile: ProfileChecklist, Now: clock.Now})
	tok := s.Info().Token
	post := func(body string) apiResponse {
		// The checklist contract does not insist on the exact content type.
		return request(t, "POST", "http://"+s.Info().API+"/scene", tok, "application/json; charset=utf-8", body)
	}
	tests := []struct {
		name     string
		faults   string
		body     string
		wantCode int
		wantBody string
	}{
		{"whitelisted scene loads", "", `{"scene_path":"res://vr_main.tscn"}`, 200, `{"message":"Scene load initiated successfully","scene":"res://vr_main.tscn","status":"loading"}`},
		{"off the production whitelist", "", `{"scene_path":"res://tests/debug.tscn"}`, 403, `Scene not in whitelist for environment: production`},
		{"blacklist wins", "", `{"scene_path":"res://addons/gdUnit4/x.tscn"}`, 403, `Scene is in blacklist (addon/system scene)`},
		{"path traversal", "", `{"scene_path":"res://../etc/x.tscn"}`, 403, `Path traversal (..) not allowed`},
		{"not a scene", "", `{"scene_path":"res://vr_main.gd"}`, 403, `Scene path must end with .tscn`},
		{"not res://", "", `{"scene_path":"/tmp/x.tscn"}`, 403, `Scene path must start with res://`},
		{"too long", "", `{"scene_path":"res://` + strings.Repeat("a", 260) + `.tscn"}`, 403, `exceeds maximum length`},
		{"scene_path required", "", `{"path":"res://vr_main.tscn"}`, 400, `Bad Request`},
		{"not JSON", "", `scene_path=res://vr_main.tscn`, 400, `Bad Request`},
		{"broken whitelist: missing file is 404", `{"whitelist_disabled":true}`, `{"scene_path":"res://nowhere.tscn"}`, 404, `Scene file not found: res://nowhere.tscn`},
		{"broken whitelist: existing test scene loads", `{"whitelist_disabled":true}`, `{"scene_path":"res://tests/debug.tscn"}`, 200, `"status":"loading"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patch := tt.faults
			if patch == "" {
				patch = `{"whitelist_disabled":false}`
			}
			if err := s.PatchFaults([]byte(patch)); err != nil {
				t.Fatal(err)
			}
			r := post(tt.body)
			if r.code != tt.wantCode || !strings.Contains(r.body, tt.wantBody) {
				t.Fatalf("POST /scene %s = %d %s, want %d containing %s", tt.body, r.code, r.body, tt.wantCode, tt.wantBody)
			}
		})
	}

	t.Run("a load changes the scene and the history, most recent first", func(t *testing.T) {
		if got := s.Faults().Scene; got != "res://tests/debug.tscn" {
			t.Fatalf("current scene = %q, want the last one loaded", got)
		}
		var h struct {
			History []historyEntry `json:"history"`
			Count   int            `json:"count"`
		}
		if err := json.Unmarshal([]byte(get(t, s, "/scene/history", tok).body), &h); err != nil {
			t.Fatal(err)
		}
		if h.Count != 2 || h.History[0].ScenePath != "res://tests/debug.tscn" || h.History[1].ScenePath != "res://vr_main.tscn" {
			t.Fatalf("history = %+v, want debug then vr_main", h)
		}
		if h.History[0].LoadedAt != clock.Now().Format(time.RFC3339) {
			t.Errorf("loaded_at = %q, want %q", h.History[0].LoadedAt, clock.Now().Format(time.RFC3339))
		}
	})

	t.Run("the history keeps 10 entries", func(t *testing.T) {
		if err := s.PatchFaults([]byte(`{"rate_limit_disabled":true}`)); err != nil {
			t.Fatal(err)
		}
		for range 12 {
			post(`{"scene_path":"res://node_3d.tscn"}`)
		}
		m := get(t, s, "/scene/history", tok).json(t)
		if fmt.Sprint(m["count"]) != "10" {
			t.Fatalf("count = %v, want 10", m["count"])
		}
	})

	t.Run("no scene", func(t *testing.T) {
		if err := s.PatchFaults([]byte(`{"scene":""}`)); err != nil {
			t.Fatal(err)
		}
		r := get(t, s, "/scene", tok)
		if r.body != `{"scene_name":null,"scene_path":null,"status":"no_scene"}` {
			t.Fatalf("GET /scene = %s", r.body)
		}
	})
}

func TestChecklistPerformanceFollowsFaults(t *testing.T) {
	clock := testkit.NewClock(t)
	s := startTestSim(t, Options{Now: clock.Now})
	if err := s.PatchFaults([]byte(`{"fps":60,"fps_jitter":0,"memory_mb":300,"memory_growth_mb_per_min":10}`)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Minute)
	var perf struct {
		Engine struct{ FPS float64 } `json:"engine"`
		Memory struct {
			Usage float64 `json:"static_memory_usage"`
			Max   float64 `json:"static_memory_max"`
		} `json:"memory"`
		Cache struct {
			L1 struct {
				HitRate float64 `json:"hit_rate_percent"`
			} `json:"l1_cache"`
		} `json:"cache"`
	}
	if err := json.Unmarshal([]byte(get(t, s, "/performance", s.Info().Token).body), &perf); err != nil {
		t.Fatal(err)
	}
	if perf.Engine.FPS != 60 {
		t.Errorf("fps = %v, want 60 (jitter 0)", perf.Engine.FPS)
	}
	if want := 330.0 * 1024 * 1024; perf.Memory.Usage != want || perf.Memory.Max != want {
		t.Errorf("memory = %v (max %v), want %v: 300 MiB + 3 min × 10 MiB/min", perf.Memory.Usage, perf.Memory.Max, want)
	}
	if perf.Cache.L1.HitRate != 100 {
		t.Errorf("hit_rate_percent = %v, want the number 100", perf.Cache.L1.HitRate)
	}
}

func TestAPIErrorRateAndLatency(t *testing.T) {
	s := startTestSim(t, Options{})
	if err := s.UpdateFaults(func(f *Faults) { f.APIErrorRate = 1 }); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", "/status", "/scene"} {
		if r := get(t, s, path, s.Info().Token); r.code != http.StatusInternalServerError {
			t.Errorf("GET %s with api_error_rate 1 = %d, want 500", path, r.code)
		}
	}
	if err := s.UpdateFaults(func(f *Faults) { f.APIErrorRate, f.APILatencyMS = 0, 150 }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := get(t, s, "/health", ""); r.code != 200 {
		t.Errorf("GET /health with api_error_rate 0 = %d, want 200", r.code)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("answered after %v, want at least the 150ms api_latency_ms", took)
	}
}
