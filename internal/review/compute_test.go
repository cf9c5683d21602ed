package review

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// testStart is where the item tests' minutes start: an hour before
// testkit.BaseTime (set by TestMain).
var testStart time.Time

// hourOf is an hour of minutes, each made by f (which sees the index and
// a minute with At set).
func hourOf(n int, f func(i int, m *Minute)) []Minute {
	out := make([]Minute, n)
	for i := range out {
		out[i].At = testStart.Add(time.Duration(i) * time.Minute)
		f(i, &out[i])
	}
	return out
}

// computeOver computes a review of kind over the minutes, due at their end.
func computeOver(kind Kind, ms []Minute) Review {
	off := time.Duration(len(ms)) * time.Minute
	return Compute(Input{Target: "t", DeploymentID: "d", StartedAt: testStart, Offset: off, Kind: kind, Now: testStart.Add(off + time.Minute), Minutes: ms})
}

// TestItemThresholds walks each item across its thresholds (the defaults:
// the checklist's figures).
func TestItemThresholds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name    string
		kind    Kind
		item    string
		minutes []Minute
		want    Verdict
		figure  string // a part of the figure, or of the note, if set
	}{
		// api_responsive / checks_pass_rate: pass ≥ 99%, warn ≥ 95%.
		{"api 99% passes", KindHour1, "api_responsive", hourOf(10, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 10, 10-boolInt(i == 0) }), Pass, "99.0% of 100 checks"},
		{"api 98.9% warns", KindHour1, "api_responsive", hourOf(1, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 1000, 989 }), Warn, "98.9%"},
		{"api 95% warns", KindHour1, "api_responsive", hourOf(1, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 100, 95 }), Warn, "95.0%"},
		{"api 94.9% fails", KindHour1, "api_responsive", hourOf(1, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 1000, 949 }), Fail, "94.9%"},
		{"api without checks warns", KindHour1, "api_responsive", hourOf(5, func(int, *Minute) {}), Warn, "no checks"},
		{"pass rate 100%", KindHour24, "checks_pass_rate", hourOf(3, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 10, 10 }), Pass, "100% of 30"},
		{"pass rate 90% fails", KindHour24, "checks_pass_rate", hourOf(3, func(i int, m *Minute) { m.Checks, m.ChecksPassed = 10, 9 }), Fail, "90.0%"},

		// fps_stable: pass ≥ 95% in band, warn ≥ 90%.
		{"fps 95% in band passes", KindHour1, "fps_stable", hourOf(1, func(i int, m *Minute) { fps(m, 100, 95, 90, 80) }), Pass, "95.0% of 100 samples"},
		{"fps 94% warns", KindHour1, "fps_stable", hourOf(1, func(i int, m *Minute) { fps(m, 100, 94, 90, 80) }), Warn, "94.0%"},
		{"fps 90% warns", KindHour1, "fps_stable", hourOf(1, func(i int, m *Minute) { fps(m, 100, 90, 90, 80) }), Warn, "90.0%"},
		{"fps 89% fails", KindHour1, "fps_stable", hourOf(1, func(i int, m *Minute) { fps(m, 100, 89, 90, 80) }), Fail, "89.0%"},
		{"fps without samples warns", KindHour1, "fps_stable", hourOf(3, func(int, *Minute) {}), Warn, "no FPS samples"},

		// memory_stable: fail at 400 MB, warn when the trend reaches it within 24 h.
		{"memory 399 MB flat passes", KindHour1, "memory_stable", hourOf(30, func(i int, m *Minute) { mem(m, 399, 399) }), Pass, "max 399 MB"},
		{"memory 400 MB fails", KindHour1, "memory_stable", hourOf(30, func(i int, m *Minute) { mem(m, 200, float64(200+200*boolInt(i == 7))) }), Fail, "reached 400 MB at +7m"},
		{"memory growing 0.2 MB/min warns", KindHour1, "memory_stable", hourOf(60, func(i int, m *Minute) { mem(m, 200+0.2*float64(i), 201+0.2*float64(i)) }), Warn, "400 MB in 15h40m"},
		{"memory growing 0.1 MB/min passes", KindHour1, "memory_stable", hourOf(60, func(i int, m *Minute) { mem(m, 200+0.1*float64(i), 201+0.1*float64(i)) }), Pass, "+0.10 MB/min"},
		{"memory without samples warns", KindHour1, "memory_stable", hourOf(3, func(int, *Minute) {}), Warn, "no memory samples"},

		// memory_trend: fail within 1 h, warn within 24 h or after a peak above the ceiling.
		{"memory trend 5 MB/min from 300 fails", KindHour4, "memory_trend", hourOf(60, func(i int, m *Minute) { mem(m, 100+5*float64(i), 101+5*float64(i)) }), Fail, "400 MB in 30s"},
		{"memory trend 1 MB/min from 200 warns", KindHour4, "memory_trend", hourOf(60, func(i int, m *Minute) { mem(m, 140+float64(i), 141+float64(i)) }), Warn, "400 MB in 3h20m"},
		{"memory trend flat after a restart, peak above, warns", KindHour24, "memory_trend", hourOf(60, func(i int, m *Minute) {
			if i < 30 {
				mem(m, 200+10*float64(i), 200+10*float64(i))
			} else {
				mem(m, 200, 201)
			}
			m.Restarts = boolInt(i == 30)
		}), Warn, "since the restart at +30m"},

		// fps_trend: fail below the band, warn when falling out of it within 24 h.
		{"fps trend flat passes", KindHour4, "fps_trend", hourOf(60, func(i int, m *Minute) { fps(m, 60, 60, 90, 88) }), Pass, "±0.00 FPS/h"},
		{"fps trend −0.5 FPS/h from 90 warns", KindHour4, "fps_trend", hourOf(120, func(i int, m *Minute) { fps(m, 60, 60, 91-0.5*float64(i)/60, 88) }), Warn, "below 85 FPS in 10h"},
		{"fps trend ending below 85 fails", KindHour4, "fps_trend", hourOf(60, func(i int, m *Minute) { fps(m, 60, 0, 84, 80) }), Fail, "below 85 FPS"},

		// request_latency: warn p95 > 500 ms, fail p95 > 2 s.
		{"latency p95 500 ms passes", KindHour4, "request_latency", hourOf(10, func(i int, m *Minute) { m.Checks, m.LatencyP50, m.LatencyP95 = 10, 0.05, 0.5 }), Pass, "p50 50 ms, p95 500 ms"},
		{"latency p95 501 ms warns", KindHour4, "request_latency", hourOf(10, func(i int, m *Minute) { m.Checks, m.LatencyP50, m.LatencyP95 = 10, 0.05, 0.501 }), Warn, "p95 above 500 ms"},
		{"latency p95 2 s warns", KindHour4, "request_latency", hourOf(10, func(i int, m *Minute) { m.Checks, m.LatencyP50, m.LatencyP95 = 10, 0.05, 2 }), Warn, "p95 2.00 s"},
		{"latency p95 2.1 s fails", KindHour4, "request_latency", hourOf(10, func(i int, m *Minute) { m.Checks, m.LatencyP50, m.LatencyP95 = 10, 0.05, 2.1 }), Fail, "p95 above 2.00 s"},
		{"latency: one slow minute in twenty is below the p95", KindHour4, "request_latency", hourOf(40, func(i int, m *Minute) {
			m.Checks, m.LatencyP50, m.LatencyP95 = 10, 0.05, 0.1+2.9*float64(boolInt(i%20 == 0))
		}), Pass, "p95 100 ms"},

		// error_rate / errors: warn > 1%, fail > 5%.
		{"error rate 1% passes", KindHour4, "error_rate", hourOf(10, func(i int, m *Minute) { m.OwnRequests, m.OwnErrors = 100, 1 }), Pass, "1.00% (10 errors in 1,000 requests)"},
		{"error rate 1.1% warns", KindHour4, "error_rate", hourOf(10, func(i int, m *Minute) {
			m.Requests, m.Errors = f(float64(1000*i)), f(float64(11*i))
		}), Warn, "1.10%"},
		{"error rate 5.1% fails", KindHour24, "errors", hourOf(10, func(i int, m *Minute) { m.OwnRequests, m.OwnErrors = 1000, 51 }), Fail, "510 errors in 10,000 requests (5.10%)"},
		{"errors without requests warn", KindHour24, "errors", hourOf(10, func(int, *Minute) {}), Warn, "no requests seen"},

		// no_error_spikes: above 3× the median, above 5% and at least 3 errors.
		{"error spike fails", KindHour1, "no_error_spikes", hourOf(20, func(i int, m *Minute) {
			m.OwnRequests, m.OwnErrors = 100, 1+20*boolInt(i == 12)
		}), Fail, "21 errors (21.0%) at +12m"},
		{"errors at 3× the median are no spike", KindHour1, "no_error_spikes", hourOf(20, func(i int, m *Minute) {
			m.OwnRequests, m.OwnErrors = 100, 6+12*boolInt(i == 12)
		}), Pass, "worst 18 at +12m"},
		{"errors at 5% of requests are no spike", KindHour1, "no_error_spikes", hourOf(20, func(i int, m *Minute) {
			m.OwnRequests, m.OwnErrors = 1000, 5+45*boolInt(i == 12)
		}), Pass, "median 5 errors/min"},
		{"two failed requests in a quiet minute are no spike", KindHour1, "no_error_spikes", hourOf(20, func(i int, m *Minute) {
			m.OwnRequests, m.OwnErrors = 2, 2*boolInt(i == 12)
		}), Pass, "worst 2"},
		{"counters: a reset is not a spike", KindHour1, "no_error_spikes", hourOf(20, func(i int, m *Minute) {
			k := float64(i % 10) // the instance restarted at minute 10
			m.Requests, m.Errors = f(1000*k), f(k)
		}), Pass, "median 1 error/min"},

		// auth_failures: more than 20 in any 15 minutes.
		{"20 auth failures in 15 minutes pass", KindHour4, "auth_failures", hourOf(60, func(i int, m *Minute) {
			m.OwnUnauthorized = 4 * boolInt(i >= 10 && i < 15)
		}), Pass, "at most 20 in 15m"},
		{"21 auth failures in 15 minutes fail", KindHour4, "auth_failures", hourOf(60, func(i int, m *Minute) {
			m.OwnUnauthorized = 3 * boolInt(i >= 10 && i < 17)
		}), Fail, "check the token"},
		{"24 auth failures over 16 minutes pass", KindHour4, "auth_failures", hourOf(60, func(i int, m *Minute) {
			m.OwnUnauthorized = 12 * boolInt(i == 10 || i == 25)
		}), Pass, "at most 12 in 15m"},
		{"auth counter burst fails as an attack", KindHour4, "auth_failures", hourOf(60, func(i int, m *Minute) {
			m.AuthFailures = f(float64(3 * min(max(i-20, 0), 10)))
		}), Fail, "possible attack"},
		{"an auth increase over a long gap is no burst", KindHour4, "auth_failures", hourOf(60, func(i int, m *Minute) {
			switch i {
			case 0:
				m.AuthFailures = f(0)
			case 50: // the first report after 50 minutes without any
				m.AuthFailures = f(40)
			}
		}), Pass, "40 in the window; at most 0 in 15m; 40 counted across a gap"},

		// rate_limiting: check 7 or a 429 or the instance's violations.
		{"check 7 passed", KindHour4, "rate_limiting", hourOf(5, func(i int, m *Minute) { m.RateLimitPass = i == 2 }), Pass, "check 7 drew a 429 in 1 minute"},
		{"a 429 seen", KindHour4, "rate_limiting", hourOf(5, func(i int, m *Minute) { m.OwnRateLimited = boolInt(i == 2) }), Pass, "1 429 seen"},
		{"the instance counted violations", KindHour4, "rate_limiting", hourOf(5, func(i int, m *Minute) { m.RateLimitViolations = f(float64(i)) }), Pass, "counted 4 violations"},
		{"check 7 failed", KindHour4, "rate_limiting", hourOf(5, func(i int, m *Minute) { m.RateLimitFail = i == 2 }), Fail, "rate limiting is off"},
		{"check 7 passed and failed", KindHour4, "rate_limiting", hourOf(5, func(i int, m *Minute) { m.RateLimitFail, m.RateLimitPass = i == 2, i == 3 }), Warn, "sometimes drew no 429"},
		{"not exercised", KindHour4, "rate_limiting", hourOf(5, func(int, *Minute) {}), Warn, "not exercised"},

		// vr_initialized.
		{"VR initialised", KindHour1, "vr_initialized", hourOf(5, func(i int, m *Minute) { m.VRInitialized = i == 1 }), Pass, "VR initialised at +1m"},
		{"desktop fallback", KindHour1, "vr_initialized", hourOf(5, func(i int, m *Minute) { m.DesktopFallback = i == 1 }), Warn, "desktop fallback at +1m"},
		{"no VR event after a restart", KindHour1, "vr_initialized", hourOf(5, func(i int, m *Minute) { m.Restarts = boolInt(i == 2) }), Warn, "the instance started at +2m; no VR event seen in telemetry since"},
		{"no VR event, no restart", KindHour1, "vr_initialized", hourOf(5, func(int, *Minute) {}), Pass, "not observed (the instance was not restarted)"},

		// uptime: pass ≥ 99%, warn ≥ 95% of minutes answered and connected.
		{"uptime 100%", KindHour24, "uptime", hourOf(100, func(i int, m *Minute) { m.OwnRequests, m.TelemetryConnected = 2, true }), Pass, "API answered in 100% of 100 minutes"},
		{"uptime 96% warns", KindHour24, "uptime", hourOf(100, func(i int, m *Minute) {
			m.OwnRequests, m.OwnErrors, m.TelemetryConnected = 2, 2*boolInt(i < 4), true
		}), Warn, "96.0%"},
		{"telemetry 90% fails", KindHour24, "uptime", hourOf(100, func(i int, m *Minute) { m.OwnRequests, m.TelemetryConnected = 2, i >= 10 }), Fail, "telemetry connected in 90.0%"},
		{"a 401 is an answer", KindHour24, "uptime", hourOf(10, func(i int, m *Minute) { m.OwnRequests, m.OwnUnauthorized = 1, 1 }), Pass, "no telemetry in the window"},

		// restarts: warn at 1, fail at 3.
		{"no restart", KindHour24, "restarts", hourOf(5, func(int, *Minute) {}), Pass, "no restart"},
		{"one restart warns", KindHour24, "restarts", hourOf(5, func(i int, m *Minute) { m.Restarts = boolInt(i == 2) }), Warn, "1 restart (at +2m)"},
		{"four restarts fail", KindHour24, "restarts", hourOf(5, func(i int, m *Minute) { m.Restarts = boolInt(i > 0) }), Fail, "4 restarts (at +1m, +2m, +3m, …)"},

		// total_requests: informational.
		{"total from counters", KindHour24, "total_requests", hourOf(5, func(i int, m *Minute) { m.Requests = f(float64(1000 * i)) }), Pass, "4,000 requests served"},
		{"total from the daemon", KindHour24, "total_requests", hourOf(5, func(i int, m *Minute) { m.OwnRequests = 3 }), Pass, "15 requests made by the daemon"},

		// nothing_suspicious.
		{"nothing suspicious", KindHour4, "nothing_suspicious", hourOf(30, func(i int, m *Minute) { m.OwnRequests = 10 }), Pass, "no authentication burst, no error spike"},
		{"an error spike is suspicious", KindHour4, "nothing_suspicious", hourOf(30, func(i int, m *Minute) { m.OwnRequests, m.OwnErrors = 10, 5*boolInt(i == 3) }), Warn, "1 error spike from +3m"},
		{"an auth burst fails", KindHour4, "nothing_suspicious", hourOf(30, func(i int, m *Minute) { m.OwnUnauthorized = 30 * boolInt(i == 3) }), Fail, "30 authentication failures in 15m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := computeOver(tc.kind, tc.minutes)
			it := itemOf(t, r, tc.item)
			if it.Verdict != tc.want {
				t.Errorf("%s: %s (%s; %s), want %s", tc.item, it.Verdict, it.Figure, it.Note, tc.want)
			}
			if tc.figure != "" && !strings.Contains(it.Figure+" | "+it.Note, tc.figure) {
				t.Errorf("%s: figure %q, note %q: want %q in one of them", tc.item, it.Figure, it.Note, tc.figure)
			}
			if r.Verdict.Value() > it.Verdict.Value() {
				t.Errorf("overall %s is better than %s's %s", r.Verdict, tc.item, it.Verdict)
			}
		})
	}
}

