package review

import (
	"slices"
	"time"
)

// bucket is one open minute of a Recorder: the Minute's exact fields plus
// what its percentiles need until the minute is flushed.
type bucket struct {
	m          Minute
	fpsSum     float64
	fps        decimated // FPS samples for the 1% low
	memSum     float64
	latency    decimated // request durations, seconds, for p50/p95
	countersAt time.Time // when the minute's counters were reported
}

func (b *bucket) addFPS(v float64, o RecorderOptions) {
	if b.m.FPSSamples == 0 || v < b.m.FPSMin {
		b.m.FPSMin = v
	}
	b.m.FPSSamples++
	b.fpsSum += v
	if v >= o.FPSMin && v <= o.FPSMax {
		b.m.FPSInBand++
	}
	b.fps.add(v, o.MaxSamplesPerMinute)
}

func (b *bucket) addMemory(v float64) {
	if b.m.MemorySamples == 0 || v > b.m.MemoryMaxMB {
		b.m.MemoryMaxMB = v
	}
	b.m.MemorySamples++
	b.memSum += v
}

// minute completes the rollup: means and percentiles.
func (b *bucket) minute() Minute {
	m := b.m
	if m.FPSSamples > 0 {
		m.FPSMean = b.fpsSum / float64(m.FPSSamples)
		m.FPSLow1 = b.fps.percentile(0.01)
	}
	if m.MemorySamples > 0 {
		m.MemoryMeanMB = b.memSum / float64(m.MemorySamples)
	}
	if len(b.latency.kept) > 0 {
		s := slices.Sorted(slices.Values(b.latency.kept))
		m.LatencyP50, m.LatencyP95 = percentileSorted(s, 0.50), percentileSorted(s, 0.95)
	}
	return m
}

// decimated keeps at most a bound of values evenly spread through a
// minute: once full it keeps every second value it holds and from then on
// accepts every second value offered, then every fourth, and so on. It is
// deterministic (no sampling randomness in golden files) and O(1) per
// value apart from the occasional halving.
type decimated struct {
	kept   []float64
	stride int // accept one value in stride; 0 means 1
	skip   int // values to skip before the next accepted one
}

func (d *decimated) add(v float64, bound int) {
	if d.skip > 0 {
		d.skip--
		return
	}
	if len(d.kept) >= bound {
		d.kept = halve(d.kept)
		d.stride = max(d.stride, 1) * 2
	}
	d.kept = append(d.kept, v)
	d.skip = max(d.stride, 1) - 1
}

// halve keeps the values at even positions, in place.
func halve(s []float64) []float64 {
	n := 0
	for i := 0; i < len(s); i += 2 {
		s[n] = s[i]
		n++
	}
	return s[:n]
}

// percentile sorts a copy: at most MaxSamplesPerMinute values, once per
// minute.
func (d *decimated) percentile(p float64) float64 { return percentile(d.kept, p) }
