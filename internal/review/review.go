// Package review produces the post-deployment reviews the deployment
// checklist asks a person for at hour 1, 4 and 24: it keeps per-minute
// rollups of what the daemon observed of each target, computes each review
// item with a verdict and the figure behind it, and delivers each review
// exactly once, on time or, after downtime, late and marked late.
//
// review sits below monitor: the monitor feeds a Recorder; the daemon
// delivers reviews (Slack through the outbox, files in the state dir).
package review

import "time"

// Minute is one target's rollup of one minute: what the reviews need and
// nothing more, so that 48 hours stay under 1 MB per target.
type Minute struct {
	// At is the minute's start (UTC, truncated to the minute).
	At time.Time `json:"at"`

	// FPS: samples seen, how many lay in the band, min, mean and 1% low.
	FPSSamples int     `json:"fps_n,omitempty"`
	FPSInBand  int     `json:"fps_in_band,omitempty"`
	FPSMin     float64 `json:"fps_min,omitempty"`
	FPSMean    float64 `json:"fps_mean,omitempty"`
	FPSLow1    float64 `json:"fps_low1,omitempty"`

	// Memory in MiB: samples, max and mean.
	MemorySamples int     `json:"mem_n,omitempty"`
	MemoryMaxMB   float64 `json:"mem_max,omitempty"`
	MemoryMeanMB  float64 `json:"mem_mean,omitempty"`

	// Checks run in the minute and how many passed; API latency of the
	// checks' requests (p50, p95, seconds).
	Checks        int     `json:"checks,omitempty"`
	ChecksPassed  int     `json:"checks_passed,omitempty"`
	LatencyP50    float64 `json:"lat_p50,omitempty"`
	LatencyP95    float64 `json:"lat_p95,omitempty"`
	RateLimitPass bool    `json:"rate_limit_pass,omitempty"` // check 7 passed in the minute
	RateLimitFail bool    `json:"rate_limit_fail,omitempty"` // check 7 ran and drew no 429 in the minute

	// What the daemon itself saw of the API in the minute: requests, 5xx
	// and transport errors, 401s, 429s.
	OwnRequests     int `json:"own_req,omitempty"`
	OwnErrors       int `json:"own_err,omitempty"`
	OwnUnauthorized int `json:"own_401,omitempty"`
	OwnRateLimited  int `json:"own_429,omitempty"`

	// The instance's own counters, cumulative, as last reported in the
	// minute (nil where the instance reports none: the stock server).
	Requests            *float64 `json:"req,omitempty"`
	Errors              *float64 `json:"err,omitempty"`
	AuthFailures        *float64 `json:"auth_fail,omitempty"`
	RateLimitViolations *float64 `json:"rl_viol,omitempty"`

	// Restarts detected in the minute.
	Restarts int `json:"restarts,omitempty"`
	// TelemetryConnected: the stream delivered data in the minute.
	TelemetryConnected bool `json:"tel,omitempty"`
	// VRInitialized / DesktopFallback: seen in telemetry in the minute.
	VRInitialized   bool `json:"vr,omitempty"`
	DesktopFallback bool `json:"desktop,omitempty"`
}

// Verdict is an item's or a review's judgement.
type Verdict string

// Verdicts, best first. As a metric: pass 1, warn 0.5, fail 0.
const (
	Pass Verdict = "pass"
	Warn Verdict = "warn"
	Fail Verdict = "fail"
)

// Value is the verdict's metric value (spacetime_review_verdict).
func (v Verdict) Value() float64 {
	switch v {
	case Pass:
		return 1
	case Warn:
		return 0.5
	}
	return 0
}

// Item is one line of a review: what the checklist asks, computed.
type Item struct {
	// Name is stable (api_responsive, fps_stable, memory_trend, ...).
	Name string `json:"name"`
	// Title is what the checklist calls it ("FPS stable at 85–95").
	Title string `json:"title"`
	// Verdict is pass, warn or fail.
	Verdict Verdict `json:"verdict"`
	// Figure is the number behind the verdict, readable ("97.2% of 7,140 samples in band, 1% low 84.1").
	Figure string `json:"figure"`
	// Note explains a warn or fail, or where the data came from ("from the
	// daemon's own requests: the instance reports no counters").
	Note string `json:"note,omitempty"`
}

// Review is one post-deployment review.
type Review struct {
	// Target and Deployment identify what was reviewed.
	Target       string    `json:"target"`
	DeploymentID string    `json:"deployment_id"`
	Version      string    `json:"version"`
	StartedAt    time.Time `json:"deployment_started_at"`
	// Name is "hour-1", "hour-4", "hour-24" (from the offset: "hour-N" for
	// whole hours, else e.g. "minute-3").
	Name string `json:"review"`
	// Offset is the review's offset from the deployment's start.
	Offset time.Duration `json:"-"`
	// DueAt is StartedAt + Offset; ComputedAt when it was computed.
	DueAt      time.Time `json:"due_at"`
	ComputedAt time.Time `json:"computed_at"`
	// Late is set when it was delivered after its due time by more than a
	// scheduling slack (the daemon was down); LateBy says by how much.
	Late   bool          `json:"late,omitempty"`
	LateBy time.Duration `json:"-"`
	// Partial is set when the data does not cover the whole window (an
	// on-demand review before its due time, or minutes missing).
	Partial bool `json:"partial,omitempty"`
	// Coverage is the share of the window's minutes with data.
	Coverage float64 `json:"coverage"`
	// Items are the review's lines, in the checklist's order.
	Items []Item `json:"items"`
	// Verdict is the overall verdict: the worst item's.
	Verdict Verdict `json:"verdict"`
	// FPSSparkline and MemorySparkline show the trends at a glance (▂▃▅▇▇▆▅).
	FPSSparkline    string `json:"fps_sparkline,omitempty"`
	MemorySparkline string `json:"memory_sparkline,omitempty"`
}
