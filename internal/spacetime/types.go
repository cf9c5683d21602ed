package spacetime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Every number is a float64: Godot's JSON.stringify writes counts as floats
// ("412.0"), and a strict int field would fail the whole decode. Fields that
// an instance may leave out are pointers, so "not reported" differs from 0.

// Health is GET /health. The shipped server has no such endpoint (the call
// then fails with ErrEndpointAbsent); the checklist contract answers
// {"status":"ok"}, and the unwired health_check.gd would add "healthy".
type Health struct {
	// Status is "ok" (checklist) or "healthy"/"degraded"/"unhealthy"/"unknown".
	Status string `json:"status"`
	// Healthy is health_check.gd's boolean, when present.
	Healthy *bool `json:"healthy,omitempty"`
	// Issues lists health_check.gd's problems, when present.
	Issues []string `json:"issues,omitempty"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// OK reports whether the body says healthy: status "ok" or "healthy", and
// healthy not false.
func (h *Health) OK() bool {
	s := strings.ToLower(h.Status)
	return (s == "ok" || s == "healthy") && (h.Healthy == nil || *h.Healthy)
}

// Status is GET /status (no auth). Both the shipped shape (jwt_token,
// autoloads, no counters, environment always "development") and the
// checklist shape (version, uptime and counters) decode into it.
type Status struct {
	// Status is "healthy" on the shipped server, a constant.
	Status string `json:"status"`
	// HTTPAPI is "active" when HttpApiServer answers.
	HTTPAPI string `json:"http_api"`
	// Environment is hard-coded to "development" on the shipped server,
	// whatever GODOT_ENV says (docs/instance.md, "Quirks of the
	// shipped server" item 8).
	Environment string `json:"environment"`
	// APIVersion is the API version ("1.0.0").
	APIVersion string `json:"api_version"`
	// Version is the application version (checklist contract only).
	Version string `json:"version,omitempty"`
	// CurrentScene is the loaded scene (checklist contract); Scene is the
	// RUNBOOK's name for the same thing.
	CurrentScene string `json:"current_scene,omitempty"`
	Scene        string `json:"scene,omitempty"`
	// Telemetry is the RUNBOOK's telemetry state, when present.
	Telemetry string `json:"telemetry,omitempty"`
	// JWTToken is the API token the shipped server hands out, expired or
	// not; empty on older builds and on the checklist contract.
	JWTToken Secret `json:"jwt_token,omitempty"`
	// VRInitialized is always false on the shipped server.
	VRInitialized *bool `json:"vr_initialized,omitempty"`
	// VRMode is 1 (VR) or 2 (desktop), effectively never present.
	VRMode *float64 `json:"vr_mode,omitempty"`
	// Autoloads maps autoload names to "loaded" or "missing" (always
	// "missing" on the shipped server).
	Autoloads map[string]string `json:"autoloads,omitempty"`

	// The counters below are reported by the checklist contract only; nil
	// means "not reported", which the shipped server never does.
	UptimeSeconds            *float64 `json:"uptime_seconds,omitempty"`
	RequestsTotal            *float64 `json:"requests_total,omitempty"`
	ErrorsTotal              *float64 `json:"errors_total,omitempty"`
	RestartsTotal            *float64 `json:"restarts_total,omitempty"`
	AuthFailuresTotal        *float64 `json:"auth_failures_total,omitempty"`
	RateLimitViolationsTotal *float64 `json:"rate_limit_violations_total,omitempty"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// Active reports the liveness rule (docs/instance.md, "Liveness"): http_api is "active".
func (s *Status) Active() bool { return s.HTTPAPI == "active" }

// LegacyBridgeError is ErrLegacyBridge with what the bridge said.
type LegacyBridgeError struct {
	// Endpoint is the path that answered in the legacy shape.
	Endpoint string
	// OverallReady is the bridge's overall_ready, when present.
	OverallReady *bool
}

// Error names the endpoint and what the fingerprint means.
func (e *LegacyBridgeError) Error() string {
	return fmt.Sprintf("GET %s: %v (debug_adapter/language_server/overall_ready shape): HttpApiServer did not start", e.Endpoint, ErrLegacyBridge)
}

// Is makes errors.Is(err, ErrLegacyBridge) hold.
func (e *LegacyBridgeError) Is(target error) bool { return target == ErrLegacyBridge }

// legacyStatus is the fingerprint of the deprecated GodotBridge's /status.
type legacyStatus struct {
	HTTPAPI        *string          `json:"http_api"`
	DebugAdapter   *json.RawMessage `json:"debug_adapter"`
	LanguageServer *json.RawMessage `json:"language_server"`
	OverallReady   *bool            `json:"overall_ready"`
}

func (l legacyStatus) isLegacy() bool {
	return l.HTTPAPI == nil && (l.DebugAdapter != nil || l.LanguageServer != nil || l.OverallReady != nil)
}

// Percent is a percentage (0–100) that decodes from a number or from a
// string such as "85.42" (Godot formats hit rates as strings) or "85.42%".
type Percent float64

// UnmarshalJSON accepts 91.76, "91.76" and "91.76%". A type error is a
// *json.UnmarshalTypeError, so that the decoder names the field.
func (p *Percent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var f float64
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s), Type: reflect.TypeFor[Percent]()}
		}
		f = v
	} else if err := json.Unmarshal(b, &f); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Percent]()}
	}
	*p = Percent(f)
	return nil
}