// fps sets a minute's FPS: n samples, in of them in band, mean and min.
func fps(m *Minute, n, in int, mean, low float64) {
	m.FPSSamples, m.FPSInBand, m.FPSMean, m.FPSMin, m.FPSLow1 = n, in, mean, low, low
}

// mem sets a minute's memory mean and max.
func mem(m *Minute, mean, max float64) {
	m.MemorySamples, m.MemoryMeanMB, m.MemoryMaxMB = 12, mean, max
}

// TestThresholdsOverride: a configured threshold replaces the default,
// the others keep theirs.
func TestThresholdsOverride(t *testing.T) {
	ms := hourOf(10, func(i int, m *Minute) { mem(m, 450, 450) })
	r := Compute(Input{StartedAt: testStart, Offset: 10 * time.Minute, Now: testStart.Add(time.Hour), Minutes: ms,
		Thresholds: Thresholds{MemoryMaxMB: 500}})
	if it := itemOf(t, r, "memory_stable"); it.Verdict != Pass || it.Title != "Memory stable under 500 MB" {
		t.Errorf("memory_stable with a 500 MB ceiling: %+v", it)
	}
	if got := fillThresholds(Thresholds{MemoryMaxMB: 500}); got.FPSMin != 85 || got.AuthAttackCount != 20 || got.MemoryMaxMB != 500 {
		t.Errorf("withDefaults: %+v", got)
	}
	if got := fillThresholds(Thresholds{}); got != config.DefaultReviewThresholds() {
		t.Errorf("zero thresholds: %+v, want the defaults", got)
	}
}

