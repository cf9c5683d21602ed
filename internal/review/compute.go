package review

import (
	"fmt"
	"math"
	"time"
)

// Kind is a review's item set: what the checklist asks at hour 1, 4 or 24.
type Kind int

// The item sets. The service picks one by the review's index in the
// configured offsets (KindForIndex), not by the offset itself, so that a
// demo with offsets of 1, 3 and 6 minutes gets the same three reviews as
// a production deployment with 1h, 4h and 24h.
const (
	// KindHour1: api_responsive, no_error_spikes, fps_stable,
	// memory_stable, vr_initialized.
	KindHour1 Kind = iota + 1
	// KindHour4: the hour-1 items, then fps_trend, memory_trend,
	// request_latency, error_rate, auth_failures, rate_limiting,
	// nothing_suspicious.
	KindHour4
	// KindHour24: uptime, total_requests, errors, restarts,
	// checks_pass_rate, then fps_trend and memory_trend over the day.
	KindHour24
)

// KindForIndex is the item set of the review at index i (from 0) of the
// configured offsets: the 1st gets KindHour1, the 2nd KindHour4, the 3rd
// and any later ones KindHour24.
func KindForIndex(i int) Kind {
	switch {
	case i <= 0:
		return KindHour1
	case i == 1:
		return KindHour4
	}
	return KindHour24
}

// String is "hour-1", "hour-4" or "hour-24".
func (k Kind) String() string {
	switch k {
	case KindHour1:
		return "hour-1"
	case KindHour4:
		return "hour-4"
	case KindHour24:
		return "hour-24"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// OffsetName names a review by its offset: "hour-N" for whole hours,
// "minute-N" for whole minutes, else "second-N" (rounded down).
func OffsetName(offset time.Duration) string {
	switch {
	case offset > 0 && offset%time.Hour == 0:
		return fmt.Sprintf("hour-%d", offset/time.Hour)
	case offset > 0 && offset%time.Minute == 0:
		return fmt.Sprintf("minute-%d", offset/time.Minute)
	}
	return fmt.Sprintf("second-%d", offset/time.Second)
}

// Input is what a review is computed from.
type Input struct {
	// Target, DeploymentID, Version and StartedAt identify the deployment.
	Target       string
	DeploymentID string
	Version      string
	StartedAt    time.Time
	// InstanceStartedAt is when the instance's process started, when known
	// (store.Deployment's): a deployment the instance's own start began
	// has it at StartedAt. With it before the window (or unknown) and no
	// restart in the window, the instance did not start in the window, and
	// vr_initialized cannot observe what happens only at a start.
	InstanceStartedAt time.Time
	// Name is the review's name. Default: OffsetName(Offset).
	Name string
	// Offset is the review's offset from StartedAt: the window is
	// [StartedAt, StartedAt+Offset), cut at Now.
	Offset time.Duration
	// Kind is the item set. Default: KindForIndex(0), the hour-1 items.
	Kind Kind
	// Now is when the review is computed. Before StartedAt+Offset the
	// review covers the minutes so far and is Partial.
	Now time.Time
	// Minutes are the target's rollups. Minutes outside the window are
	// ignored, except that the last counters before it are the baseline
	// of the counters' first increase. Any order; a repeated At keeps the
	// last one.
	Minutes []Minute
	// Thresholds decide the verdicts; zero fields take their defaults.
	Thresholds Thresholds
}

// Compute computes a review. It does not set Late and LateBy: whether a
// review is late is a matter of its delivery, which the caller knows.
func Compute(in Input) Review {
	if in.Kind == 0 {
		in.Kind = KindHour1
	}
	if in.Name == "" {
		in.Name = OffsetName(in.Offset)
	}
	w := newWindow(in)
	r := Review{
		Target:       in.Target,
		DeploymentID: in.DeploymentID,
		Version:      in.Version,
		StartedAt:    in.StartedAt.UTC(),
		Name:         in.Name,
		Offset:       in.Offset,
		DueAt:        w.dueAt,
		ComputedAt:   in.Now.UTC(),
		Coverage:     w.coverage(),
	}
	r.Partial = in.Now.Before(w.dueAt) || r.Coverage < w.th.MinCoverage
	// Round for the reports; the partial decision used the exact share.
	r.Coverage = math.Round(r.Coverage*1e4) / 1e4
	r.Items = w.items(in.Kind)
	r.Verdict = Pass
	for _, it := range r.Items {
		r.Verdict = worse(r.Verdict, it.Verdict)
	}
	r.FPSSparkline, r.MemorySparkline = w.sparklines()
	return r
}

// items computes the kind's items in the checklist's order.
func (w *window) items(k Kind) []Item {
	hour1 := []func() Item{w.apiResponsive, w.noErrorSpikes, w.fpsStable, w.memoryStable, w.vrInitialized}
	hour4 := []func() Item{w.fpsTrend, w.memoryTrend, w.requestLatency, w.errorRate, w.authFailures, w.rateLimiting, w.nothingSuspicious}
	hour24 := []func() Item{w.uptime, w.totalRequests, w.errors, w.restarts, w.checksPassRate, w.fpsTrend, w.memoryTrend}
	var fns []func() Item
	switch k {
	case KindHour4:
		fns = append(hour1, hour4...)
	case KindHour24:
		fns = hour24
	default:
		fns = hour1
	}
	out := make([]Item, 0, len(fns))
	for _, f := range fns {
		out = append(out, f())
	}
	return out
}

// worse is the worse of two verdicts.
func worse(a, b Verdict) Verdict {
	if b.Value() < a.Value() {
		return b
	}
	return a
}

// atLeast judges a share where more is better: pass at or above pass,
// warn at or above warn, else fail.
func atLeast(v, pass, warn float64) Verdict {
	switch {
	case v >= pass:
		return Pass
	case v >= warn:
		return Warn
	}
	return Fail
}

// above judges a figure where less is better: fail above fail, warn above
// warn, else pass.
func above(v, warn, fail float64) Verdict {
	switch {
	case v > fail:
		return Fail
	case v > warn:
		return Warn
	}
	return Pass
}
