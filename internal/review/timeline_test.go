package review

import (
	"math"
	"testing"
	"time"
)

// A deterministic synthetic deployment, fed through a Recorder the way the
// monitor feeds it (telemetry handed over once a minute, a round of checks
// every 5 minutes, two polls a minute, /status counters once a minute) and
// flushed once a minute: the minutes the golden reviews are computed from.

// timelineStart is the deployment's start: 20 s into a minute, so that the
// windows' minute arithmetic is exercised; 09:30:20 on testkit.BaseTime's
// day (set by TestMain).
var timelineStart time.Time

// span is a stretch of the timeline, as offsets from the start: [from, to).
type span struct{ from, to time.Duration }

func (s span) has(t time.Duration) bool { return t >= s.from && t < s.to }

// timeline describes a deployment's 25 hours. The zero value is a clean
// run on the stock server: FPS 88–92, memory 207–213 MB, fast checks that
// all pass, check 7 passing, VR initialised, no counters.
type timeline struct {
	hours    int
	counters bool // the instance reports its own counters (a patched build)

	fpsDips  []span        // FPS about 62 (a heavy scene)
	fpsDrift float64       // FPS per hour, from the start
	leak     time.Duration // from here memory grows leakRate until the instance goes down
	errors   []span        // error bursts: a 20% error rate
	elevated span          // a 10% error rate
	auth     span          // authFailuresPerMinute extra 401s on the instance
	down     span          // instance down; restarted (counters reset) at down.to
	slow     time.Duration // from here check latencies are 300–900 ms
	desktop  bool          // telemetry shows the desktop fallback, not VR
	noRL     bool          // check 7 does not run; no 429 is ever seen
}

const (
	leakRate               = 15.0 // MB/min, the leak
	leakBase               = 180.0
	authFailuresPerMinute  = 3 // 30 in 10 minutes
	instanceRequestsPerMin = 600
)

// cleanTimeline is a healthy deployment: every item passes.
func cleanTimeline() timeline { return timeline{hours: 25} }

// degradedTimeline has FPS dips, a 15 MB/min leak from +3h52m (memory at
// +4h00m is 300 MB: 400 MB is 6m40s away), error spikes, 30 auth failures
// in 10 minutes, slow checks, the desktop fallback, no rate limiting seen,
// and a restart after 20 minutes down at +4h08m.
func degradedTimeline() timeline {
	return timeline{
		hours:    25,
		counters: true,
		fpsDips:  []span{{20 * time.Minute, 24 * time.Minute}, {130 * time.Minute, 145 * time.Minute}},
		fpsDrift: -0.18,
		leak:     3*time.Hour + 52*time.Minute,
		errors:   []span{{40 * time.Minute, 42 * time.Minute}},
		elevated: span{150 * time.Minute, 170 * time.Minute},
		auth:     span{3 * time.Hour, 3*time.Hour + 10*time.Minute},
		down:     span{4*time.Hour + 8*time.Minute, 4*time.Hour + 28*time.Minute},
		slow:     90 * time.Minute,
		desktop:  true,
		noRL:     true,
	}
}

// memoryAt is the instance's memory at offset t (before noise).
func (tl timeline) memoryAt(t time.Duration) float64 {
	if tl.leak > 0 && t >= tl.leak && (tl.down.to == 0 || t < tl.down.from) {
		return leakBase + leakRate*(t-tl.leak).Minutes()
	}
	if tl.leak > 0 {
		return leakBase
	}
	return 210
}

// noise is a deterministic value in [-1, 1) for (seed, i): splitmix64, so
// that the golden files never depend on a library's random stream.
func noise(seed, i uint64) float64 {
	z := seed*0x9e3779b97f4a7c15 + i*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11)/float64(1<<52) - 1
}