// TestKindItemSets: each kind has the checklist's items in its order.
func TestKindItemSets(t *testing.T) {
	want := map[Kind][]string{
		KindHour1: {"api_responsive", "no_error_spikes", "fps_stable", "memory_stable", "vr_initialized"},
		KindHour4: {"api_responsive", "no_error_spikes", "fps_stable", "memory_stable", "vr_initialized",
			"fps_trend", "memory_trend", "request_latency", "error_rate", "auth_failures", "rate_limiting", "nothing_suspicious"},
		KindHour24: {"uptime", "total_requests", "errors", "restarts", "checks_pass_rate", "fps_trend", "memory_trend"},
	}
	for kind, names := range want {
		if got := itemNames(computeOver(kind, nil)); !slices.Equal(got, names) {
			t.Errorf("%s: %v, want %v", kind, got, names)
		}
	}
	for i, k := range []Kind{KindHour1, KindHour1, KindHour4, KindHour24, KindHour24} {
		if got := KindForIndex(i - 1); got != k {
			t.Errorf("KindForIndex(%d) = %s, want %s", i-1, got, k)
		}
	}
	if got := itemNames(Compute(Input{StartedAt: testStart, Offset: time.Hour, Now: testStart})); !slices.Equal(got, want[KindHour1]) {
		t.Errorf("no kind: %v, want the hour-1 items", got)
	}
}

