package review

import (
	"math"
	"sync"
	"testing"
	"time"
)

// t0 is a minute boundary (testkit.BaseTime, set by TestMain); the
// recorder tests work around it.
var t0 time.Time

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// flushOne flushes rec and wants exactly one minute back.
func flushOne(t *testing.T, rec *Recorder, now time.Time) Minute {
	t.Helper()
	ms := rec.Flush(now)
	if len(ms) != 1 {
		t.Fatalf("Flush(%v): %d minutes, want 1: %+v", now, len(ms), ms)
	}
	return ms[0]
}

// TestRecorderFPS: count, band share (inclusive edges), min, mean and 1% low.
func TestRecorderFPS(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	var samples []Sample
	// 200 samples: 1..200 shifted so that the band 85–95 holds 11 of them
	// (85, 86, …, 95 inclusive).
	for i := range 200 {
		samples = append(samples, Sample{At: sec(float64(i) * 0.25), FPS: float64(i + 1), HasFPS: true})
	}
	samples = append(samples,
		Sample{At: sec(50), FPS: math.NaN(), HasFPS: true}, // hostile input: ignored
		Sample{At: sec(51), FPS: -1, HasFPS: true},
		Sample{At: sec(52), FPS: math.Inf(1), HasFPS: true},
		Sample{At: sec(53), FPS: 3, HasFPS: false}, // no FPS in this frame
	)
	rec.ObserveSamples(samples)
	m := flushOne(t, rec, t0.Add(time.Minute))
	if m.FPSSamples != 200 || m.FPSInBand != 11 || m.FPSMin != 1 || m.FPSMean != 100.5 {
		t.Errorf("n %d, in band %d, min %v, mean %v; want 200, 11, 1, 100.5", m.FPSSamples, m.FPSInBand, m.FPSMin, m.FPSMean)
	}
	// The 1st percentile of 1..200, interpolated: 1 + 0.01·199 = 2.99.
	if math.Abs(m.FPSLow1-2.99) > 1e-9 {
		t.Errorf("1%% low %v, want 2.99", m.FPSLow1)
	}
	if !m.TelemetryConnected || !m.At.Equal(t0) {
		t.Errorf("minute %+v", m)
	}
}

// TestRecorderFPSBand: the band comes from the options.
func TestRecorderFPSBand(t *testing.T) {
	rec := NewRecorder(RecorderOptions{FPSMin: 60, FPSMax: 72, Settle: -1})
	rec.ObserveSamples([]Sample{{At: t0, FPS: 59.9, HasFPS: true}, {At: t0, FPS: 60, HasFPS: true}, {At: t0, FPS: 72, HasFPS: true}, {At: t0, FPS: 90, HasFPS: true}})
	if m := flushOne(t, rec, t0.Add(time.Minute)); m.FPSInBand != 2 {
		t.Errorf("in band %d, want 2 (60 and 72)", m.FPSInBand)
	}
}

// TestRecorderManySamples: beyond MaxSamplesPerMinute the counts stay
// exact and the 1% low stays close, from a bounded, even subset.
func TestRecorderManySamples(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1, MaxSamplesPerMinute: 100})
	var samples []Sample
	for i := range 6000 { // 100 Hz: 1..6000 in a shuffled but deterministic order
		v := float64((i*7919)%6000 + 1)
		samples = append(samples, Sample{At: sec(float64(i) / 100), FPS: v, HasFPS: true})
	}
	rec.ObserveSamples(samples)
	rec.mu.Lock()
	kept := len(rec.open[t0].fps.kept)
	rec.mu.Unlock()
	if kept > 100 || kept < 50 {
		t.Errorf("kept %d samples, want 50–100", kept)
	}
	m := flushOne(t, rec, t0.Add(time.Minute))
	if m.FPSSamples != 6000 || m.FPSMin != 1 || m.FPSMean != 3000.5 {
		t.Errorf("n %d, min %v, mean %v: the exact figures must stay exact", m.FPSSamples, m.FPSMin, m.FPSMean)
	}
	if m.FPSLow1 < 1 || m.FPSLow1 > 300 { // exact: 60.99
		t.Errorf("1%% low %v, want about 61", m.FPSLow1)
	}
}

