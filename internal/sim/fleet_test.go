package sim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

func startTestFleet(t *testing.T, n int, instance Options) *Fleet {
	t.Helper()
	f, err := StartFleet(context.Background(), FleetOptions{Instances: n, Instance: instance, ControlAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("StartFleet: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// fleetControl sends one request to the fleet's control API.
func fleetControl(t *testing.T, f *Fleet, method, path, body string) apiResponse {
	t.Helper()
	return request(t, method, "http://"+f.Infos()[0].Control+path, "", "application/json", body)
}

// TestFleet: N instances in one process, each with its own listeners and
// its own faults, one control API that reaches one instance or all.
func TestFleet(t *testing.T) {
	f := startTestFleet(t, 3, Options{})
	infos := f.Infos()
	if len(infos) != 3 || infos[0].Name != "sim-0001" || infos[2].Name != "sim-0003" {
		t.Fatalf("infos = %+v", infos)
	}
	seen := map[string]bool{}
	for _, info := range infos {
		for _, addr := range []string{info.API, info.Telemetry} {
			if seen[addr] || !strings.HasPrefix(addr, "127.0.0.1:") {
				t.Errorf("address %s shared or not loopback", addr)
			}
			seen[addr] = true
		}
		if r := request(t, "GET", "http://"+info.API+"/status", info.Token, "", ""); r.code != 200 {
			t.Errorf("%s: GET /status = %d %s", info.Name, r.code, r.body)
		}
		if info.Token != infos[0].Token {
			t.Errorf("%s: its token differs from sim-0001's: the fleet shares one", info.Name)
		}
	}
	fps := func(name string) float64 { s, _ := f.Sim(name); return s.Faults().FPS }

	if r := fleetControl(t, f, "POST", "/faults?instance=sim-0002", `{"fps": 40}`); r.code != 200 {
		t.Fatalf("POST one: %d %s", r.code, r.body)
	}
	if fps("sim-0001") != 90 || fps("sim-0002") != 40 || fps("sim-0003") != 90 {
		t.Errorf("fps after a fault on sim-0002 = %v %v %v, want 90 40 90", fps("sim-0001"), fps("sim-0002"), fps("sim-0003"))
	}
	if r := fleetControl(t, f, "POST", "/faults?instance=all", `{"fps": 30}`); r.code != 200 || !strings.Contains(r.body, `"instances":3`) {
		t.Fatalf("POST all: %d %s", r.code, r.body)
	}
	for _, name := range f.Names() {
		if fps(name) != 30 {
			t.Errorf("%s: fps %v after a fault for all, want 30", name, fps(name))
		}
	}
	if r := fleetControl(t, f, "POST", "/faults?instance=all", `{"fps": 20, "bogus": 1}`); r.code != 400 || !strings.Contains(r.body, "bogus") {
		t.Errorf("POST all with a bad field: %d %s, want 400 naming it", r.code, r.body)
	}
	if fps("sim-0001") != 30 {
		t.Error("a refused patch for all changed sim-0001")
	}
	if r := fleetControl(t, f, "POST", "/faults", `{"fps": 20}`); r.code != 400 || !strings.Contains(r.body, "?instance=NAME") {
		t.Errorf("POST without instance: %d %s, want 400 saying how", r.code, r.body)
	}
	if r := fleetControl(t, f, "GET", "/faults?instance=sim-9", ""); r.code != 404 || !strings.Contains(r.body, "sim-0001 … sim-0003") {
		t.Errorf("an unknown instance: %d %s, want 404 with the names", r.code, r.body)
	}
	if r := fleetControl(t, f, "GET", "/info", ""); r.code != 200 || strings.Count(r.body, `"name"`) != 3 {
		t.Errorf("GET /info: %d %s, want the three instances", r.code, r.body)
	}
}

// TestFleetTargetFile: the target file the fleet writes is one
// target_files reads, watching every instance with the shared token.
func TestFleetTargetFile(t *testing.T) {
	for _, profile := range []Profile{ProfileChecklist, ProfileGodot} {
		t.Run(string(profile), func(t *testing.T) {
			f := startTestFleet(t, 3, Options{Profile: profile})
			path := filepath.Join(t.TempDir(), "fleet.yaml")
			if err := f.WriteTargetFile(path); err != nil {
				t.Fatal(err)
			}
			tf, err := config.LoadTargetFile(path, config.Default().Defaults, nil)
			if err != nil {
				t.Fatalf("the fleet's target file does not load: %v", err)
			}
			if len(tf.Targets) != 3 {
				t.Fatalf("%d targets, want 3", len(tf.Targets))
			}
			for i, info := range f.Infos() {
				tg := tf.Targets[i]
				if tg.Name != info.Name || tg.APIURL.Host != info.API || tg.TelemetryURLs[0].Host != info.Telemetry {
					t.Errorf("target %d = %s %s %s, want %s %s %s", i, tg.Name, tg.APIURL.Host, tg.TelemetryURLs[0].Host, info.Name, info.API, info.Telemetry)
				}
			}
			ref, token := tf.Targets[0].APIToken(), f.Infos()[0].Token
			if profile == ProfileGodot {
				ref, token = tf.Targets[0].PerformanceToken(), f.Infos()[0].PerformanceToken
			}
			if ref.File != path+".token" {
				t.Errorf("token file %q, want %q", ref.File, path+".token")
			}
			if b, err := os.ReadFile(path + ".token"); err != nil || strings.TrimSpace(string(b)) != token {
				t.Errorf("the token file holds %q (%v), not the fleet's token", b, err)
			}
		})
	}
}
