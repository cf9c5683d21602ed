package monitor

import (
	"math"
	"sync"
	"sync/atomic"

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
// goes down.
type FrameLagHistogram struct {
	desc *prometheus.Desc

	mu      sync.Mutex
	shards  map[*lagShard]struct{}
	retired lagTotals
}

// frameLagBuckets are the histogram's upper bounds, in seconds.
var frameLagBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// lagShard is one watcher's counts. Its watcher's frames are observed one
// at a time (under the run lock), so the sum needs no compare-and-swap;
// the atomics are for Collect, which reads from another goroutine.
type lagShard struct {
	counts  [len(frameLagBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumBits atomic.Uint64
}

// lagTotals is a sum of shards.
type lagTotals struct {
	counts [len(frameLagBuckets) + 1]uint64
	sum    float64
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
	s.sumBits.Store(math.Float64bits(math.Float64frombits(s.sumBits.Load()) + v))
}

func (s *lagShard) addTo(t *lagTotals) {
	for i := range s.counts {
		t.counts[i] += s.counts[i].Load()
	}
	t.sum += math.Float64frombits(s.sumBits.Load())
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
	ch <- prometheus.MustNewConstHistogram(h.desc, n, t.sum, buckets)
}