// minutes runs the timeline through a Recorder and returns what it
// flushed: 10 minutes before the deployment (the previous version's
// counters), then tl.hours hours.
func (tl timeline) minutes(t testing.TB) []Minute {
	t.Helper()
	rec := NewRecorder(RecorderOptions{})
	var out []Minute
	var requests, errs, auth float64 = 1_000_000, 2_000, 500 // the previous process's counters
	first := timelineStart.Truncate(time.Minute).Add(-10 * time.Minute)
	end := timelineStart.Add(time.Duration(tl.hours) * time.Hour)
	for i := uint64(0); ; i++ {
		m0 := first.Add(time.Duration(i) * time.Minute)
		if !m0.Before(end) {
			break
		}
		off := m0.Sub(timelineStart) // may be negative: before the deployment
		up := !tl.down.has(off)
		if tl.down.to > 0 && off >= tl.down.to && off-time.Minute < tl.down.to {
			// Back up: the instance restarted, its counters start over.
			rec.ObserveRestarts(m0.Add(30*time.Second), 1)
			rec.ObserveVR(m0.Add(35*time.Second), tl.desktop)
			requests, errs, auth = 0, 0, 0
		}
		if off > -time.Minute && off <= 0 {
			// The deployment's minute: the new process starts its counters
			// over and initialises VR (or falls back to the desktop).
			requests, errs, auth = 0, 0, 0
			rec.ObserveVR(timelineStart.Add(10*time.Second), tl.desktop)
		}

		// Telemetry, handed over at the end of the minute.
		if up {
			rec.ObserveTelemetry(m0.Add(time.Second), true)
			var samples []Sample
			for s := range 60 {
				at := m0.Add(time.Duration(s) * time.Second)
				st := at.Sub(timelineStart)
				fps := 90 + tl.fpsDrift*st.Hours() + 2*noise(1, i*60+uint64(s))
				for _, d := range tl.fpsDips {
					if d.has(st) {
						fps = 62 + 3*noise(2, i*60+uint64(s))
					}
				}
				smp := Sample{At: at, FPS: fps, HasFPS: true}
				if s%5 == 0 {
					smp.MemoryMB, smp.HasMemory = tl.memoryAt(st)+3*noise(3, i*60+uint64(s)), true
				}
				samples = append(samples, smp)
			}
			rec.ObserveSamples(samples)
		} else {
			rec.ObserveTelemetry(m0.Add(time.Second), false)
		}

		// The daemon's two polls a minute.
		errorRate := 0.002
		for _, e := range tl.errors {
			if e.has(off) {
				errorRate = 0.2
			}
		}
		if tl.elevated.has(off) {
			errorRate = 0.1
		}
		for p := range 2 {
			at := m0.Add(time.Duration(15+30*p) * time.Second)
			switch {
			case !up:
				rec.ObserveHTTP(at, 0, true)
			case errorRate >= 0.1:
				rec.ObserveHTTP(at, 500, false)
			default:
				rec.ObserveHTTP(at, 200, false)
			}
		}

		// A round of checks every 5 minutes.
		if i%5 == 0 {
			tl.round(rec, m0.Add(20*time.Second), off, up, i)
		}

		// The instance's counters, from /status.
		if tl.counters && up {
			requests += instanceRequestsPerMin
			errs += math.Round(instanceRequestsPerMin * errorRate)
			if off >= 0 && i%5 == 0 {
				auth += 2 // check 6's deliberate probes
			}
			if tl.auth.has(off) {
				auth += authFailuresPerMinute
			}
			zero := 0.0
			rec.ObserveCounters(m0.Add(50*time.Second), Counters{
				Requests: ptr(requests), Errors: ptr(errs), AuthFailures: ptr(auth), RateLimitViolations: &zero,
			})
		}

		out = append(out, rec.Flush(m0.Add(time.Minute+5*time.Second))...)
	}
	out = append(out, rec.Flush(end.Add(10*time.Minute))...)
	if d := rec.Dropped(); d != 0 {
		t.Fatalf("the recorder dropped %d observations of the timeline", d)
	}
	return out
}

// round observes one round of checks.
func (tl timeline) round(rec *Recorder, at time.Time, off time.Duration, up bool, i uint64) {
	if !up {
		rec.ObserveChecks(CheckRound{At: at, Total: 10})
		return
	}
	passed := 10
	for _, d := range tl.fpsDips {
		if d.has(off) {
			passed -= 2 // telemetry and thresholds
		}
	}
	for _, e := range tl.errors {
		if e.has(off) {
			passed--
		}
	}
	var lat []time.Duration
	for k := range 8 {
		ms := 50 + 30*noise(4, i*8+uint64(k))
		if tl.slow > 0 && off >= tl.slow {
			ms = 600 + 300*noise(5, i*8+uint64(k))
		}
		lat = append(lat, time.Duration(ms*float64(time.Millisecond)))
		rec.ObserveHTTP(at, 200, false)
	}
	round := CheckRound{At: at, Passed: passed, Total: 10, Latencies: lat}
	if !tl.noRL {
		round.RateLimit = RateLimitPassed
		rec.ObserveHTTP(at, 429, false)
	}
	rec.ObserveChecks(round)
}

func ptr(v float64) *float64 { return &v }

// reviewAt computes the review of the timeline's minutes at offset index
// (0, 1, 2 for 1h, 4h, 24h), 2 minutes after it fell due.
func reviewAt(ms []Minute, index int, th Thresholds) Review {
	offsets := []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour}
	off := offsets[index]
	return Compute(Input{
		Target: "vr-1", DeploymentID: "d-vr-1-0930", Version: "v2.4.1",
		StartedAt: timelineStart, Offset: off, Kind: KindForIndex(index),
		Now: timelineStart.Add(off + 2*time.Minute), Minutes: ms, Thresholds: th,
	})
}
