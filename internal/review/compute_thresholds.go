package review

import "time"

// Thresholds decide the items' verdicts. A zero field takes its default
// from DefaultThresholds, which reproduces the deployment checklist (FPS
// 85–95, memory under 400 MB) and the documented alert rules (p95 latency
// 500 ms / 2 s, error rate 5 %).
type Thresholds struct {
	// FPSMin and FPSMax are the FPS band. Default: 85 and 95.
	FPSMin, FPSMax float64
	// FPSInBandPass and FPSInBandWarn are the shares of FPS samples in the
	// band fps_stable passes and warns at (below: fail). Default: 0.95, 0.90.
	FPSInBandPass, FPSInBandWarn float64
	// MemoryMaxMB is the memory ceiling (MiB): memory_stable fails at or
	// above it, and the memory projections aim at it. Default: 400.
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

// DefaultThresholds are the checklist's thresholds (see Thresholds).
func DefaultThresholds() Thresholds {
	return Thresholds{
		FPSMin: 85, FPSMax: 95,
		FPSInBandPass: 0.95, FPSInBandWarn: 0.90,
		MemoryMaxMB:       400,
		MemoryWarnHorizon: 24 * time.Hour, MemoryFailHorizon: time.Hour,
		FPSWarnHorizon: 24 * time.Hour,
		TrendMinSpan:   15 * time.Minute,
		CheckPass:      0.99, CheckWarn: 0.95,
		ErrorSpikeFactor: 3, ErrorSpikeMinRate: 0.05, ErrorSpikeMinErrors: 3,
		ErrorRateWarn: 0.01, ErrorRateFail: 0.05,
		LatencyP95Warn: 500 * time.Millisecond, LatencyP95Fail: 2 * time.Second,
		AuthAttackCount: 20, AuthAttackWindow: 15 * time.Minute,
		UptimePass: 0.99, UptimeWarn: 0.95,
		RestartsWarn: 1, RestartsFail: 3,
		MinCoverage: 0.9,
	}
}

// withDefaults fills every zero field from DefaultThresholds.
func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	fill(&t.FPSMin, d.FPSMin)
	fill(&t.FPSMax, d.FPSMax)
	fill(&t.FPSInBandPass, d.FPSInBandPass)
	fill(&t.FPSInBandWarn, d.FPSInBandWarn)
	fill(&t.MemoryMaxMB, d.MemoryMaxMB)
	fill(&t.MemoryWarnHorizon, d.MemoryWarnHorizon)
	fill(&t.MemoryFailHorizon, d.MemoryFailHorizon)
	fill(&t.FPSWarnHorizon, d.FPSWarnHorizon)
	fill(&t.TrendMinSpan, d.TrendMinSpan)
	fill(&t.CheckPass, d.CheckPass)
	fill(&t.CheckWarn, d.CheckWarn)
	fill(&t.ErrorSpikeFactor, d.ErrorSpikeFactor)
	fill(&t.ErrorSpikeMinRate, d.ErrorSpikeMinRate)
	fill(&t.ErrorSpikeMinErrors, d.ErrorSpikeMinErrors)
	fill(&t.ErrorRateWarn, d.ErrorRateWarn)
	fill(&t.ErrorRateFail, d.ErrorRateFail)
	fill(&t.LatencyP95Warn, d.LatencyP95Warn)
	fill(&t.LatencyP95Fail, d.LatencyP95Fail)
	fill(&t.AuthAttackCount, d.AuthAttackCount)
	fill(&t.AuthAttackWindow, d.AuthAttackWindow)
	fill(&t.UptimePass, d.UptimePass)
	fill(&t.UptimeWarn, d.UptimeWarn)
	fill(&t.RestartsWarn, d.RestartsWarn)
	fill(&t.RestartsFail, d.RestartsFail)
	fill(&t.MinCoverage, d.MinCoverage)
	return t
}

func fill[T comparable](dst *T, def T) {
	var zero T
	if *dst == zero {
		*dst = def
	}
}
