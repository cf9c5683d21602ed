package review

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		p      float64
		want   float64
	}{
		{"median of four interpolates", []float64{4, 1, 3, 2}, 0.5, 2.5},
		{"p0 is the min", []float64{5, 3, 9}, 0, 3},
		{"p1 is the max", []float64{5, 3, 9}, 1, 9},
		{"one value", []float64{7}, 0.01, 7},
		{"1% of 1..100", seq(100), 0.01, 1.99},
		{"95% of 1..20", seq(20), 0.95, 19.05},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.values, tc.p); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.values, tc.p, got, tc.want)
			}
		})
	}
	if !math.IsNaN(percentile(nil, 0.5)) {
		t.Error("no values: want NaN")
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestWeightedPercentile(t *testing.T) {
	vs := []weighted{{0.2, 1}, {0.05, 18}, {3, 1}} // 20 checks: one minute slow
	if got := weightedPercentile(vs, 0.5); got != 0.05 {
		t.Errorf("median %v", got)
	}
	if got := weightedPercentile(vs, 0.95); got != 0.2 {
		t.Errorf("p95 %v, want 0.2 (the slowest minute is the top 5%%)", got)
	}
	if got := weightedPercentile(vs, 0.96); got != 3 {
		t.Errorf("p96 %v", got)
	}
	if !math.IsNaN(weightedPercentile(nil, 0.5)) || !math.IsNaN(weightedPercentile([]weighted{{1, 0}}, 0.5)) {
		t.Error("no weight: want NaN")
	}
}

func TestLinearFit(t *testing.T) {
	var pts []point
	for i := range 100 {
		x := float64(i)
		pts = append(pts, point{x + 1e6, 3 - 0.25*x}) // far from the origin: the centring keeps it exact
	}
	l := linearFit(pts)
	if math.Abs(l.Slope+0.25) > 1e-9 || math.Abs(l.at(1e6)-3) > 1e-6 || l.SSE > 1e-6 || l.N != 100 {
		t.Errorf("fit %+v", l)
	}
	if l := linearFit([]point{{5, 7}}); l.Slope != 0 || l.at(100) != 7 {
		t.Errorf("one point: %+v", l)
	}
}

func TestRecentTrend(t *testing.T) {
	// Flat at 200 for 100 points, then +15 a point for 10.
	var pts []point
	for i := range 110 {
		y := 200 + 2*noise(9, uint64(i))
		if i >= 100 {
			y += 15 * float64(i-99)
		}
		pts = append(pts, point{float64(i), y})
	}
	l, changed := recentTrend(pts)
	if !changed || l.N != 10 || math.Abs(l.Slope-15) > 0.5 {
		t.Errorf("leak: changed %v, %d points, slope %v", changed, l.N, l.Slope)
	}
	// Noise alone is no change.
	if l, changed := recentTrend(pts[:100]); changed || l.N != 100 {
		t.Errorf("noise: changed %v, %d points, slope %v", changed, l.N, l.Slope)
	}
	// Too few points to split: fewer than two segments of minSegment.
	if _, changed := recentTrend(pts[96:105]); changed {
		t.Error("9 points split")
	}
	// Just enough: 5 flat, 5 leaking.
	if l, changed := recentTrend(pts[95:105]); !changed || l.N != 5 {
		t.Errorf("10 points: changed %v, %d points", changed, l.N)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{pct(1), "100%"},
		{pct(0.99999), "99.9%"},
		{pct(0.95), "95.0%"},
		{pct(0), "0%"},
		{pct(math.NaN()), "n/a"},
		{ratePct(0.0001), "0.01%"},
		{ratePct(0.05), "5.00%"},
		{ratePct(0), "0%"},
		{count(14400), "14,400"},
		{count(1234567.4), "1,234,567"},
		{count(-1000), "-1,000"},
		{count(999), "999"},
		{signed(0.004, 2), "±0.00"},
		{signed(-1.5, 1), "−1.5"},
		{signed(2, 2), "+2.00"},
		{ms(0.0424), "42 ms"},
		{ms(2.5), "2.50 s"},
		{shortDuration(400 * time.Second), "6m40s"},
		{shortDuration(2*time.Hour + 5*time.Minute + 3*time.Second), "2h5m"},
		{shortDuration(26 * time.Hour), "1d2h"},
		{shortDuration(0), "0s"},
		{shortDuration(-time.Second), "0s"},
		{plural(1, "restart", "restarts"), "1 restart"},
		{plural(2000, "error", "errors"), "2,000 errors"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