// TestOffsetName names reviews by their offsets.
func TestOffsetName(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "hour-1", 4 * time.Hour: "hour-4", 24 * time.Hour: "hour-24",
		3 * time.Minute: "minute-3", 90 * time.Minute: "minute-90", 45 * time.Second: "second-45", 0: "second-0",
	} {
		if got := OffsetName(d); got != want {
			t.Errorf("OffsetName(%v) = %q, want %q", d, got, want)
		}
	}
	r := Compute(Input{StartedAt: testStart, Offset: 3 * time.Minute, Now: testStart})
	if r.Name != "minute-3" {
		t.Errorf("default name %q", r.Name)
	}
}

// TestPartialAndCoverage: a review before its due time, or over a window
// with minutes missing, is partial, with the share it covers.
func TestPartialAndCoverage(t *testing.T) {
	full := hourOf(60, func(i int, m *Minute) { m.OwnRequests = 1 })
	gappy := slices.Concat(full[:20], full[30:]) // 10 minutes down: 83%
	tests := []struct {
		name     string
		minutes  []Minute
		now      time.Time
		partial  bool
		coverage float64
	}{
		{"complete, on time", full, testStart.Add(time.Hour), false, 1},
		{"complete, late", full, testStart.Add(3 * time.Hour), false, 1},
		{"on demand at half time", full, testStart.Add(30*time.Minute + 10*time.Second), true, 0.5},
		{"10 minutes missing", gappy, testStart.Add(time.Hour), true, 0.8333},
		{"5 minutes missing is covered enough", slices.Concat(full[:20], full[25:]), testStart.Add(time.Hour), false, 0.9167},
		{"no data", nil, testStart.Add(time.Hour), true, 0},
		{"before the start", full, testStart.Add(-time.Minute), true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compute(Input{StartedAt: testStart, Offset: time.Hour, Now: tc.now, Minutes: tc.minutes})
			if r.Partial != tc.partial || r.Coverage != tc.coverage {
				t.Errorf("partial %v, coverage %v; want %v, %v", r.Partial, r.Coverage, tc.partial, tc.coverage)
			}
			if !r.DueAt.Equal(testStart.Add(time.Hour)) || !r.ComputedAt.Equal(tc.now) {
				t.Errorf("due %v, computed %v", r.DueAt, r.ComputedAt)
			}
		})
	}
}

