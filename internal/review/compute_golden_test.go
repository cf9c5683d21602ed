package review

import (
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var updateReviewGolden = flag.Bool("update-review-golden", false, "rewrite testdata/*.json, *.md and *.txt from the current reviews")

// golden compares got with testdata/name, or rewrites it with
// -update-review-golden (review the diff before committing it). The files
// hold the dates of an unshifted run: got's dates are moved back first
// (testkit.UnshiftDates), so the files match at any base shift.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.CheckGolden(t, filepath.Join("testdata", name), testkit.UnshiftDates(t, got), *updateReviewGolden)
}

// The timelines' minutes, built once for the package's tests.
var (
	timelinesOnce           sync.Once
	cleanMinutes, degMinute []Minute
)

func timelines(t *testing.T) (clean, degraded []Minute) {
	t.Helper()
	timelinesOnce.Do(func() {
		cleanMinutes = cleanTimeline().minutes(t)
		degMinute = degradedTimeline().minutes(t)
	})
	if cleanMinutes == nil || degMinute == nil {
		t.Fatal("building the timelines failed in an earlier test")
	}
	return cleanMinutes, degMinute
}

// itemOf is the review's item called name.
func itemOf(t *testing.T, r Review, name string) Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("review %s has no item %s (items %v)", r.Name, name, itemNames(r))
	return Item{}
}

func itemNames(r Review) []string {
	var out []string
	for _, it := range r.Items {
		out = append(out, it.Name)
	}
	return out
}

// TestReviewGolden is the acceptance line: golden JSON reviews at
// hours 1, 4 and 24 of a clean timeline and a degraded one.
func TestReviewGolden(t *testing.T) {
	clean, degraded := timelines(t)
	for _, tc := range []struct {
		name    string
		minutes []Minute
	}{{"clean", clean}, {"degraded", degraded}} {
		for i, hour := range []int{1, 4, 24} {
			t.Run(fmt.Sprintf("%s/hour-%d", tc.name, hour), func(t *testing.T) {
				r := reviewAt(tc.minutes, i, Thresholds{})
				b, err := JSON(r)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, fmt.Sprintf("%s-hour-%d.json", tc.name, hour), b)
				if r.Partial || r.Coverage != 1 {
					t.Errorf("partial %v, coverage %v: the timeline covers the window", r.Partial, r.Coverage)
				}
			})
		}
	}
}

// TestCleanTimelineAllPass: every item of every review of the clean
// timeline passes.
func TestCleanTimelineAllPass(t *testing.T) {
	clean, _ := timelines(t)
	for i := range 3 {
		r := reviewAt(clean, i, Thresholds{})
		for _, it := range r.Items {
			if it.Verdict != Pass {
				t.Errorf("%s %s: %s (%s; %s)", r.Name, it.Name, it.Verdict, it.Figure, it.Note)
			}
		}
		if r.Verdict != Pass {
			t.Errorf("%s: overall %s", r.Name, r.Verdict)
		}
	}
}

// TestDegradedTimelineVerdicts pins what each item makes of the degraded
// timeline, so that a golden file rewritten carelessly cannot hide a
// regression in the judgement.
func TestDegradedTimelineVerdicts(t *testing.T) {
	_, degraded := timelines(t)
	want := []map[string]Verdict{
		{ // hour 1: the first FPS dip (4 of 60 minutes), the first error spike, the desktop fallback
			"api_responsive": Pass, "no_error_spikes": Fail, "fps_stable": Warn, "memory_stable": Pass, "vr_initialized": Warn,
		},
		{ // hour 4: the leak from +3h52m, 30 auth failures in 10 minutes, slow checks, no 429
			"api_responsive": Warn, "no_error_spikes": Fail, "fps_stable": Warn, "memory_stable": Warn, "vr_initialized": Warn,
			"fps_trend": Pass, "memory_trend": Fail, "request_latency": Warn, "error_rate": Warn,
			"auth_failures": Fail, "rate_limiting": Warn, "nothing_suspicious": Fail,
		},
		{ // hour 24: 20 minutes down, a restart, FPS drifting down, the leak's peak
			"uptime": Warn, "total_requests": Pass, "errors": Pass, "restarts": Warn, "checks_pass_rate": Warn,
			"fps_trend": Warn, "memory_trend": Warn,
		},
	}
	overall := []Verdict{Fail, Fail, Warn}
	for i, items := range want {
		r := reviewAt(degraded, i, Thresholds{})
		if got := itemNames(r); len(got) != len(items) {
			t.Errorf("%s: items %v, want %d items", r.Name, got, len(items))
		}
		for name, v := range items {
			if it := itemOf(t, r, name); it.Verdict != v {
				t.Errorf("%s %s: %s (%s; %s), want %s", r.Name, name, it.Verdict, it.Figure, it.Note, v)
			}
		}
		if r.Verdict != overall[i] {
			t.Errorf("%s: overall %s, want %s", r.Name, r.Verdict, overall[i])
		}
	}
	// The sources are named: the degraded instance reports counters, the
	// clean (stock) one does not.
	r := reviewAt(degraded, 1, Thresholds{})
	if it := itemOf(t, r, "auth_failures"); !strings.Contains(it.Note, "possible attack") || !strings.Contains(it.Figure, "at most 36 in 15m") {
		t.Errorf("auth_failures: %+v", it)
	}
	if it := itemOf(t, r, "error_rate"); strings.Contains(it.Note, "daemon's own") {
		t.Errorf("error_rate comes from the instance's counters: %+v", it)
	}
}

