package review

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// BenchmarkPersistAll1000Targets measures the review tick's write at 1,000
// targets: each target's Recorder holds one completed minute, and
// persistAll flushes them all into a store in a temp dir, fsynced as the
// daemon's.
func BenchmarkPersistAll1000Targets(b *testing.B) {
	names := benchTargets(1000)
	now := testkit.BaseTime(b)
	r := newPersistRig(b, b.TempDir(), func() time.Time { return now }, true, names...)
	benchTicks(b, r, &now, func(now time.Time) { r.svc.persistAll(now) })
	if ms, _, err := r.svc.loadMinutes(names[len(names)-1], time.Time{}, now); err != nil || len(ms) != b.N {
		b.Fatalf("%s has %d minutes stored (%v), want %d", names[len(names)-1], len(ms), err, b.N)
	}
}

// BenchmarkTick1000Targets measures a whole review tick at 1,000 targets,
// each with one completed minute and a full deployment history
// (config.StoreDeploymentHistory, a day apart: the two newest are within
// the reviews' horizon, their reviews delivered before the timing). The
// store does not fsync: the setup writes 50,000 deployments.
func BenchmarkTick1000Targets(b *testing.B) {
	names := benchTargets(1000)
	now := testkit.BaseTime(b)
	r := newPersistRig(b, b.TempDir(), func() time.Time { return now }, false, names...)
	for _, name := range names {
		for i := config.StoreDeploymentHistory; i > 0; i-- {
			d := store.Deployment{Target: name, Version: fmt.Sprintf("1.0.%d", i), Source: store.SourceAPI, StartedAt: now.Add(-time.Duration(i) * 24 * time.Hour)}
			if _, err := r.st.StartDeployment(d); err != nil {
				b.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	r.svc.tick(ctx, now)
	benchTicks(b, r, &now, func(now time.Time) { r.svc.tick(ctx, now) })
}

// benchTargets names n targets.
func benchTargets(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("vr-%04d", i)
	}
	return names
}

// benchTicks times tick, one call an op a minute after the last, with
// every target fed a minute before it (not timed). It reports cpu-ns/op,
// the process's user and system time per op, feeding included: fsync
// waits are wall time, not CPU.
func benchTicks(b *testing.B, r *persistRig, now *time.Time, tick func(time.Time)) {
	cpu0 := testkit.ProcessCPU(b)
	for b.Loop() {
		b.StopTimer()
		r.feed(*now)
		*now = now.Add(time.Minute)
		b.StartTimer()
		tick(*now)
	}
	b.ReportMetric(float64(testkit.ProcessCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
