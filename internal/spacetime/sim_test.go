package spacetime_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestSim_TypedCalls runs every typed call against the simulator in both
// profiles: what the daemon's checks rely on, end to end over loopback.
func TestSim_TypedCalls(t *testing.T) {
	for _, profile := range profiles {
		godot := profile == sim.ProfileGodot
		t.Run(string(profile), func(t *testing.T) {
			e := startSim(t, profile)
			c := e.client(t)
			ctx := ctxT(t)

			t.Run("Status", func(t *testing.T) {
				st, err := c.Status(ctx)
				if err != nil {
					t.Fatalf("Status: %v", err)
				}
				if !st.Active() || st.Status != "healthy" || st.APIVersion == "" {
					t.Errorf("Status = %+v; want active and healthy with an api_version", st)
				}
				if (st.JWTToken != "") != godot {
					t.Errorf("jwt_token present = %v in profile %s", st.JWTToken != "", profile)
				}
				if godot && (st.Autoloads["HttpApiServer"] != "missing" || st.VRInitialized == nil || *st.VRInitialized) {
					t.Errorf("godot autoloads %v, vr_initialized %v; want all missing and false", st.Autoloads, st.VRInitialized)
				}
				if !godot && (st.Version == "" || st.CurrentScene != sim.DefaultScene) {
					t.Errorf("checklist version %q, current_scene %q", st.Version, st.CurrentScene)
				}
			})
			t.Run("Health", func(t *testing.T) {
				h, err := c.Health(ctx)
				if godot != errors.Is(err, spacetime.ErrEndpointAbsent) || (!godot && (err != nil || !h.OK())) {
					t.Errorf("Health = %+v, %v in profile %s", h, err, profile)
				}
			})
			t.Run("Performance", func(t *testing.T) {
				p, err := c.Performance(ctx)
				if err != nil {
					t.Fatalf("Performance: %v", err)
				}
				if !p.Complete() {
					t.Errorf("missing %v", p.Missing())
				}
				if fps := *p.Engine.FPS; fps < 85 || fps > 95 {
					t.Errorf("fps %v; want about 90", fps)
				}
				if mem := *p.Memory.StaticMemoryUsage; mem != 300*(1<<20) {
					t.Errorf("static_memory_usage %v bytes; want 300 MiB in bytes", mem)
				}
				if r, ok := p.CacheHitRatio(); !ok || r < 0 || r > 1 {
					t.Errorf("cache hit ratio %v, %v", r, ok)
				}
				if (p.Security.AuthFailures != nil) == godot {
					t.Errorf("security.auth_failures present = %v in profile %s", p.Security.AuthFailures != nil, profile)
				}
			})
			t.Run("Scene", func(t *testing.T) {
				s, err := c.Scene(ctx)
				if err != nil || s.Path() != sim.DefaultScene || *s.SceneName != "VRMain" || s.Status != "loaded" {
					t.Fatalf("Scene = %+v, %v", s, err)
				}
			})
			t.Run("SceneHistory", func(t *testing.T) {
				h, err := c.SceneHistory(ctx)
				if err != nil || h.MaxSize != 10 || int(h.Count) != len(h.History) {
					t.Fatalf("SceneHistory = %+v, %v", h, err)
				}
			})
			t.Run("Scenes", func(t *testing.T) {
				s, err := c.Scenes(ctx, spacetime.ScenesQuery{})
				if err != nil || int(s.Count) != len(s.Scenes) {
					t.Fatalf("Scenes = %+v, %v", s, err)
				}
				if !slices.ContainsFunc(s.Scenes, func(f spacetime.SceneFile) bool { return f.Path == sim.DefaultScene }) {
					t.Errorf("Scenes %+v lacks %s", s.Scenes, sim.DefaultScene)
				}
				if slices.ContainsFunc(s.Scenes, func(f spacetime.SceneFile) bool { return strings.HasPrefix(f.Path, "res://addons/") }) {
					t.Errorf("addons listed without IncludeAddons")
				}
				sub, err := c.Scenes(ctx, spacetime.ScenesQuery{Dir: "res://scenes/"})
				if err != nil || sub.Count != 1 || sub.Directory != "res://scenes/" {
					t.Errorf("Scenes(res://scenes/) = %+v, %v; want the one scene under it", sub, err)
				}
			})
			t.Run("ProbeWhitelist", func(t *testing.T) {
				p, err := c.ProbeWhitelist(ctx, "")
				if err != nil || !p.Enforced() || !strings.Contains(p.Message, "whitelist") {
					t.Fatalf("ProbeWhitelist = %+v, %v; want 403 not in whitelist", p, err)
				}
				e.patch(t, `{"whitelist_disabled":true}`)
				defer e.patch(t, `{"whitelist_disabled":false}`)
				p, err = c.ProbeWhitelist(ctx, "")
				if err != nil || p.Enforced() || p.Code != 404 {
					t.Fatalf("ProbeWhitelist with the whitelist off = %+v, %v; want a JSON 404 (passed, not found)", p, err)
				}
				if s, err := c.Scene(ctx); err != nil || s.Path() != sim.DefaultScene {
					t.Errorf("the probe changed the scene: %+v, %v", s, err)
				}
			})
			t.Run("Get and GetUnauthenticated", func(t *testing.T) {
				raw, err := c.Get(ctx, "/scene/history")
				if err != nil || raw.Code != 200 || len(raw.Body) == 0 {
					t.Errorf("Get /scene/history = %+v, %v", raw, err)
				}
				raw, err = c.GetUnauthenticated(ctx, "/scene/history")
				if err != nil || raw.Code != 401 {
					t.Errorf("GetUnauthenticated /scene/history = %+v, %v; want 401", raw, err)
				}
				e.patch(t, `{"auth_disabled":true}`)
				defer e.patch(t, `{"auth_disabled":false}`)
				raw, err = c.GetUnauthenticated(ctx, "/scene/history")
				if err != nil || raw.Code != 200 {
					t.Errorf("GetUnauthenticated with auth disabled = %+v, %v; want 200", raw, err)
				}
				raw, err = c.Get(ctx, "/no/such/endpoint")
				if err != nil || raw.Code != 404 || !raw.Absent {
					t.Errorf("Get /no/such/endpoint = %+v, %v; want an absent 404", raw, err)
				}
			})
		})
	}
}
