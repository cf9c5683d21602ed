package config

import "time"

// ReviewThresholds decide the review items' verdicts (review.Thresholds).
// They are no keys of the file but for the FPS band and the memory ceiling,
// which are the target's thresholds (Settings.ReviewThresholds). Their
// defaults (DefaultReviewThresholds) reproduce the deployment checklist
// (FPS 85–95, memory under 400 MB) and the documented alert rules (p95
// latency 500 ms / 2 s, error rate 5 %).
type ReviewThresholds struct {
	// FPSMin and FPSMax are the FPS band: thresholds.fps.min and max.
	// Default: 85 and 95.
	FPSMin, FPSMax float64
	// FPSInBandPass and FPSInBandWarn are the shares of FPS samples in the
	// band fps_stable passes and warns at (below: fail). Default: 0.95, 0.90.
	FPSInBandPass, FPSInBandWarn float64
	// MemoryMaxMB is the memory ceiling (MiB): memory_stable fails at or
	// above it, and the memory projections aim at it:
	// thresholds.memory.max_mb. Default: 400.
	MemoryMaxMB float64
	// MemoryWarnHorizon: a memory trend projected to reach MemoryMaxMB
	// within it warns (memory_stable, memory_trend). Default: 24h.
	MemoryWarnHorizon time.Duration
	// MemoryFailHorizon: a memory trend projected to reach MemoryMaxMB
	// within it fails memory_trend. Default: 1h.
	MemoryFailHorizon time.Duration
	// FPSWarnHorizon: a falling FPS trend projected to leave the band
	// within it warns fps_trend. Default: 24h.
	FPSWarnHorizon time.Duration
	// TrendMinSpan is the least data a trend (a slope) or a projection to
	// a limit is computed from: the time the fitted minutes cover, from
	// the start of the first one with data to the end of the last, not the
	// window's length. With less, the items say how little there is and
	// project nothing: a slope through two minutes of jitter is noise.
	// Default: 15m.
	TrendMinSpan time.Duration
	// CheckPass and CheckWarn are the shares of passed checks
	// api_responsive and checks_pass_rate pass and warn at. Default: 0.99, 0.95.
	CheckPass, CheckWarn float64
	// ErrorSpikeFactor, ErrorSpikeMinRate and ErrorSpikeMinErrors define a
	// spike: a minute whose errors exceed ErrorSpikeFactor × the window's
	// median per minute, and ErrorSpikeMinRate of its requests, and number
	// at least ErrorSpikeMinErrors (so that one failed request in a quiet
	// minute is not a spike). Default: 3, 0.05, 3.
	ErrorSpikeFactor, ErrorSpikeMinRate float64
	ErrorSpikeMinErrors                 int
	// ErrorRateWarn and ErrorRateFail are the error rates error_rate and
	// errors warn and fail above. Default: 0.01, 0.05.
	ErrorRateWarn, ErrorRateFail float64
	// LatencyP95Warn and LatencyP95Fail are the p95 request latencies
	// request_latency warns and fails above. Default: 500ms, 2s.
	LatencyP95Warn, LatencyP95Fail time.Duration
	// AuthAttackCount and AuthAttackWindow: more than AuthAttackCount
	// authentication failures within any AuthAttackWindow is a possible
	// attack (auth_failures fails). Default: 20 in 15m.
	AuthAttackCount  int
	AuthAttackWindow time.Duration
	// UptimePass and UptimeWarn are the shares of minutes the API answered
	// (and the telemetry was connected) uptime passes and warns at.
	// Default: 0.99, 0.95.
	UptimePass, UptimeWarn float64
	// RestartsWarn and RestartsFail are the restart counts restarts warns
	// and fails at. Default: 1, 3.
	RestartsWarn, RestartsFail int
	// MinCoverage is the share of the window's minutes with data below
	// which a review is partial. Default: 0.9.
	MinCoverage float64
}

// ReviewThresholds are the review thresholds of a target with s: its FPS
// band and memory ceiling over DefaultReviewThresholds.
func (s Settings) ReviewThresholds() ReviewThresholds {
	t := DefaultReviewThresholds()
	t.FPSMin, t.FPSMax = s.Thresholds.FPS.Min, s.Thresholds.FPS.Max
	t.MemoryMaxMB = s.Thresholds.Memory.MaxMB
	return t
}
