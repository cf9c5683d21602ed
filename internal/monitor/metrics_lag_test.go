package monitor

import (
	"math"
	"testing"
	"unsafe"

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
		if got.GetSampleCount() != count || got.GetSampleSum() != sum { // exact: nanoseconds add up in any order
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

// TestFrameLagSumNeverDecreases: the sum is a counter. Scraped again and
// again, shards released between scrapes, with no new observation it stays
// exactly where it was, whatever order Collect adds the shards in; a sum
// of floats added in map order came out a few ulps apart from scrape to
// scrape, which Prometheus reads as a reset.
func TestFrameLagSumNeverDecreases(t *testing.T) {
	h := newFrameLagHistogram()
	shards := make([]*lagShard, 512)
	for i := range shards {
		shards[i] = h.acquire()
		for j := range 3 { // awkward: no short binary fraction among them
			shards[i].observe(0.1 + float64(i)*1e-7/3 + float64(j)*math.Pi*1e-3)
		}
	}
	shards[7].observe(1e6) // a large one next to small ones, where a float sum loses most
	first := collectHistogram(t, h).GetSampleSum()
	prev := first
	for round := range 32 {
		if round%4 == 3 { // release some: their counts fold into the totals
			for _, s := range shards[:16] {
				h.release(s)
			}
			shards = shards[16:]
		}
		got := collectHistogram(t, h)
		if sum := got.GetSampleSum(); sum != prev {
			t.Fatalf("scrape %d: sum %v after %v with no new observation (%+g)", round, sum, prev, sum-prev)
		}
		if got.GetSampleCount() != 512*3+1 {
			t.Fatalf("scrape %d: count %d, want %d", round, got.GetSampleCount(), 512*3+1)
		}
	}
	shards[0].observe(0.3)
	if got := collectHistogram(t, h).GetSampleSum(); !(got > first) {
		t.Errorf("sum %v after one more observation of 0.3s, want more than %v", got, first)
	}
}

// TestLagShardFillsCacheLines: a shard is a whole number of cache lines,
// so that two watchers' shards never share one.
func TestLagShardFillsCacheLines(t *testing.T) {
	if size := unsafe.Sizeof(lagShard{}); size%cacheLine != 0 {
		t.Errorf("lagShard is %d bytes, not a multiple of %d", size, cacheLine)
	}
}

// TestLagNanos: negative and NaN lags count as none, an absurd one is
// capped, so the sum cannot wrap.
func TestLagNanos(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want uint64
	}{
		{-1, 0}, {math.NaN(), 0}, {0, 0}, {0.0015, 1_500_000}, {1e-10, 0},
		{1e12, math.MaxInt64}, {math.Inf(1), math.MaxInt64},
	} {
		if got := lagNanos(c.v); got != c.want {
			t.Errorf("lagNanos(%v) = %d, want %d", c.v, got, c.want)
		}
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
