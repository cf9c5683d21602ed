package monitor

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// RuleConfig holds the thresholds of one target's rules, built from the
// target's config (RuleConfigFrom): the defaults live in internal/config,
// and the "Default" in the comments below repeats them. The zero value
// does not validate; nothing here is defaulted. A threshold of 0
// disables its rule (its series and states disappear, and a firing rule
// resolves with the reason "rule disabled by configuration").
type RuleConfig struct {
	// FPSMin: fps_low (warning) fires when smoothed FPS stays below it for
	// FPSFor. Default 85 (docs/instance.md, "Checklist thresholds": stable at 85–95).
	FPSMin float64
	// FPSCriticalMin: fps_critical fires when smoothed FPS stays below it
	// for FPSFor. Default 45. Must be below FPSMin.
	FPSCriticalMin float64
	// FPSMax: fps_high (warning) fires when smoothed FPS stays above it for
	// FPSFor. Default 95. Must be above FPSMin.
	FPSMax float64
	// FPSHysteresis: the FPS rules resolve only once smoothed FPS is at or
	// beyond threshold±FPSHysteresis (87 for fps_low, 93 for fps_high).
	// Default 2.
	FPSHysteresis float64
	// FPSFor: how long an FPS condition must hold before its rule fires.
	// Default 1m.
	FPSFor time.Duration

	// MemoryMaxMB: memory_high fires when smoothed memory (MiB) stays above
	// it for MemoryFor; memory_growth projects the time left until it.
	// Default 400.
	MemoryMaxMB float64
	// MemoryHysteresisMB: memory_high resolves once memory is at or below
	// MemoryMaxMB−MemoryHysteresisMB. Default 10.
	MemoryHysteresisMB float64
	// MemoryFor: how long memory_high's and memory_growth's conditions must
	// hold before they fire. Default 1m.
	MemoryFor time.Duration

	// GrowthMBPerMin: memory_growth fires when the least-squares slope of
	// memory over GrowthWindow exceeds it. Default 10.
	GrowthMBPerMin float64
	// GrowthHysteresisMBPerMin: memory_growth resolves once the slope is at
	// or below GrowthMBPerMin−GrowthHysteresisMBPerMin. Default 2
	// (config.GrowthHysteresisMBPerMin).
	GrowthHysteresisMBPerMin float64
	// GrowthWindow: the span memory_growth fits its slope over. The fit uses
	// GrowthWindow/90 buckets of sample means and is judged only when the
	// data spans at least 80 % of the window with at least 20 samples.
	// Default 15m; at least 1m.
	GrowthWindow time.Duration

	// TelemetryDownFor: how long the stream may be without data (counted
	// from the first report of a disconnect or silence) before
	// telemetry_down (while disconnected) or telemetry_silent (while silent)
	// fires; one outage fires only one of the two. Default 2m
	// (telemetry.down_for); 0 disables both rules.
	TelemetryDownFor time.Duration

	// MemoryPollInterval: how often the watcher reads memory from
	// /performance while the stream carries none; a polled reading stays
	// current for MemoryPollInterval+MaxGap. 0 means no polling. Default
	// 30s (telemetry.performance_poll_interval).
	MemoryPollInterval time.Duration

	// ResolveFor: how long a firing rule's value must stay on the healthy
	// side of its hysteresis band (for telemetry rules: data flowing) before
	// it resolves. Default 1m (thresholds.fps.for).
	ResolveFor time.Duration
	// SmoothingWindow: FPS and memory are judged on their mean over this
	// window, so that single jittery frames do not reset `for` timers.
	// Default 5s (config.RuleSmoothingWindow); at most 10m. The mean covers
	// at most the last 256 samples.
	SmoothingWindow time.Duration
	// MaxGap: the longest interval that counts as continuous evidence. A gap
	// of MaxGap or more between two samples of a signal restarts its pending
	// timers; no call advances the engine's clock by more than MaxGap, so
	// Tick must be called more often than that. Default 15s
	// (config.RuleMaxGap).
	MaxGap time.Duration
}

// Validate reports every problem of c, each naming its field.
func (c RuleConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("RuleConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"FPSMin", c.FPSMin}, {"FPSCriticalMin", c.FPSCriticalMin}, {"FPSMax", c.FPSMax},
		{"FPSHysteresis", c.FPSHysteresis}, {"MemoryMaxMB", c.MemoryMaxMB},
		{"MemoryHysteresisMB", c.MemoryHysteresisMB}, {"GrowthMBPerMin", c.GrowthMBPerMin},
		{"GrowthHysteresisMBPerMin", c.GrowthHysteresisMBPerMin},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			bad(f.name, "must be a finite number ≥ 0 (0 disables the rule), got %v", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"FPSFor", c.FPSFor}, {"MemoryFor", c.MemoryFor}, {"TelemetryDownFor", c.TelemetryDownFor},
		{"ResolveFor", c.ResolveFor}, {"MemoryPollInterval", c.MemoryPollInterval},
	} {
		if f.v < 0 {
			bad(f.name, "must be ≥ 0, got %s", f.v)
		}
	}
	if c.FPSCriticalMin > 0 && c.FPSMin > 0 && c.FPSCriticalMin >= c.FPSMin {
		bad("FPSCriticalMin", "must be below FPSMin (%v), got %v", c.FPSMin, c.FPSCriticalMin)
	}
	if c.FPSMax > 0 && c.FPSMin > 0 && c.FPSMax <= c.FPSMin {
		bad("FPSMax", "must be above FPSMin (%v), got %v", c.FPSMin, c.FPSMax)
	}
	if c.MemoryMaxMB > 0 && c.MemoryHysteresisMB >= c.MemoryMaxMB {
		bad("MemoryHysteresisMB", "must be below MemoryMaxMB (%v), got %v", c.MemoryMaxMB, c.MemoryHysteresisMB)
	}
	if c.GrowthMBPerMin > 0 {
		if c.GrowthHysteresisMBPerMin >= c.GrowthMBPerMin {
			bad("GrowthHysteresisMBPerMin", "must be below GrowthMBPerMin (%v), got %v", c.GrowthMBPerMin, c.GrowthHysteresisMBPerMin)
		}
		if c.GrowthWindow < time.Minute {
			bad("GrowthWindow", "must be at least 1m, got %s", c.GrowthWindow)
		}
	}
	if c.SmoothingWindow <= 0 || c.SmoothingWindow > 10*time.Minute {
		bad("SmoothingWindow", "must be above 0 and at most 10m, got %s", c.SmoothingWindow)
	}
	if c.MaxGap <= 0 {
		bad("MaxGap", "must be above 0, got %s", c.MaxGap)
	}
	return errors.Join(errs...)
}
