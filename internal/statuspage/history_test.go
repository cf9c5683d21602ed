package statuspage

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestCheckStripKeepsTheWorstPerSlice: the 24-hour strip puts each round
// in its 5-minute slice, a failure outranks a pass in the same slice, the
// counts and the last failure say it in words, and the full rounds list
// is newest first.
func TestCheckStripKeepsTheWorstPerSlice(t *testing.T) {
	now := testkit.BaseTime(t)
	src := fleetOf(now, 1, func(int) string { return "main" }, func(int) float64 { return 90 }, func(int) bool { return false })
	failAt := now.Add(-2 * time.Hour)
	src.checks["main"] = []store.CheckRecord{
		{Check: "health", At: now.Add(-23 * time.Hour), Result: store.ResultPass},
		{Check: "health", At: failAt, Result: store.ResultFail},
		{Check: "health", At: failAt.Add(time.Minute), Result: store.ResultPass},
		{Check: "health", At: now.Add(-time.Minute), Result: store.ResultSkipped},
	}
	tp, ok := BuildTarget(context.Background(), src, "main", now, time.Second)
	if !ok || len(tp.Strip) != 1 {
		t.Fatalf("strip %+v; want one row, health", tp.Strip)
	}
	row := tp.Strip[0]
	slice := func(at time.Time) int { return int(at.Sub(now.Add(-24*time.Hour)) / (24 * time.Hour / StripBuckets)) }
	if got := row.Cells[slice(failAt)]; got != store.ResultFail {
		t.Errorf("the slice with a fail and a pass shows %q, want fail", got)
	}
	if got := row.Cells[slice(now.Add(-23*time.Hour))]; got != store.ResultPass {
		t.Errorf("hour -23 shows %q, want pass", got)
	}
	if row.Pass != 2 || row.Fail != 1 || row.Skipped != 1 || !row.LastFail.Equal(failAt) {
		t.Errorf("counts %d/%d/%d, last fail %s; want 2 pass, 1 fail, 1 skipped, last at %s", row.Pass, row.Fail, row.Skipped, row.LastFail, failAt)
	}
	if len(tp.Rounds) != 4 || !tp.Rounds[0].At.Equal(now.Add(-time.Minute)) {
		t.Errorf("rounds %+v; want 4, newest first", tp.Rounds)
	}
}

// TestLoneMinuteIsDrawn: a single minute of data (the first minute after
// a start) is drawn as a dash, not an invisible move.
func TestLoneMinuteIsDrawn(t *testing.T) {
	now := testkit.BaseTime(t)
	s := Series{From: now.Add(-time.Hour), To: now, Points: []Point{{At: now.Add(-time.Minute), Value: 90, Low: math.NaN()}}}
	if svg := string(sparkline(s)); !strings.Contains(svg, `d="M`) || !strings.Contains(svg, "h1") {
		t.Errorf("one point draws %s; want a path with a dash", svg)
	}
}

// TestChartsDrawTheTargetsThresholds: the target page draws the band and
// ceiling of the target's own thresholds, and says them.
func TestChartsDrawTheTargetsThresholds(t *testing.T) {
	now := testkit.BaseTime(t)
	src := fleetOf(now, 1, func(int) string { return "main" }, func(int) float64 { return 90 }, func(int) bool { return false })
	src.thresholds = config.DefaultReviewThresholds()
	src.thresholds.FPSMin, src.thresholds.FPSMax, src.thresholds.MemoryMaxMB = 70, 80, 600
	tp, ok := BuildTarget(context.Background(), src, "main", now, time.Second)
	if !ok || tp.FPSBandLow != 70 || tp.FPSBandHigh != 80 || tp.MemoryLimit != 600 {
		t.Fatalf("band %v–%v, ceiling %v; want the target's 70–80 and 600", tp.FPSBandLow, tp.FPSBandHigh, tp.MemoryLimit)
	}
	var b strings.Builder
	if err := RenderTarget(&b, tp); err != nil {
		t.Fatal(err)
	}
	if page := b.String(); !strings.Contains(page, "the 70–80 band") || !strings.Contains(page, "600 MB ceiling") {
		i := strings.Index(page, "band shaded")
		t.Errorf("the page does not say the target's band and ceiling: %q", page[max(0, i-80):min(len(page), i+20)])
	}
}
