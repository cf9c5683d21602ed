package review

import (
	"testing"
	"time"
)

// BenchmarkComputeHour24 computes the day review of the degraded timeline:
// 1,440 minutes, every item, the change-point search and the sparklines.
func BenchmarkComputeHour24(b *testing.B) {
	ms := degradedTimeline().minutes(b)
	b.ResetTimer()
	for b.Loop() {
		reviewAt(ms, 2, Thresholds{})
	}
}

// BenchmarkRecorderMinute feeds one minute of 10 Hz telemetry, two polls
// and a round of checks, and flushes it: the monitor's cost per target
// per minute.
func BenchmarkRecorderMinute(b *testing.B) {
	rec := NewRecorder(RecorderOptions{Settle: -1})
	samples := make([]Sample, 600)
	lat := make([]time.Duration, 8)
	for i := range samples {
		samples[i] = Sample{FPS: 90 + noise(1, uint64(i)), HasFPS: true, MemoryMB: 210, HasMemory: i%50 == 0}
	}
	for i := range lat {
		lat[i] = time.Duration(40+i) * time.Millisecond
	}
	at := t0
	for b.Loop() {
		for i := range samples {
			samples[i].At = at.Add(time.Duration(i) * 100 * time.Millisecond)
		}
		rec.ObserveSamples(samples)
		rec.ObserveHTTP(at, 200, false)
		rec.ObserveHTTP(at.Add(30*time.Second), 200, false)
		rec.ObserveChecks(CheckRound{At: at, Passed: 10, Total: 10, Latencies: lat, RateLimit: RateLimitPassed})
		at = at.Add(time.Minute)
		if len(rec.Flush(at)) != 1 {
			b.Fatal("no minute flushed")
		}
	}
}
