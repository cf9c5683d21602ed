package review

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// BenchmarkPersistAll1000Targets measures the review tick's write at 1,000
// targets: each target's Recorder holds one completed minute, and
// persistAll flushes them all into a store in a temp dir, fsynced as the
// daemon's. Feeding the Recorders is not timed. cpu-ns/op is the
// process's user and system time per op (fsync waits are wall time, not
// CPU), feeding included.
func BenchmarkPersistAll1000Targets(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("vr-%04d", i)
	}
	now := testkit.BaseTime(b)
	r := newPersistRig(b, b.TempDir(), func() time.Time { return now }, true, names...)
	cpu0 := cpuTime(b)
	for b.Loop() {
		b.StopTimer()
		r.feed(now)
		now = now.Add(time.Minute)
		b.StartTimer()
		r.svc.persistAll(now)
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
	if ms, _, err := r.svc.loadMinutes(names[len(names)-1], time.Time{}, now); err != nil || len(ms) != b.N {
		b.Fatalf("%s has %d minutes stored (%v), want %d", names[len(names)-1], len(ms), err, b.N)
	}
}

// cpuTime is the user and system time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