// TestRecorderMemoryAndChecks: memory max and mean; checks summed;
// latency p50/p95 over the minute's requests; check 7's outcomes.
func TestRecorderMemoryAndChecks(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	rec.ObserveSamples([]Sample{
		{At: sec(1), MemoryMB: 200, HasMemory: true},
		{At: sec(2), MemoryMB: 260, HasMemory: true},
		{At: sec(3), MemoryMB: 230, HasMemory: true, FPS: 90, HasFPS: true},
	})
	var lat []time.Duration
	for i := 1; i <= 20; i++ {
		lat = append(lat, time.Duration(i)*10*time.Millisecond) // 10..200 ms
	}
	rec.ObserveChecks(CheckRound{At: sec(10), Passed: 9, Total: 10, Latencies: lat[:10], RateLimit: RateLimitPassed})
	rec.ObserveChecks(CheckRound{At: sec(40), Passed: 12, Total: 10, Latencies: lat[10:], RateLimit: RateLimitFailed}) // Passed capped at Total
	m := flushOne(t, rec, t0.Add(time.Minute))
	if m.MemorySamples != 3 || m.MemoryMaxMB != 260 || m.MemoryMeanMB != 230 {
		t.Errorf("memory n %d, max %v, mean %v", m.MemorySamples, m.MemoryMaxMB, m.MemoryMeanMB)
	}
	if m.Checks != 20 || m.ChecksPassed != 19 || !m.RateLimitPass || !m.RateLimitFail {
		t.Errorf("checks %d/%d, rate limit pass %v fail %v", m.ChecksPassed, m.Checks, m.RateLimitPass, m.RateLimitFail)
	}
	// p50 of 10..200 ms: 105 ms; p95: 10·(1 + 0.95·19) = 190.5 ms.
	if math.Abs(m.LatencyP50-0.105) > 1e-9 || math.Abs(m.LatencyP95-0.1905) > 1e-9 {
		t.Errorf("p50 %v, p95 %v; want 0.105, 0.1905", m.LatencyP50, m.LatencyP95)
	}
}

// TestRecorderHTTP classifies the daemon's own requests.
func TestRecorderHTTP(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	for _, r := range []struct {
		code   int
		failed bool
	}{{200, false}, {204, false}, {404, false}, {401, false}, {401, false}, {429, false}, {500, false}, {503, false}, {0, true}} {
		rec.ObserveHTTP(sec(5), r.code, r.failed)
	}
	m := flushOne(t, rec, t0.Add(time.Minute))
	if m.OwnRequests != 9 || m.OwnErrors != 3 || m.OwnUnauthorized != 2 || m.OwnRateLimited != 1 {
		t.Errorf("requests %d, errors %d, 401 %d, 429 %d; want 9, 3, 2, 1", m.OwnRequests, m.OwnErrors, m.OwnUnauthorized, m.OwnRateLimited)
	}
}

// TestRecorderCounters: the last value of each counter by time; a nil
// field keeps the value; an older report does not replace a newer one;
// the caller's pointers are not kept.
func TestRecorderCounters(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	req, errs, auth := 100.0, 5.0, 1.0
	rec.ObserveCounters(sec(10), Counters{Requests: &req, Errors: &errs, AuthFailures: &auth})
	req2 := 180.0
	rec.ObserveCounters(sec(40), Counters{Requests: &req2})
	old := 999.0
	rec.ObserveCounters(sec(20), Counters{Requests: &old, Errors: &old}) // arrives late: older than sec(40)
	req, req2 = -1, -1                                                   // the caller reuses its variables
	m := flushOne(t, rec, t0.Add(time.Minute))
	if m.Requests == nil || *m.Requests != 180 || m.Errors == nil || *m.Errors != 5 || m.AuthFailures == nil || *m.AuthFailures != 1 {
		t.Errorf("counters %v %v %v", deref(m.Requests), deref(m.Errors), deref(m.AuthFailures))
	}
	if m.RateLimitViolations != nil {
		t.Errorf("rate-limit violations %v, never reported", *m.RateLimitViolations)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestRecorderEvents: restarts add up; telemetry connected at any moment
// of the minute counts; VR and the desktop fallback are flags.
func TestRecorderEvents(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	rec.ObserveRestarts(sec(1), 1)
	rec.ObserveRestarts(sec(2), 2)
	rec.ObserveRestarts(sec(3), 0)
	rec.ObserveTelemetry(sec(4), false)
	rec.ObserveTelemetry(sec(5), true)
	rec.ObserveTelemetry(sec(6), false)
	rec.ObserveVR(sec(7), true)
	rec.ObserveTelemetry(sec(65), false) // the next minute: watched, not connected
	ms := rec.Flush(t0.Add(2 * time.Minute))
	if len(ms) != 2 {
		t.Fatalf("%d minutes", len(ms))
	}
	if m := ms[0]; m.Restarts != 3 || !m.TelemetryConnected || !m.DesktopFallback || m.VRInitialized {
		t.Errorf("first minute %+v", m)
	}
	if m := ms[1]; m.TelemetryConnected || !m.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("second minute %+v", m)
	}
}

// TestRecorderFlushBoundaries: a minute is handed over once it ended
// Settle ago (by default a minute), exactly once, oldest first; a late
// observation for a handed-over minute is dropped and counted.
func TestRecorderFlushBoundaries(t *testing.T) {
	rec := NewRecorder(RecorderOptions{})
	rec.ObserveHTTP(sec(59.999), 200, false) // minute 0
	rec.ObserveHTTP(sec(60), 200, false)     // minute 1
	rec.ObserveHTTP(sec(170), 200, false)    // minute 2
	if ms := rec.Flush(sec(119.999)); len(ms) != 0 {
		t.Fatalf("minute 0 handed over before it settled: %+v", ms)
	}
	// The monitor hands over minute 0's telemetry late, within Settle.
	rec.ObserveSamples([]Sample{{At: sec(30), FPS: 90, HasFPS: true}})
	m := flushOne(t, rec, sec(120))
	if !m.At.Equal(t0) || m.OwnRequests != 1 || m.FPSSamples != 1 {
		t.Errorf("minute 0: %+v", m)
	}
	if ms := rec.Flush(sec(120)); len(ms) != 0 {
		t.Errorf("minute 0 handed over twice: %+v", ms)
	}
	rec.ObserveHTTP(sec(10), 200, false) // too late for minute 0
	if rec.Dropped() != 1 {
		t.Errorf("dropped %d, want 1", rec.Dropped())
	}
	ms := rec.Flush(sec(300))
	if len(ms) != 2 || !ms[0].At.Equal(t0.Add(time.Minute)) || !ms[1].At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("minutes 1 and 2, oldest first: %+v", ms)
	}
}