// TestEveryChecklistItemCovered: the golden reviews between them hold
// every item the issue lists, each with a figure.
func TestEveryChecklistItemCovered(t *testing.T) {
	clean, degraded := timelines(t)
	want := []string{
		"api_responsive", "no_error_spikes", "fps_stable", "memory_stable", "vr_initialized",
		"fps_trend", "memory_trend", "request_latency", "error_rate", "auth_failures", "rate_limiting", "nothing_suspicious",
		"uptime", "total_requests", "errors", "restarts", "checks_pass_rate",
	}
	for _, ms := range [][]Minute{clean, degraded} {
		var seen []string
		for i := range 3 {
			r := reviewAt(ms, i, Thresholds{})
			for _, it := range r.Items {
				seen = append(seen, it.Name)
				if it.Figure == "" || it.Title == "" {
					t.Errorf("%s %s has no figure or title: %+v", r.Name, it.Name, it)
				}
			}
		}
		for _, name := range want {
			if !slices.Contains(seen, name) {
				t.Errorf("no review has %s", name)
			}
		}
	}
}

// TestLeakProjectionWithinTenPercent is the numeric acceptance
// line: the degraded timeline leaks 15 MB/min from +3h52m; at the hour-4
// review's end memory is at 295 MB, 7 minutes from 400 MB.
func TestLeakProjectionWithinTenPercent(t *testing.T) {
	_, degraded := timelines(t)
	tl := degradedTimeline()
	r := reviewAt(degraded, 1, Thresholds{})
	w := newWindow(Input{StartedAt: timelineStart, Offset: 4 * time.Hour, Now: r.ComputedAt, Minutes: degraded})
	mt := w.memory()
	end := w.end.Sub(timelineStart)
	trueETA := time.Duration((400 - tl.memoryAt(end)) / leakRate * float64(time.Minute))
	if !mt.reaches || relErr(mt.eta, trueETA) > 0.10 {
		t.Fatalf("projected %v (reaches %v), true %v: more than 10%% off", mt.eta, mt.reaches, trueETA)
	}
	if math.Abs(mt.recent.Slope-leakRate)/leakRate > 0.05 {
		t.Errorf("leak slope %.2f MB/min, want %.0f", mt.recent.Slope, leakRate)
	}
	t.Logf("projected %v, true %v", mt.eta, trueETA)
}

func relErr(got, want time.Duration) float64 {
	return math.Abs(float64(got-want)) / float64(want)
}

// leakMinutes is a window of n minutes of memory, flat at base with ±amp
// noise, leaking rate MB/min from minute onset, as the Recorder would
// roll it up (the mean at each minute's middle).
func leakMinutes(start time.Time, n int, base, amp, rate float64, onset int, seed uint64) []Minute {
	out := make([]Minute, n)
	for i := range out {
		mid := float64(i) + 0.5
		v := base + amp*noise(seed, uint64(i))
		if mid > float64(onset) {
			v += rate * (mid - float64(onset))
		}
		out[i] = Minute{At: start.Add(time.Duration(i) * time.Minute), MemorySamples: 12, MemoryMeanMB: v, MemoryMaxMB: v + 1, TelemetryConnected: true}
	}
	return out
}

// TestLeakProjectionTable: a 15 MB/min leak starting at various points of
// windows of various lengths is projected within 10% of the truth, and a
// flat series projects nothing.
func TestLeakProjectionTable(t *testing.T) {
	start := testkit.BaseTime(t)
	for _, tc := range []struct {
		name        string
		minutes     int
		base, amp   float64
		rate        float64
		leakMinutes int // before the window's end
	}{
		{"hour-1, leak in the last 8 minutes", 60, 200, 2, 15, 8},
		{"hour-4, leak in the last 12 minutes", 240, 150, 3, 15, 12},
		{"hour-4, leak in the last 5 minutes", 240, 250, 3, 15, 5},
		{"hour-24, leak in the last 15 minutes", 1440, 140, 3, 15, 15},
		{"hour-4, slow leak all along", 240, 100, 2, 0.5, 240},
		{"hour-24, slow leak from the middle", 1440, 150, 3, 0.2, 720},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onset := tc.minutes - tc.leakMinutes
			ms := leakMinutes(start, tc.minutes, tc.base, tc.amp, tc.rate, onset, 7)
			w := newWindow(Input{StartedAt: start, Offset: time.Duration(tc.minutes) * time.Minute, Now: start.Add(24 * 30 * time.Hour), Minutes: ms})
			mt := w.memory()
			level := tc.base + tc.rate*float64(tc.leakMinutes)
			trueETA := time.Duration((400 - level) / tc.rate * float64(time.Minute))
			if !mt.reaches || relErr(mt.eta, trueETA) > 0.10 {
				t.Fatalf("projected %v (reaches %v), true %v", mt.eta, mt.reaches, trueETA)
			}
		})
	}
	for seed := range uint64(20) {
		ms := leakMinutes(start, 240, 210, 3, 0, 0, seed)
		w := newWindow(Input{StartedAt: start, Offset: 4 * time.Hour, Now: start.Add(5 * time.Hour), Minutes: ms})
		if mt := w.memory(); mt.reaches && mt.eta <= 24*time.Hour {
			t.Errorf("seed %d: a flat series projects 400 MB in %v (slope %.3f, change %v)", seed, mt.eta, mt.recent.Slope, mt.changed)
		}
	}
}
