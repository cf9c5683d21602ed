package monitor

import (
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// TestFrameLagHistogram: the shards add up to one histogram, each lag in
// the bucket whose bound is the first at or above it (a bound's own value
// included, as Prometheus has it), the count agreeing with the buckets;
// a released shard's counts stay, so the histogram never goes down.
func TestFrameLagHistogram(t *testing.T) {
	h := newFrameLagHistogram()
	a, b := h.acquire(), h.acquire()
	a.observe(0.001) // le=0.001 exactly
	a.observe(0.003)
	b.observe(0.003)
	b.observe(7) // above every bound: +Inf only
	check := func(when string, count uint64, sum float64, cumulative map[float64]uint64) {
		t.Helper()
		got := collectHistogram(t, h)
		if got.GetSampleCount() != count || math.Abs(got.GetSampleSum()-sum) > 1e-9 { // shards add up in any order
			t.Errorf("%s: count %d, sum %v; want %d, %v", when, got.GetSampleCount(), got.GetSampleSum(), count, sum)
		}
		for _, bk := range got.GetBucket() {
			if want := cumulative[bk.GetUpperBound()]; bk.GetCumulativeCount() != want {
				t.Errorf("%s: bucket le=%v holds %d, want %d", when, bk.GetUpperBound(), bk.GetCumulativeCount(), want)
			}
		}
	}
	upTo := func(counts map[float64]uint64) map[float64]uint64 { // per bucket to cumulative
		out := map[float64]uint64{}
		var n uint64
		for _, le := range frameLagBuckets {
			n += counts[le]
			out[le] = n
		}
		return out
	}
	check("two shards", 4, 7.007, upTo(map[float64]uint64{.001: 1, .005: 2}))
	h.release(a)
	c := h.acquire()
	c.observe(0.2)
	check("one released, one new", 5, 7.207, upTo(map[float64]uint64{.001: 1, .005: 2, .25: 1}))
	if n := testutil.CollectAndCount(h); n != 1 {
		t.Errorf("%d series, want 1", n)
	}
	if problems, err := testutil.CollectAndLint(h); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func collectHistogram(t *testing.T, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

// BenchmarkFrameLagObserve observes lags from every core at once, as a
// fleet's readers do: into one shared prometheus.Histogram (what
// TelemetryFrameLag was), and each goroutine into a shard of its own.
func BenchmarkFrameLagObserve(b *testing.B) {
	b.Run("shared", func(b *testing.B) {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lag", Buckets: frameLagBuckets[:]})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.Observe(0.003)
			}
		})
	})
	b.Run("shards", func(b *testing.B) {
		h := newFrameLagHistogram()
		b.RunParallel(func(pb *testing.PB) {
			s := h.acquire()
			for pb.Next() {
				s.observe(0.003)
			}
		})
	})
}