// TestWindowBounds: minutes before the start and from the due time on are
// not the review's, except that the counters before the start are the
// baseline of the first increase; a repeated minute keeps the last copy.
func TestWindowBounds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	start := testStart.Add(20 * time.Second) // mid-minute
	ms := []Minute{
		{At: testStart.Add(-2 * time.Minute), Requests: f(100), Errors: f(0), OwnRequests: 1000, OwnErrors: 1000},
		{At: testStart, Requests: f(200), Errors: f(50)}, // the deployment's minute: +100, 50 errors
		{At: testStart.Add(time.Minute), Requests: f(300), Errors: f(50)},
		{At: testStart.Add(time.Minute), Requests: f(400), Errors: f(50)},                                                // replaces the one before
		{At: testStart.Add(2 * time.Minute), OwnRequests: 1000, OwnErrors: 1000, Requests: f(10_000), Errors: f(10_000)}, // after the due time
	}
	r := Compute(Input{StartedAt: start, Offset: 2 * time.Minute, Kind: KindHour24, Now: start.Add(time.Hour), Minutes: ms})
	if it := itemOf(t, r, "errors"); it.Figure != "50 errors in 300 requests (16.67%)" {
		t.Errorf("errors: %q", it.Figure)
	}
	if r.Coverage != 1 || r.Partial {
		t.Errorf("coverage %v, partial %v", r.Coverage, r.Partial)
	}
}