// TestRecorderNoSettle: with a negative Settle a minute is handed over as
// soon as it ends.
func TestRecorderNoSettle(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	rec.ObserveHTTP(sec(59), 200, false)
	if ms := rec.Flush(sec(59.9)); len(ms) != 0 {
		t.Fatalf("handed over before it ended: %+v", ms)
	}
	flushOne(t, rec, sec(60))
}

// TestRecorderClockStepBack: after the wall clock steps back an hour, the
// recorder records again (the repeated minutes are handed over again)
// instead of dropping an hour of observations.
func TestRecorderClockStepBack(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	rec.ObserveHTTP(sec(3600), 200, false)
	flushOne(t, rec, sec(3660))
	back := sec(30) // the clock stepped back an hour
	rec.Flush(back)
	rec.ObserveHTTP(back, 200, false)
	if m := flushOne(t, rec, sec(60)); !m.At.Equal(t0) || m.OwnRequests != 1 {
		t.Errorf("after the step: %+v", m)
	}
	if rec.Dropped() != 0 {
		t.Errorf("dropped %d", rec.Dropped())
	}
}

// TestRecorderMaxPending: with nobody flushing, the oldest minutes go.
func TestRecorderMaxPending(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1, MaxPending: 3})
	for i := range 5 {
		rec.ObserveHTTP(t0.Add(time.Duration(i)*time.Minute), 200, false)
	}
	ms := rec.Flush(t0.Add(time.Hour))
	if len(ms) != 3 || !ms[0].At.Equal(t0.Add(2*time.Minute)) || rec.Dropped() != 2 {
		t.Errorf("%d minutes from %v, dropped %d; want the newest 3, 2 dropped", len(ms), ms[0].At, rec.Dropped())
	}
}

// TestRecorderConcurrent: observers and a flusher at once (run with -race);
// nothing is lost or counted twice.
func TestRecorderConcurrent(t *testing.T) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	const workers, per = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				at := t0.Add(time.Duration(i%10) * time.Minute)
				rec.ObserveHTTP(at, 200, false)
				rec.ObserveSamples([]Sample{{At: at, FPS: 90, HasFPS: true, MemoryMB: 100, HasMemory: true}})
				v := float64(w*per + i)
				rec.ObserveCounters(at, Counters{Requests: &v})
				rec.ObserveChecks(CheckRound{At: at, Passed: 1, Total: 1, Latencies: []time.Duration{time.Millisecond}})
			}
		})
	}
	var flushed []Minute
	var fmu sync.Mutex
	wg.Go(func() {
		for range 50 {
			ms := rec.Flush(t0) // nothing is complete yet: must return nothing
			fmu.Lock()
			flushed = append(flushed, ms...)
			fmu.Unlock()
		}
	})
	wg.Wait()
	flushed = append(flushed, rec.Flush(t0.Add(time.Hour))...)
	var reqs, fps, checks int
	for _, m := range flushed {
		reqs += m.OwnRequests
		fps += m.FPSSamples
		checks += m.Checks
	}
	if len(flushed) != 10 || reqs != workers*per || fps != workers*per || checks != workers*per {
		t.Errorf("%d minutes, %d requests, %d samples, %d checks; want 10 and %d each", len(flushed), reqs, fps, checks, workers*per)
	}
}
