package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestControlFaults(t *testing.T) {
	s := startTestSim(t, Options{})

	t.Run("GET lists every field", func(t *testing.T) {
		m := control(t, s, "GET", "/faults", "").json(t)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, faultFieldNames()) {
			t.Fatalf("GET /faults fields = %v, want %v", keys, faultFieldNames())
		}
		if fmt.Sprint(m["fps"]) != "90" || fmt.Sprint(m["memory_mb"]) != "300" || m["vr_mode"] != "vr" {
			t.Errorf("defaults = %v", m)
		}
	})

	tests := []struct {
		name     string
		body     string
		wantCode int
		wantErr  string // a substring of {"error": ...}
	}{
		{"unknown field", `{"bogus":1}`, 400, `bogus`},
		{"wrong type", `{"fps":"fast"}`, 400, `fps`},
		{"impossible value", `{"api_error_rate":2}`, 400, `api_error_rate`},
		{"bad enum", `{"vr_mode":"headless"}`, 400, `vr_mode`},
		{"not an object", `[1]`, 400, `JSON object`},
		{"valid", `{"fps":60,"scene":""}`, 200, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := control(t, s, "POST", "/faults", tt.body)
			if r.code != tt.wantCode {
				t.Fatalf("POST /faults %s = %d %s, want %d", tt.body, r.code, r.body, tt.wantCode)
			}
			if tt.wantErr != "" {
				msg, _ := r.json(t)["error"].(string)
				if !strings.Contains(msg, tt.wantErr) {
					t.Fatalf("error %q does not name %q", msg, tt.wantErr)
				}
			}
		})
	}
	if f := s.Faults(); f.FPS != 60 || f.Scene != "" || f.APIErrorRate != 0 {
		t.Errorf("faults after the patches = %+v, want only the valid patch applied", f)
	}
}

func TestControlRestart(t *testing.T) {
	clock := testkit.NewClock(t)
	s := startTestSim(t, Options{Now: clock.Now, AppVersion: "1.2.3"})
	tok := s.Info().Token
	get(t, s, "/scene", "") // an auth failure
	request(t, "POST", "http://"+s.Info().API+"/scene", tok, "application/json", `{"scene_path":"res://vr_main.tscn"}`)
	if err := s.PatchFaults([]byte(`{"token_expired":true}`)); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s, "/scene", tok); r.code != 401 {
		t.Fatalf("token_expired: GET /scene = %d, want 401", r.code)
	}
	clock.Advance(10 * time.Minute)

	tests := []struct {
		name        string
		body        string
		wantCode    int
		wantVersion string
		wantRestart string
	}{
		{"unknown field", `{"versoin":"2"}`, 400, "", ""},
		{"new version", `{"version":"1.2.4"}`, 200, "1.2.4", "1"},
		{"no body keeps the version", ``, 200, "1.2.4", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := control(t, s, "POST", "/restart", tt.body)
			if r.code != tt.wantCode {
				t.Fatalf("POST /restart %s = %d %s", tt.body, r.code, r.body)
			}
			if tt.wantCode != 200 {
				return
			}
			st := get(t, s, "/status", "").json(t)
			want := map[string]string{
				"version":                     tt.wantVersion,
				"restarts_total":              tt.wantRestart,
				"uptime_seconds":              "0",
				"requests_total":              "1", // a new process: only this request
				"auth_failures_total":         "0",
				"rate_limit_violations_total": "0",
			}
			for k, v := range want {
				if got := fmt.Sprint(st[k]); got != v {
					t.Errorf("after restart %s = %s, want %s", k, got, v)
				}
			}
		})
	}
	if s.Faults().TokenExpired {
		t.Error("restart left token_expired on; a new process has a new token")
	}
	if r := get(t, s, "/scene/history", tok); !strings.Contains(r.body, `"count":0`) {
		t.Errorf("history survived the restart: %s", r.body)
	}
	if got := s.Faults().Scene; got != DefaultScene {
		t.Errorf("scene after restart = %q; fault settings must stay", got)
	}
}

func TestControlEvents(t *testing.T) {
	s := startTestSim(t, Options{})
	events, unsubscribe := s.events.subscribe()
	defer unsubscribe()
	tests := []struct {
		name     string
		body     string
		wantCode int
		wantErr  string
	}{
		{"name required", `{"type":"event","data":{"message":"x"}}`, 400, `the event name`},
		{"unknown field", `{"event":"error","colour":"red"}`, 400, `colour`},
		{"not JSON", `error`, 400, `events`},
		{"emitted", `{"type":"event","event":"error","data":{"message":"Scene load failed"}}`, 202, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := control(t, s, "POST", "/events", tt.body)
			if r.code != tt.wantCode || !strings.Contains(r.body, tt.wantErr) {
				t.Fatalf("POST /events = %d %s, want %d naming %s", r.code, r.body, tt.wantCode, tt.wantErr)
			}
		})
	}
	select {
	case ev := <-events:
		if ev.Type != "event" || ev.Name != "error" || ev.Data["message"] != "Scene load failed" {
			t.Fatalf("published %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event published")
	}
	select {
	case ev := <-events:
		t.Fatalf("a refused request published %+v", ev)
	default:
	}
}

func TestControlInfo(t *testing.T) {
	s := startTestSim(t, Options{Profile: ProfileGodot})
	var info Info
	if err := json.Unmarshal([]byte(control(t, s, "GET", "/info", "").body), &info); err != nil {
		t.Fatal(err)
	}
	if info != s.Info() {
		t.Fatalf("GET /info = %+v, want %+v", info, s.Info())
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"token in godot", Options{Profile: ProfileGodot, Token: "static-token-0123456789"}, "godot profile"},
		{"short performance token", Options{Profile: ProfileGodot, PerformanceToken: "abc"}, "64 hex"},
		{"performance token in checklist", Options{PerformanceToken: strings.Repeat("a", 64)}, "godot profile only"},
		{"unknown profile", Options{Profile: "unity"}, `unknown profile "unity"`},
		{"bad initial faults", Options{Faults: &Faults{VRMode: "x"}}, "vr_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.APIAddress, tt.opts.TelemetryAddress, tt.opts.ControlAddress = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
			s, err := Start(t.Context(), tt.opts)
			if err == nil {
				s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