// TestComputeNeverPanics on hostile minutes: NaNs, zero counts with
// figures, out-of-order and duplicate minutes.
func TestComputeNeverPanics(t *testing.T) {
	nan := 0.0
	nan /= nan
	ms := []Minute{
		{At: testStart.Add(5 * time.Minute), FPSSamples: 0, FPSMean: 90, MemorySamples: 1, MemoryMeanMB: nan, MemoryMaxMB: nan},
		{At: testStart, Checks: -3, ChecksPassed: 7, LatencyP95: nan, Requests: &nan},
		{At: testStart, FPSSamples: 5, FPSInBand: 9, FPSMean: nan},
	}
	for _, k := range []Kind{KindHour1, KindHour4, KindHour24} {
		r := Compute(Input{StartedAt: testStart, Offset: time.Hour, Kind: k, Now: testStart.Add(2 * time.Hour), Minutes: ms})
		if len(r.Items) == 0 || r.Verdict == "" {
			t.Errorf("%s: %+v", k, r)
		}
		if _, err := JSON(r); err != nil {
			t.Errorf("%s: JSON: %v", k, err)
		}
	}
}

// TestPlurals: the one helper agrees the noun with the count as printed,
// and every figure that counts something reads "1 minute", "2 minutes".
func TestPlurals(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{plural(0, "minute", "minutes"), "0 minutes"},
		{plural(1, "minute", "minutes"), "1 minute"},
		{plural(2, "minute", "minutes"), "2 minutes"},
		{plural(1000, "minute", "minutes"), "1,000 minutes"},
		{plural(0.6, "error/min", "errors/min"), "1 error/min"}, // printed as 1
		{plural(1.4, "error", "errors"), "1 error"},
		{plural(1.6, "error", "errors"), "2 errors"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	// Each figure over one minute of data, then over two.
	for _, tc := range []struct {
		kind     Kind
		item     string
		set      func(m *Minute)
		one, two string
	}{
		{KindHour1, "no_error_spikes", func(m *Minute) { m.OwnRequests = 10 }, "no spike in 1 minute", "no spike in 2 minutes"},
		{KindHour1, "no_error_spikes", func(m *Minute) { m.OwnRequests, m.OwnErrors = 10, 1 }, "median 1 error/min", "median 1 error/min"},
		{KindHour1, "api_responsive", func(m *Minute) { m.Checks, m.ChecksPassed = 1, 1 }, "100% of 1 check passed", "100% of 2 checks passed"},
		{KindHour1, "api_responsive", func(m *Minute) { m.Checks = 1 }, "1 check failed", "2 checks failed"},
		{KindHour1, "fps_stable", func(m *Minute) { fps(m, 1, 1, 90, 90) }, "100% of 1 sample in band", "100% of 2 samples in band"},
		{KindHour4, "request_latency", func(m *Minute) { m.Checks, m.LatencyP50, m.LatencyP95 = 1, 0.05, 0.1 }, "over 1 minute with checks", "over 2 minutes with checks"},
		{KindHour4, "error_rate", func(m *Minute) { m.OwnRequests, m.OwnErrors = 1, 1 }, "(1 error in 1 request)", "(2 errors in 2 requests)"},
		{KindHour4, "rate_limiting", func(m *Minute) { m.RateLimitPass, m.OwnRateLimited = true, 1 }, "check 7 drew a 429 in 1 minute; 1 429 seen", "check 7 drew a 429 in 2 minutes; 2 429s seen"},
		{KindHour24, "uptime", func(m *Minute) { m.OwnRequests = 1 }, "API answered in 100% of 1 minute; 0 restarts", "API answered in 100% of 2 minutes; 0 restarts"},
		{KindHour24, "uptime", func(m *Minute) { m.OwnRequests, m.Restarts = 1, 1 }, "; 1 restart", "; 2 restarts"},
		{KindHour24, "total_requests", func(m *Minute) { m.OwnRequests = 1 }, "1 request made by the daemon", "2 requests made by the daemon"},
		{KindHour24, "errors", func(m *Minute) { m.OwnRequests, m.OwnErrors = 1, 1 }, "1 error in 1 request", "2 errors in 2 requests"},
	} {
		for n, want := range map[int]string{1: tc.one, 2: tc.two} {
			it := itemOf(t, computeOver(tc.kind, hourOf(n, func(_ int, m *Minute) { tc.set(m) })), tc.item)
			// Whole words: "1 restart" must not match "1 restarts".
			if !regexp.MustCompile(regexp.QuoteMeta(want) + `($|[^a-z])`).MatchString(it.Figure + " | " + it.Note) {
				t.Errorf("%s over %d minutes: figure %q, note %q; want %q", tc.item, n, it.Figure, it.Note, want)
			}
		}
	}
	// The counts the thresholds set read right at one as well.
	one := Thresholds{AuthAttackCount: 1}
	ms := hourOf(3, func(i int, m *Minute) { m.OwnUnauthorized = 2 * boolInt(i == 1) })
	r := Compute(Input{StartedAt: testStart, Offset: 3 * time.Minute, Kind: KindHour4, Now: testStart.Add(time.Hour), Minutes: ms, Thresholds: one})
	if it := itemOf(t, r, "auth_failures"); !strings.Contains(it.Note, "more than 1 time in 15m") {
		t.Errorf("auth_failures note %q, want \"more than 1 time in 15m\"", it.Note)
	}
	if it := itemOf(t, r, "nothing_suspicious"); !strings.Contains(it.Figure, "2 authentication failures in 15m") {
		t.Errorf("nothing_suspicious figure %q", it.Figure)
	}
}

// TestVRInitializedWithoutRestart: a deployment declared on a running
// instance (`deployment start`, no restart in the window) cannot observe
// VR initialising, which happens at the instance's start: the item says
// so and passes. A deployment the instance's start began, or a restart in
// the window, still warns when no VR event follows.
func TestVRInitializedWithoutRestart(t *testing.T) {
	ms := hourOf(60, func(int, *Minute) {})
	tests := []struct {
		name            string
		instanceStarted time.Time
		minutes         []Minute
		want            Verdict
		figure, note    string
	}{
		{"declared on a running instance", testStart.Add(-3 * time.Hour), ms, Pass,
			"not observed (the instance was not restarted)", "VR initialises when the instance starts; it was running before the deployment started"},
		{"the instance's start unknown", time.Time{}, ms, Pass, "not observed (the instance was not restarted)", ""},
		{"began by the instance's start", testStart, ms, Warn, "none seen", "the instance started at +0m; no VR event seen in telemetry since"},
		{"restarted in the window", testStart.Add(-3 * time.Hour),
			hourOf(60, func(i int, m *Minute) { m.Restarts = boolInt(i == 12) }), Warn, "none seen", "the instance started at +12m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Compute(Input{StartedAt: testStart, InstanceStartedAt: tc.instanceStarted, Offset: time.Hour,
				Now: testStart.Add(time.Hour), Minutes: tc.minutes})
			it := itemOf(t, r, "vr_initialized")
			if it.Verdict != tc.want || it.Figure != tc.figure || !strings.Contains(it.Note, tc.note) {
				t.Errorf("vr_initialized: %s %q (%s), want %s %q (%s)", it.Verdict, it.Figure, it.Note, tc.want, tc.figure, tc.note)
			}
		})
	}
}
