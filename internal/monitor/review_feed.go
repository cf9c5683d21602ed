package monitor

import (
	"context"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
)

// newRecorder makes a target's review recorder, judging FPS against the
// target's band.
func newRecorder(tc config.Target, settle time.Duration) *review.Recorder {
	return review.NewRecorder(review.RecorderOptions{FPSMin: tc.Thresholds.FPS.Min, FPSMax: tc.Thresholds.FPS.Max, Settle: settle})
}

// checkRound reduces a round's results to what the reviews need: passes
// out of the checks that ran (skipped ones and known gaps left out), the
// API checks' latencies, and what check 7 found.
func checkRound(results []CheckResult, at time.Time) review.CheckRound {
	round := review.CheckRound{At: at}
	for _, r := range results {
		if r.Status == CheckSkipped {
			continue
		}
		round.Total++
		if r.Status == CheckPass {
			round.Passed++
		}
		switch r.Check {
		case config.CheckRateLimit:
			round.RateLimit = review.RateLimitFailed
			if r.Status == CheckPass {
				round.RateLimit = review.RateLimitPassed
			}
		case config.CheckTelemetry, config.CheckThresholds:
			// Not API requests.
		default:
			round.Latencies = append(round.Latencies, r.Duration)
		}
	}
	return round
}

// feedSamples hands the samples since the last feed to the recorder, and
// whether the stream delivered. Runs on the monitor's loop, bounded.
func (t *target) feedSamples(ctx context.Context, now time.Time) {
	if t.recorder == nil {
		return
	}
	w, ok := t.watcher.(*Watcher)
	if !ok || w == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	since := t.fedUntil
	if since.IsZero() || now.Sub(since) > 10*time.Minute {
		since = now.Add(-config.ReviewFeedInterval)
	}
	samples, live, err := w.SamplesSince(ctx, since)
	if err != nil && ctx.Err() != nil {
		return
	}
	t.recorder.ObserveTelemetry(now, live)
	if len(samples) > 0 {
		out := make([]review.Sample, 0, len(samples))
		for _, s := range samples {
			out = append(out, review.Sample{At: s.At, FPS: s.FPS, HasFPS: s.HasFPS, MemoryMB: s.MemoryMB, HasMemory: s.HasMemory})
		}
		t.recorder.ObserveSamples(out)
		t.fedUntil = samples[len(samples)-1].At
	} else {
		t.fedUntil = now
	}
}
