package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Faults is the full set of knobs that break (or shape) a simulated instance.
// Its JSON form is what GET /faults returns and POST /faults patches.
type Faults struct {
	// APIDown closes the HTTP API listener: connections are refused until cleared.
	APIDown bool `json:"api_down"`
	// APILatencyMS delays every API response by this many milliseconds.
	APILatencyMS float64 `json:"api_latency_ms"`
	// APIErrorRate is the share (0–1) of API requests answered with a 500.
	APIErrorRate float64 `json:"api_error_rate"`
	// FPS is the mean frame rate the telemetry stream and /performance report.
	FPS float64 `json:"fps"`
	// FPSJitter is the amplitude of the uniform noise added to FPS.
	FPSJitter float64 `json:"fps_jitter"`
	// MemoryMB is the current memory use in MiB (it grows from here when
	// MemoryGrowthMBPerMin is set).
	MemoryMB float64 `json:"memory_mb"`
	// MemoryGrowthMBPerMin makes memory grow linearly, in MiB per minute.
	MemoryGrowthMBPerMin float64 `json:"memory_growth_mb_per_min"`
	// AuthDisabled lets unauthenticated requests through (a broken auth check).
	AuthDisabled bool `json:"auth_disabled"`
	// RateLimitDisabled turns every rate-limit bucket off.
	RateLimitDisabled bool `json:"rate_limit_disabled"`
	// WhitelistDisabled lets POST /scene through for any path (a broken whitelist).
	WhitelistDisabled bool `json:"whitelist_disabled"`
	// Environment is what /status reports (checklist profile; the godot
	// profile always says "development", as the shipped server does).
	Environment string `json:"environment"`
	// Scene is the currently loaded scene; empty means nothing is loaded.
	Scene string `json:"scene"`
	// VRMode is "vr" (a vr_initialized event at start) or "desktop_fallback"
	// (a warning event announcing the fallback).
	VRMode string `json:"vr_mode"`
	// TelemetryDown closes the telemetry listener: connections are refused.
	TelemetryDown bool `json:"telemetry_down"`
	// TelemetrySilent keeps connections open but sends nothing and answers no ping.
	TelemetrySilent bool `json:"telemetry_silent"`
	// TelemetryGarbage mixes malformed frames into the stream.
	TelemetryGarbage bool `json:"telemetry_garbage"`
	// TelemetryEncoding is "json" (text frames), "binary" (0x01 FPS packets)
	// or "gzip" (0x02 gzip-compressed JSON frames).
	TelemetryEncoding string `json:"telemetry_encoding"`
	// TelemetryTimestamp is the unit of frame timestamps: "s", "ms" or "rfc3339".
	TelemetryTimestamp string `json:"telemetry_timestamp"`
	// TokenExpired makes the current API token count as expired (401s until
	// a restart issues a new one).
	TokenExpired bool `json:"token_expired"`
}

// DefaultFaults is a healthy instance: 90 FPS with jitter 1, 300 MiB of
// memory that does not grow, the production scene loaded, VR initialised.
func DefaultFaults(environment string) Faults {
	return Faults{
		FPS:                90,
		FPSJitter:          1,
		MemoryMB:           300,
		Environment:        environment,
		Scene:              DefaultScene,
		VRMode:             VRModeVR,
		TelemetryEncoding:  EncodingJSON,
		TelemetryTimestamp: TimestampSeconds,
	}
}

// Values accepted by the enumerated fault fields.
const (
	DefaultScene = "res://vr_main.tscn"

	VRModeVR              = "vr"
	VRModeDesktopFallback = "desktop_fallback"

	EncodingJSON   = "json"
	EncodingBinary = "binary"
	EncodingGzip   = "gzip"

	TimestampSeconds = "s"
	TimestampMillis  = "ms"
	TimestampRFC3339 = "rfc3339"
)