// Ratio returns the percentage as a 0–1 ratio (91.76 → 0.9176).
func (p Percent) Ratio() float64 { return float64(p) / 100 }

// Performance is GET /performance (separate token on the shipped server).
// Every leaf is a pointer: Missing names the ones the instance left out.
type Performance struct {
	// Timestamp is Unix seconds, as a float.
	Timestamp *float64            `json:"timestamp"`
	Engine    PerformanceEngine   `json:"engine"`
	Memory    PerformanceMemory   `json:"memory"`
	Cache     PerformanceCache    `json:"cache"`
	Security  PerformanceSecurity `json:"security"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// PerformanceEngine is the engine section; *_in_use are counts.
type PerformanceEngine struct {
	// FPS is frames per second.
	FPS *float64 `json:"fps"`
	// ProcessTime and PhysicsProcessTime are seconds per frame.
	ProcessTime        *float64 `json:"process_time"`
	PhysicsProcessTime *float64 `json:"physics_process_time"`
	ObjectsInUse       *float64 `json:"objects_in_use"`
	ResourcesInUse     *float64 `json:"resources_in_use"`
	NodesInUse         *float64 `json:"nodes_in_use"`
}

// PerformanceMemory is the memory section, in bytes.
type PerformanceMemory struct {
	StaticMemoryUsage *float64 `json:"static_memory_usage"`
	StaticMemoryMax   *float64 `json:"static_memory_max"`
	// DynamicMemoryUsage is misnamed by the server: it is the message-queue
	// buffer high-water mark (MEMORY_MESSAGE_BUFFER_MAX), not heap use.
	DynamicMemoryUsage *float64 `json:"dynamic_memory_usage"`
}

// PerformanceCache is the cache section.
type PerformanceCache struct {
	L1 struct {
		Hits           *float64 `json:"hits"`
		Misses         *float64 `json:"misses"`
		HitRatePercent *Percent `json:"hit_rate_percent"`
		Size           *float64 `json:"size"`
		MaxSize        *float64 `json:"max_size"`
		Bytes          *float64 `json:"bytes"`
		MaxBytes       *float64 `json:"max_bytes"`
		Evictions      *float64 `json:"evictions"`
	} `json:"l1_cache"`
	Operations struct {
		TotalGets          *float64 `json:"total_gets"`
		TotalSets          *float64 `json:"total_sets"`
		TotalInvalidations *float64 `json:"total_invalidations"`
	} `json:"operations"`
}

// PerformanceSecurity holds the optimized security module's cache
// statistics. The shipped server reports no failure or violation counts;
// the documented contract adds the two counters (nil when not reported).
type PerformanceSecurity struct {
	Auth                CacheStats `json:"auth"`
	Whitelist           CacheStats `json:"whitelist"`
	AuthFailures        *float64   `json:"auth_failures,omitempty"`
	RateLimitViolations *float64   `json:"rate_limit_violations,omitempty"`
}

// CacheStats is one security-module cache section.
type CacheStats struct {
	TotalChecks    *float64 `json:"total_checks"`
	CacheHits      *float64 `json:"cache_hits"`
	HitRatePercent *Percent `json:"hit_rate_percent"`
}

// CacheHitRatio returns the L1 cache hit rate as a 0–1 ratio.
func (p *Performance) CacheHitRatio() (float64, bool) {
	if p.Cache.L1.HitRatePercent == nil {
		return 0, false
	}
	return p.Cache.L1.HitRatePercent.Ratio(), true
}

// Missing lists, by JSON path, the metrics a monitor relies on that the
// instance did not report (empty when complete).
func (p *Performance) Missing() []string {
	var missing []string
	for _, m := range []struct {
		name    string
		present bool
	}{
		{"engine.fps", p.Engine.FPS != nil},
		{"engine.process_time", p.Engine.ProcessTime != nil},
		{"engine.physics_process_time", p.Engine.PhysicsProcessTime != nil},
		{"engine.objects_in_use", p.Engine.ObjectsInUse != nil},
		{"engine.resources_in_use", p.Engine.ResourcesInUse != nil},
		{"engine.nodes_in_use", p.Engine.NodesInUse != nil},
		{"memory.static_memory_usage", p.Memory.StaticMemoryUsage != nil},
		{"memory.static_memory_max", p.Memory.StaticMemoryMax != nil},
		{"memory.dynamic_memory_usage", p.Memory.DynamicMemoryUsage != nil},
		{"cache.l1_cache.hit_rate_percent", p.Cache.L1.HitRatePercent != nil},
	} {
		if !m.present {
			missing = append(missing, m.name)
		}
	}
	return missing
}

// Complete reports whether Missing is empty.
func (p *Performance) Complete() bool { return len(p.Missing()) == 0 }

// Scene is GET /scene. SceneName and ScenePath are null when nothing is loaded.
type Scene struct {
	SceneName *string `json:"scene_name"`
	ScenePath *string `json:"scene_path"`
	// Status is "loaded" or "no_scene".
	Status string `json:"status"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// Loaded reports whether a scene is loaded.
func (s *Scene) Loaded() bool { return s.ScenePath != nil && *s.ScenePath != "" }

// Path returns the scene path, or "" when nothing is loaded.
func (s *Scene) Path() string {
	if s.ScenePath == nil {
		return ""
	}
	return *s.ScenePath
}

// SceneHistory is GET /scene/history (most recent first; very likely
// always empty on the shipped server, which never records loads).
type SceneHistory struct {
	History []SceneLoad `json:"history"`
	Count   float64     `json:"count"`
	MaxSize float64     `json:"max_size"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// SceneLoad is one history entry.
type SceneLoad struct {
	ScenePath string `json:"scene_path"`
	SceneName string `json:"scene_name"`
	// LoadedAt is as sent: local time without a zone on the shipped server,
	// RFC 3339 elsewhere. See LoadedAtTime.
	LoadedAt       string   `json:"loaded_at"`
	LoadDurationMS *float64 `json:"load_duration_ms,omitempty"`
}

// LoadedAtTime parses LoadedAt: RFC 3339 if it has a zone, otherwise a local
// time read in loc (the instance's zone; time.Local when nil).
func (l SceneLoad) LoadedAtTime(loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, l.LoadedAt); err == nil {
		return t, nil
	}
	if loc == nil {
		loc = time.Local
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", l.LoadedAt, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("scene history loaded_at %q: want RFC 3339 or YYYY-MM-DDTHH:MM:SS", l.LoadedAt)
	}
	return t, nil
}

// Scenes is GET /scenes.
type Scenes struct {
	Scenes        []SceneFile `json:"scenes"`
	Count         float64     `json:"count"`
	Directory     string      `json:"directory"`
	IncludeAddons bool        `json:"include_addons"`

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// SceneFile is one .tscn file.
type SceneFile struct {
	Name      string  `json:"name"`
	Path      string  `json:"path"`
	SizeBytes float64 `json:"size_bytes"`
	// Modified is ISO 8601 with a Z suffix.
	Modified string `json:"modified"`
}

// ScenesQuery narrows GET /scenes. The zero value lists res:// without addons.
type ScenesQuery struct {
	// Dir must start with res:// (default res://). It is sent as is: the
	// server does not URL-decode, so it must not contain '&', '=', '#', '?'
	// or spaces.
	Dir string
	// IncludeAddons also lists res://addons/.
	IncludeAddons bool
}

// WhitelistProbe is the answer to POST /scene with a path that is neither
// whitelisted nor present, so that nothing is ever loaded.
type WhitelistProbe struct {
	// Path is the scene path that was sent.
	Path string
	// Code is the HTTP status: 403 means the whitelist refused the path (as
	// it must); 404 means it passed the whitelist and was not found (the
	// whitelist is off); 200 means the server accepted a load of a file
	// that does not exist.
	Code int
	// Error and Message are the body's fields ("Forbidden", "Scene not in
	// whitelist for environment: development").
	Error, Message string

	// Meta describes the HTTP exchange (duration, code, Server header).
	Meta Meta `json:"-"`
}

// Enforced reports whether the whitelist refused the probe (HTTP 403).
func (w *WhitelistProbe) Enforced() bool { return w.Code == 403 }

// errorBody is the {error, message, ...} body of the server's error answers.
type errorBody struct {
	Error             string   `json:"error"`
	Message           string   `json:"message"`
	StatusCode        *float64 `json:"status_code"`
	RetryAfterSeconds *float64 `json:"retry_after_seconds"`
}
