package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// BenchmarkFleetFootprint is the memory half of the fleet figures in one
// process: the daemon, on its defaults, watches a simulated fleet (default
// 100 instances; FOOTPRINT_TARGETS sets another count) through a target
// file until every target's stream has delivered frames, then a few more
// seconds; it reports the live heap, goroutine stacks and goroutines the
// daemon added, per target. The simulated instances run in the same process, so the
// figures include their side of each connection (a WebSocket and its
// goroutines), which the daemon's changes do not move.
// FOOTPRINT_PROFILE_DIR names a folder for the profiles taken at the end:
// heap.pb.gz (go tool pprof -sample_index=inuse_space) and goroutine.txt.
func BenchmarkFleetFootprint(b *testing.B) {
	n := 100
	if s := os.Getenv("FOOTPRINT_TARGETS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("FOOTPRINT_TARGETS=%q: %v", s, err)
		}
	}
	if os.Getenv("FOOTPRINT_PROFILE_DIR") != "" {
		runtime.MemProfileRate = 4096 // the default 512 KiB blurs per-target costs
	}
	for range b.N {
		fp := fleetFootprint(b, n)
		b.ReportMetric(fp.heap/float64(n)/1024, "heap-KiB/target")
		b.ReportMetric(fp.stack/float64(n)/1024, "stack-KiB/target")
		b.ReportMetric(fp.goroutines/float64(n), "goroutines/target")
	}
}

// footprint is what the daemon added to the process beyond the idle
// fleet's: live heap and goroutine stacks (bytes), and goroutines.
type footprint struct{ heap, stack, goroutines float64 }

// fleetFootprint runs the daemon on n simulated targets and measures what
// it added.
func fleetFootprint(b *testing.B, n int) footprint {
	ctx := b.Context()
	fleet, err := sim.StartFleet(ctx, sim.FleetOptions{Instances: n, ControlAddress: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = fleet.Close() }()
	before := measure()

	dir := b.TempDir()
	targets := filepath.Join(dir, "targets")
	if err := os.Mkdir(targets, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := fleet.WriteTargetFile(filepath.Join(targets, "sims.yaml")); err != nil {
		b.Fatal(err)
	}
	cfg := testkit.WriteFileIn(b, dir, "config.yaml", "target_files: [targets/*.yaml]\n")
	d := startDaemon(b, cfg, daemonSetup{})
	defer func() { _ = d.stop() }()
	testkit.Eventually(b, 60*time.Second, "every instance sending frames", func() (bool, string) {
		got := instancesSending(fleet)
		return got == n, fmt.Sprintf("%d of %d instances sending frames", got, n)
	})
	// A few seconds of frames: buffers, windows and the first rounds'
	// results in place. (A 2 Hz stream's sample ring reaches its full
	// 2-minute span later: 8 KiB more per target.)
	time.Sleep(3 * time.Second)
	after := measure()
	if dir := os.Getenv("FOOTPRINT_PROFILE_DIR"); dir != "" {
		writeProfile(b, filepath.Join(dir, "heap.pb.gz"), "heap", 0)
		writeProfile(b, filepath.Join(dir, "goroutine.txt"), "goroutine", 1)
	}
	return footprint{heap: after.heap - before.heap, stack: after.stack - before.stack, goroutines: after.goroutines - before.goroutines}
}

func writeProfile(b *testing.B, path, name string, debug int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := pprof.Lookup(name).WriteTo(f, debug); err != nil {
		b.Fatal(err)
	}
}

// measure reads the process's footprint after a full collection.
func measure() footprint {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{heap: float64(ms.HeapInuse), stack: float64(ms.StackInuse), goroutines: float64(runtime.NumGoroutine())}
}

// instancesSending counts the fleet's instances that have sent frames.
func instancesSending(fleet *sim.Fleet) int {
	n := 0
	for _, name := range fleet.Names() {
		s, _ := fleet.Sim(name)
		for _, c := range s.Stats().Clients {
			if c.FramesSent > 0 {
				n++
				break
			}
		}
	}
	return n
}