// validate checks values that the JSON types alone cannot rule out.
func (f Faults) validate() error {
	var errs []error
	nonNeg := func(name string, v float64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("fault field %q: must be >= 0, got %v", name, v))
		}
	}
	nonNeg("api_latency_ms", f.APILatencyMS)
	nonNeg("fps", f.FPS)
	nonNeg("fps_jitter", f.FPSJitter)
	nonNeg("memory_mb", f.MemoryMB)
	if f.APIErrorRate < 0 || f.APIErrorRate > 1 {
		errs = append(errs, fmt.Errorf("fault field %q: must be between 0 and 1, got %v", "api_error_rate", f.APIErrorRate))
	}
	oneOf := func(name, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		errs = append(errs, fmt.Errorf("fault field %q: must be one of %s, got %q", name, strings.Join(allowed, ", "), v))
	}
	oneOf("vr_mode", f.VRMode, VRModeVR, VRModeDesktopFallback)
	oneOf("telemetry_encoding", f.TelemetryEncoding, EncodingJSON, EncodingBinary, EncodingGzip)
	oneOf("telemetry_timestamp", f.TelemetryTimestamp, TimestampSeconds, TimestampMillis, TimestampRFC3339)
	return errors.Join(errs...)
}

// faultFieldNames lists the JSON names of every fault field, sorted.
func faultFieldNames() []string {
	var m map[string]json.RawMessage
	b, _ := json.Marshal(Faults{})
	_ = json.Unmarshal(b, &m)
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// FaultState holds the live fault settings of one simulated instance. It is
// safe for concurrent use.
type FaultState struct {
	mu  sync.RWMutex
	f   Faults
	now func() time.Time
	// memoryAnchor is when f.MemoryMB was last true; growth is measured from it.
	memoryAnchor time.Time
	// changed is closed and replaced on every change, so that watchers
	// (the telemetry server, the API listener) react at once.
	changed chan struct{}
}

// NewFaultState starts from initial, with now as the clock for memory growth.
func NewFaultState(initial Faults, now func() time.Time) *FaultState {
	if now == nil {
		now = time.Now
	}
	return &FaultState{f: initial, now: now, memoryAnchor: now(), changed: make(chan struct{})}
}

// Get returns the current settings, with MemoryMB advanced by any growth.
func (s *FaultState) Get() Faults {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.f
	f.MemoryMB = s.memoryLocked(s.now())
	return f
}

// Changed returns a channel that is closed at the next change.
func (s *FaultState) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

func (s *FaultState) memoryLocked(now time.Time) float64 {
	minutes := now.Sub(s.memoryAnchor).Minutes()
	if minutes < 0 {
		minutes = 0
	}
	return s.f.MemoryMB + s.f.MemoryGrowthMBPerMin*minutes
}

// Patch applies a JSON object of fault fields. Unknown fields, wrong types
// and impossible values are refused with an error naming the field; on
// error nothing changes.
func (s *FaultState) Patch(raw []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("faults: body must be a JSON object of fault fields: %v", err)
	}
	known := map[string]bool{}
	for _, n := range faultFieldNames() {
		known[n] = true
	}
	var unknown []string
	for k := range keys {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown fault field %q; known fields: %s", strings.Join(unknown, `", "`), strings.Join(faultFieldNames(), ", "))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	next := s.f
	next.MemoryMB = s.memoryLocked(now)
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&next); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("fault field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Errorf("faults: %v", err)
	}
	if err := next.validate(); err != nil {
		return err
	}
	s.f = next
	s.memoryAnchor = now
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// Set replaces the settings wholesale (used by scenarios and tests).
func (s *FaultState) Set(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	s.memoryAnchor = s.now()
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// Update applies fn to a copy of the current settings (MemoryMB advanced by
// any growth) and stores the result if it validates; on error nothing
// changes. Unlike Get followed by Set, no concurrent change is lost.
func (s *FaultState) Update(fn func(*Faults)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	next := s.f
	next.MemoryMB = s.memoryLocked(now)
	fn(&next)
	if err := next.validate(); err != nil {
		return err
	}
	s.f = next
	s.memoryAnchor = now
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}
