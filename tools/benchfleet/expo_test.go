package main

import (
	"math"
	"testing"
)

func TestExposition(t *testing.T) {
	e := parseExposition(`# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 24
spacetime_telemetry_connected{target="sim-0001"} 1
spacetime_telemetry_connected{target="sim-0002"} 0
spacetime_telemetry_frame_lag_seconds_bucket{le="0.01"} 90
spacetime_telemetry_frame_lag_seconds_bucket{le="+Inf"} 100
spacetime_telemetry_frame_lag_seconds_bucket{le="0.001"} 10
spacetime_telemetry_frame_lag_seconds_sum 0.5
spacetime_telemetry_frame_lag_seconds_count 100
`)
	if got := e.Series(); got != 8 {
		t.Errorf("Series = %d, want 8 (each bucket, sum and count is one; comments none)", got)
	}
	if got := e.SeriesLabelled("target"); got != 2 {
		t.Errorf("SeriesLabelled(target) = %d, want 2", got)
	}
	if got := parseExposition(`spacetime_rule_state{rule="fps",state="pending",target="a"} 1
spacetime_watch_targets{shard="0"} 1
spacetime_x{retarget="a"} 1
`).SeriesLabelled("target"); got != 1 {
		t.Errorf("SeriesLabelled(target) = %d, want 1 (a target label not first counts; retarget is another label)", got)
	}
	if got, ok := e.Sum("spacetime_telemetry_connected"); !ok || got != 1 {
		t.Errorf("Sum(connected) = %v %v, want 1", got, ok)
	}
	if _, ok := e.Sum("spacetime_up"); ok {
		t.Error("Sum of an absent metric reported found")
	}
	bs, err := e.Histogram("spacetime_telemetry_frame_lag_seconds")
	if err != nil || len(bs) != 3 || bs[0].le != 0.001 || !math.IsInf(bs[2].le, 1) {
		t.Fatalf("Histogram = %v, %v; want 3 buckets in le order", bs, err)
	}
	if _, err := e.Histogram("spacetime_check_duration_seconds"); err == nil {
		t.Error("an absent histogram gave no error")
	}
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	bs := []bucket{{0.001, 10}, {0.01, 90}, {0.1, 100}, {inf, 100}}
	for _, tc := range []struct{ q, want float64 }{
		{0.05, 0.0005},                   // inside the first bucket, from 0
		{0.5, 0.001 + 0.009*40/80},       // rank 50: 40 of the 80 in (0.001, 0.01]
		{0.99, 0.01 + 0.09*(99-90)/10.0}, // rank 99 in (0.01, 0.1]
	} {
		if got := quantile(tc.q, bs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// In +Inf: the highest finite bound, as histogram_quantile.
	if got := quantile(0.99, []bucket{{0.05, 1}, {inf, 100}}); got != 0.05 {
		t.Errorf("quantile in +Inf = %v, want 0.05", got)
	}
	if got := quantile(0.99, []bucket{{0.05, 0}, {inf, 0}}); !math.IsNaN(got) {
		t.Errorf("quantile of nothing = %v, want NaN", got)
	}

	d, err := bucketDelta([]bucket{{0.01, 5}, {inf, 7}}, []bucket{{0.01, 15}, {inf, 27}})
	if err != nil || d[0].count != 10 || d[1].count != 20 {
		t.Errorf("bucketDelta = %v, %v; want 10, 20", d, err)
	}
	if _, err := bucketDelta([]bucket{{0.01, 5}}, []bucket{{0.02, 5}}); err == nil {
		t.Error("bucketDelta of different bounds gave no error")
	}
}

func TestPercentile(t *testing.T) {
	xs := make([]float64, 50)
	for i := range xs {
		xs[i] = float64(50 - i) // 50 … 1, unsorted
	}
	if p50, p99 := percentile(xs, 50), percentile(xs, 99); p50 != 25 || p99 != 50 {
		t.Errorf("p50, p99 of 1…50 = %v, %v; want 25, 50 (nearest rank)", p50, p99)
	}
	if xs[0] != 50 {
		t.Error("percentile sorted its argument in place")
	}
}

func TestTargets(t *testing.T) {
	e := parseExposition(`spacetime_up{target="a"} 1
spacetime_up{target="b",x="y"} 0
spacetime_up 1
spacetime_upx{target="c"} 1
`)
	got := e.Targets("spacetime_up")
	if len(got) != 2 || !got["a"] || !got["b"] {
		t.Errorf("Targets = %v, want a and b only", got)
	}
}
