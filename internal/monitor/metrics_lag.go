package monitor

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FrameLagHistogram is spacetime_telemetry_frame_lag_seconds: one
// histogram for the whole daemon, observed for every stamped frame of
// every target. A prometheus.Histogram shared by a fleet's readers moved
// its counters' cache lines between the cores on nearly every frame
// (about 220 ns an observation with two cores observing, against 7 ns for
// a shard: BenchmarkFrameLagObserve); so each running watcher counts into
// a shard of its own, and Collect adds the shards up. A shard released
// (its watcher stopped) is folded into the totals, so the histogram never
// goes down. The sum is kept in integer nanoseconds, shards and totals
// alike, so that adding them up is exact in any order: a float sum added
// in the map's order (random per scrape) could come out smaller on a later
// scrape with no new observation, which Prometheus takes for a counter
// reset.
type FrameLagHistogram struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	shards  map[*lagShard]struct{}
	retired lagTotals
}

// frameLagBuckets are the histogram's upper bounds, in seconds.
var frameLagBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// lagShard is one watcher's counts. Its watcher's frames are observed one
// at a time (under the run lock); the atomics are for Collect, which reads
// from another goroutine.
//
// The padding rounds the shard up to a multiple of 64 bytes, a cache line:
// the allocator places an object of such a size class at a multiple of its
// size, so two shards never share a line, and two watchers observing on
// different cores do not take the line from each other on every frame.
//
// The sum comes first, beside the smallest buckets: a frame's lag is
// mostly under 10 ms, so an observation writes one cache line, not two.
type lagShard struct {
	sumNs  atomic.Uint64                           // the lags' sum, in nanoseconds
	counts [len(frameLagBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	_      [(cacheLine - lagShardBytes%cacheLine) % cacheLine]byte
}

// cacheLine is the cache line size of the CPUs the daemon runs on (amd64,
// arm64), in bytes; lagShardBytes is a lagShard's size before padding.
const (
	cacheLine     = 64
	lagShardBytes = (len(frameLagBuckets) + 2) * 8
)

// lagTotals is a sum of shards.
type lagTotals struct {
	counts [len(frameLagBuckets) + 1]uint64
	sumNs  uint64
}

func newFrameLagHistogram() *FrameLagHistogram {
	return &FrameLagHistogram{
		desc: prometheus.NewDesc("spacetime_telemetry_frame_lag_seconds",
			"Time from a telemetry frame's timestamp (the instance's clock) to its rule evaluation, for frames that carry one; all targets together.",
			nil, nil),
		shards: make(map[*lagShard]struct{}),
	}
}

// acquire returns a new shard, counted from now on.
func (h *FrameLagHistogram) acquire() *lagShard {
	s := new(lagShard)
	h.mu.Lock()
	h.shards[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// release folds the shard's counts into the totals; it must not be
// observed again.
func (h *FrameLagHistogram) release(s *lagShard) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.shards, s)
	s.addTo(&h.retired)
}

// observe counts one lag of v seconds. One goroutine at a time.
func (s *lagShard) observe(v float64) {
	i := 0
	for i < len(frameLagBuckets) && v > frameLagBuckets[i] {
		i++
	}
	s.counts[i].Add(1)
	s.sumNs.Add(lagNanos(v))
}

// lagNanos is v seconds in whole nanoseconds: none for a negative lag, and
// at most math.MaxInt64 (292 years), so that one absurd timestamp cannot
// wrap the sum.
func lagNanos(v float64) uint64 {
	ns := math.Round(v * float64(time.Second))
	switch {
	case !(ns > 0): // negative, zero or NaN
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return uint64(ns)
}

func (s *lagShard) addTo(t *lagTotals) {
	for i := range s.counts {
		t.counts[i] += s.counts[i].Load()
	}
	t.sumNs += s.sumNs.Load()
}

// Describe sends the histogram's one descriptor.
func (h *FrameLagHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect sends the histogram: the released shards' totals plus the
// running ones'. The count is the buckets' sum, so the two always agree.
func (h *FrameLagHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	t := h.retired
	for s := range h.shards {
		s.addTo(&t)
	}
	h.mu.Unlock()
	buckets := make(map[float64]uint64, len(frameLagBuckets))
	var n uint64
	for i, le := range frameLagBuckets {
		n += t.counts[i]
		buckets[le] = n
	}
	n += t.counts[len(frameLagBuckets)]
	sum := float64(t.sumNs) / float64(time.Second) // one rounding, of an exact total: monotonic
	ch <- prometheus.MustNewConstHistogram(h.desc, n, sum, buckets)
}
