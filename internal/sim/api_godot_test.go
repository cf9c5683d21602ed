package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func startGodot(t *testing.T, clock *testkit.Clock) *Sim {
	t.Helper()
	opts := Options{Profile: ProfileGodot}
	if clock != nil {
		opts.Now = clock.Now
	}
	return startTestSim(t, opts)
}

func TestGodotEndpoints(t *testing.T) {
	s := startGodot(t, nil)
	info := s.Info()
	jwt, perf := info.Token, info.PerformanceToken
	tests := []struct {
		name        string
		method      string
		path        string
		token       string
		contentType string
		body        string
		wantCode    int
		wantBody    string // a substring; for 404s the whole body
	}{
		{"no /health", "GET", "/health", "", "", "", 404, "Not found"},
		{"HEAD /status", "HEAD", "/status", "", "", "", 404, ""},
		{"POST /status", "POST", "/status", "", "application/json", "{}", 404, "Not found"},
		{"OPTIONS", "OPTIONS", "/status", "", "", "", 404, "Not found"},
		{"unknown path", "GET", "/metrics", "", "", "", 404, "Not found"},
		{"documented but absent /scene/load", "POST", "/scene/load", jwt, "application/json", `{"scene_path":"res://vr_main.tscn"}`, 404, "Not found"},
		{"status", "GET", "/status", "", "", "", 200, `"environment":"development","api_version":"1.0.0","jwt_token":"` + jwt + `","vr_initialized":false`},
		{"status with trailing slash", "GET", "/status/", "", "", "", 200, `"status":"healthy"`},
		{"scene without token", "GET", "/scene", "", "", "", 401, `{"details":"Include 'Authorization: Bearer <token>' header","error":"Unauthorized","message":"Missing or invalid authentication token"}`},
		{"scene with a short token", "GET", "/scene", "abc", "", "", 401, `Unauthorized`},
		{"scene", "GET", "/scene", jwt, "", "", 200, `"scene_path":"res://vr_main.tscn"`},
		{"scenes", "GET", "/scenes", jwt, "", "", 200, `"include_addons":false`},
		{"scenes with addons", "GET", "/scenes?include_addons=true", jwt, "", "", 200, `res://addons/gdUnit4/x.tscn`},
		{"history stays empty", "GET", "/scene/history", jwt, "", "", 200, `{"count":0,"history":[],"max_size":10}`},
		{"reload", "POST", "/scene/reload", jwt, "", "", 200, `"status":"reloading"`},
		{"performance refuses the JWT", "GET", "/performance", jwt, "", "", 401, `Unauthorized`},
		{"performance with its own token", "GET", "/performance", perf, "", "", 200, `"hit_rate_percent":"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(t, tt.method, "http://"+info.API+tt.path, tt.token, tt.contentType, tt.body)
			ok := strings.Contains(r.body, tt.wantBody)
			if tt.wantCode == 404 {
				ok = r.body == tt.wantBody
			}
			if r.code != tt.wantCode || !ok {
				t.Fatalf("%s %s = %d %q, want %d with %q", tt.method, tt.path, r.code, r.body, tt.wantCode, tt.wantBody)
			}
			for h, want := range map[string]string{"Content-Type": "text/html", "Server": "GodotTPD", "Access-Control-Allow-Origin": "*"} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if !r.closed {
				t.Error("no Connection: close")
			}
		})
	}
}

func TestGodotStatusShape(t *testing.T) {
	s := startGodot(t, nil)
	m := get(t, s, "/status", "").json(t)
	autoloads, _ := m["autoloads"].(map[string]any)
	if len(autoloads) != 6 {
		t.Fatalf("autoloads = %v, want six", m["autoloads"])
	}
	for name, v := range autoloads {
		if v != "missing" {
			t.Errorf("autoloads.%s = %v, want missing", name, v)
		}
	}
	if _, ok := m["requests_total"]; ok {
		t.Error("the godot /status has counters; the shipped server reports none")
	}
	if err := s.PatchFaults([]byte(`{"environment":"production"}`)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "/status", "").json(t)["environment"]; got != "development" {
		t.Errorf("environment = %v, want development whatever the fault says", got)
	}
}

func TestGodotPerformanceNumbers(t *testing.T) {
	s := startGodot(t, nil)
	if err := s.PatchFaults([]byte(`{"fps":90,"fps_jitter":0}`)); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, "/performance", s.Info().PerformanceToken)
	for _, want := range []string{`"fps":90.0`, `"static_memory_usage":314572800.0`, `"nodes_in_use":2210.0`, `"dynamic_memory_usage":65536.0`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("body lacks %s (numbers as floats): %s", want, r.body)
		}
	}
	if !regexp.MustCompile(`"hit_rate_percent":"\d+\.\d\d"`).MatchString(r.body) {
		t.Errorf("percent fields are not two-decimal strings: %s", r.body)
	}
}

func TestGodotPostSceneCheckOrder(t *testing.T) {
	s := startGodot(t, nil)
	jwt := s.Info().Token
	tests := []struct {
		name        string
		faults      string
		token       string
		contentType string
		body        string
		wantCode    int
		wantBody    string
	}{
		{"401 first", "", "", "text/plain", "x", 401, `"error":"Unauthorized"`},
		{"413 before the body is looked at", "", jwt, "text/plain", strings.Repeat("x", maxBodyBytes+1), 413, `{"error":"Payload Too Large","max_size_bytes":1048576,"message":"Request body exceeds maximum size"}`},
		{"400 content type with charset", "", jwt, "application/json; charset=utf-8", `{"scene_path":"res://vr_main.tscn"}`, 400, `{"error":"Bad Request","message":"Invalid JSON body or missing Content-Type: application/json"}`},
		{"400 no content type", "", jwt, "", `{"scene_path":"res://vr_main.tscn"}`, 400, `Bad Request`},
		{"400 empty object", "", jwt, "application/json", `{}`, 400, `Bad Request`},
		{"400 not JSON", "", jwt, "application/json", `{"scene_path":`, 400, `Bad Request`},
		{"403 says development", "", jwt, "application/json", `{"scene_path":"res://tests/debug.tscn"}`, 403, `{"error":"Forbidden","message":"Scene not in whitelist for environment: development"}`},
		{"403 blacklist", "", jwt, "application/json", `{"scene_path":"res://addons/gdUnit4/x.tscn"}`, 403, `Scene is in blacklist`},
		{"404 through a broken whitelist", `{"whitelist_disabled":true}`, jwt, "application/json", `{"scene_path":"res://tests/missing.tscn"}`, 404, `{"error":"Not Found","message":"Scene file not found: res://tests/missing.tscn"}`},
		{"200", "", jwt, "application/json", `{"scene_path":"res://vr_main.tscn"}`, 200, `{"message":"Scene load initiated successfully","scene":"res://vr_main.tscn","status":"loading"}`},
		{"a missing scene_path means the main scene", "", jwt, "application/json", `{"other":1}`, 200, `"scene":"res://vr_main.tscn"`},
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
			r := request(t, "POST", "http://"+s.Info().API+"/scene", tt.token, tt.contentType, tt.body)
			if r.code != tt.wantCode || !strings.Contains(r.body, tt.wantBody) {
				t.Fatalf("POST /scene = %d %s, want %d containing %s", r.code, r.body, tt.wantCode, tt.wantBody)
			}
		})
	}
	if h := get(t, s, "/scene/history", jwt).json(t); fmt.Sprint(h["count"]) != "0" {
		t.Errorf("godot history = %v, want always empty", h)
	}
}

func TestGodotConnectionClose(t *testing.T) {
	s := startGodot(t, nil)
	conn, err := net.Dial("tcp", s.Info().API)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Two pipelined requests: a server that closes after each answer
	// answers only the first.
	if _, err := fmt.Fprint(conn, "GET /status HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("a second response arrived on the same connection, want Connection: close")
	}
}

func TestGodotHTTP10IsNotRecognised(t *testing.T) {
	s := startGodot(t, nil)
	conn, err := net.Dial("tcp", s.Info().API)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, "GET /status HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("HTTP/1.0 GET /status = %d, want 404", resp.StatusCode)
	}
}

func TestGodotJWTExpiry(t *testing.T) {
	tests := []struct {
		name   string
		expire func(*testing.T, *Sim, *testkit.Clock)
	}{
		{"TTL elapsed", func(t *testing.T, s *Sim, c *testkit.Clock) { c.Advance(DefaultTokenTTL + time.Second) }},
		{"token_expired fault", func(t *testing.T, s *Sim, c *testkit.Clock) {
			if err := s.PatchFaults([]byte(`{"token_expired":true}`)); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testkit.NewClock(t)
			s := startGodot(t, clock)
			jwt := s.Info().Token
			if r := get(t, s, "/scene", jwt); r.code != 200 {
				t.Fatalf("fresh JWT: GET /scene = %d", r.code)
			}
			tt.expire(t, s, clock)
			if r := get(t, s, "/scene", jwt); r.code != 401 {
				t.Fatalf("expired JWT: GET /scene = %d, want 401", r.code)
			}
			if got := get(t, s, "/status", "").json(t)["jwt_token"]; got != jwt {
				t.Fatal("/status stopped handing out the expired token; the shipped server never renews it")
			}

			s.Restart("")
			fresh := get(t, s, "/status", "").json(t)["jwt_token"].(string)
			if fresh == jwt || s.Info().Token != fresh {
				t.Fatal("a restart did not issue a new JWT")
			}
			if r := get(t, s, "/scene", fresh); r.code != 200 {
				t.Errorf("new JWT after restart: GET /scene = %d, want 200", r.code)
			}
			if r := get(t, s, "/scene", jwt); r.code != 401 {
				t.Errorf("old JWT after restart: GET /scene = %d, want 401 (new secret)", r.code)
			}
		})
	}
}

func TestGodotPerformanceToken(t *testing.T) {
	s := startGodot(t, nil)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s.Info().PerformanceToken) {
		t.Fatalf("performance token %q is not 64 hex characters", s.Info().PerformanceToken)
	}
	const given = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	s2 := startTestSim(t, Options{Profile: ProfileGodot, PerformanceToken: given})
	if r := get(t, s2, "/performance", given); r.code != 200 {
		t.Errorf("GET /performance with --performance-token = %d, want 200", r.code)
	}
	if r := get(t, s2, "/performance", s2.Info().Token); r.code != 401 {
		t.Errorf("GET /performance with the JWT = %d, want 401", r.code)
	}
	if err := s2.PatchFaults([]byte(`{"auth_disabled":true}`)); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s2, "/performance", ""); r.code != 200 {
		t.Errorf("GET /performance with auth_disabled = %d, want 200", r.code)
	}
}

func TestGodotReloadWithoutScene(t *testing.T) {
	s := startGodot(t, nil)
	if err := s.PatchFaults([]byte(`{"scene":""}`)); err != nil {
		t.Fatal(err)
	}
	r := request(t, "POST", "http://"+s.Info().API+"/scene/reload", s.Info().Token, "", "")
	if r.code != 404 || r.body != `{"error":"Not Found","message":"No scene currently loaded"}` {
		t.Fatalf("POST /scene/reload = %d %s", r.code, r.body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(get(t, s, "/scene", s.Info().Token).body), &m); err != nil || m["status"] != "no_scene" {
		t.Fatalf("GET /scene = %v (%v), want no_scene", m, err)
	}
}
