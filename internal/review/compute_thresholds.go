package review

import "github.com/spacetime-vr/spacetime-watch/internal/config"

// Thresholds decide the items' verdicts. The config owns them and their
// defaults (config.ReviewThresholds, config.DefaultReviewThresholds); a
// zero field takes its default.
type Thresholds = config.ReviewThresholds

// fillThresholds fills every zero field of t from
// config.DefaultReviewThresholds.
func fillThresholds(t Thresholds) Thresholds {
	d := config.DefaultReviewThresholds()
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
