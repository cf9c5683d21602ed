package monitor

import (
	"time"
)

// The windows the rules judge over: a smoothing mean, and the bucketed
// memory samples memory_growth fits its slope through.

// smootherCap bounds the samples a smoothing window holds: at the stream's
// 2–10 frames/s a 5-s window needs 10–50. A power of two, for the mask.
const smootherCap = 256

// smootherMinRoom is a smoother's first room (a power of two): a 5-s window
// of a 2 Hz stream fits.
const smootherMinRoom = 16

// smoother is the mean of the samples within a span of the latest one. Its
// room starts empty and doubles, up to smootherCap, only when the samples
// within the span fill it: a target pays for its own stream's rate (a few
// hundred bytes at 2 Hz), not for the fastest allowed (8 KiB for the two
// smoothers of every target).
type smoother struct {
	at      []time.Duration
	v       []float64
	head, n int
	sum     float64
}

func (s *smoother) reset() { s.head, s.n, s.sum = 0, 0, 0 }

// add records v at clock c and returns the mean of the samples in (c−span, c].
func (s *smoother) add(c, span time.Duration, v float64) float64 {
	for s.n > 0 && (c-s.at[s.head] >= span || s.n == smootherCap) {
		s.sum -= s.v[s.head]
		s.head = (s.head + 1) & (len(s.at) - 1)
		s.n--
	}
	if s.n == 0 {
		s.sum = 0 // drop accumulated rounding
	}
	if s.n == len(s.at) {
		s.grow()
	}
	i := (s.head + s.n) & (len(s.at) - 1)
	s.at[i], s.v[i] = c, v
	s.n++
	s.sum += v
	return s.sum / float64(s.n)
}

// grow doubles the room (at least smootherMinRoom), keeping the samples in
// order.
func (s *smoother) grow() {
	size := max(2*len(s.at), smootherMinRoom)
	at, v := make([]time.Duration, size), make([]float64, size)
	for i := range s.n {
		j := (s.head + i) & (len(s.at) - 1)
		at[i], v[i] = s.at[j], s.v[j]
	}
	s.at, s.v, s.head = at, v, 0
}

// Growth fit parameters: the window is cut into growthBuckets buckets of
// sample means, and judged only when its data spans growthMinCoverage of
// the window with at least growthMinSamples samples, so that a slope is
// never read off a few minutes after a reconnect.
const (
	growthBuckets     = 90
	growthMinCoverage = 0.8
	growthMinSamples  = 20
)

type growthBucket struct {
	k          int64 // bucket number: clock / width
	n          float64
	sumT, sumY float64 // seconds on the engine clock, MB
}

// growthWindow keeps bucketed memory samples over the growth window.
// Bucketing bounds memory and makes each fit O(growthBuckets) once per
// bucket, instead of O(samples) per sample.
type growthWindow struct {
	width   time.Duration
	b       [growthBuckets]growthBucket // closed buckets, a ring
	head, n int
	cur     growthBucket
	curOpen bool
}

func (g *growthWindow) setWindow(window time.Duration) {
	g.width = max(window/growthBuckets, time.Millisecond)
	g.reset()
}

func (g *growthWindow) reset() { g.head, g.n, g.curOpen = 0, 0, false }

// add records a memory sample and reports whether a bucket closed, the
// moment to judge the window again.
func (g *growthWindow) add(c time.Duration, y float64) (closed bool) {
	k := int64(c / g.width)
	if g.curOpen && k != g.cur.k {
		for g.n > 0 && (g.b[g.head].k <= k-growthBuckets || g.n == growthBuckets) {
			g.head = (g.head + 1) % growthBuckets
			g.n--
		}
		g.b[(g.head+g.n)%growthBuckets] = g.cur
		g.n++
		g.curOpen, closed = false, true
	}
	if !g.curOpen {
		g.cur, g.curOpen = growthBucket{k: k}, true
	}
	g.cur.n++
	g.cur.sumT += seconds(c)
	g.cur.sumY += y
	return closed
}

// growthFit is a least-squares line through the bucket means, weighted by
// their sample counts.
type growthFit struct {
	slope        float64 // MB per second
	tMean, yMean float64
	span         float64 // seconds between the first and last bucket means
}

// at is the fitted memory at time t (seconds).
func (f growthFit) at(t float64) float64 { return f.yMean + f.slope*(t-f.tMean) }

// fit returns the window's line, and false while the window is too thin
// to judge.
func (g *growthWindow) fit() (growthFit, bool) {
	if g.n < 2 {
		return growthFit{}, false
	}
	var w, st, sy float64
	for i := 0; i < g.n; i++ {
		b := &g.b[(g.head+i)%growthBuckets]
		w, st, sy = w+b.n, st+b.sumT, sy+b.sumY
	}
	f := growthFit{tMean: st / w, yMean: sy / w}
	var sxx, sxy float64
	for i := 0; i < g.n; i++ {
		b := &g.b[(g.head+i)%growthBuckets]
		dt, dy := b.sumT/b.n-f.tMean, b.sumY/b.n-f.yMean
		sxx += b.n * dt * dt
		sxy += b.n * dt * dy
	}
	first, last := &g.b[g.head], &g.b[(g.head+g.n-1)%growthBuckets]
	f.span = last.sumT/last.n - first.sumT/first.n
	window := seconds(g.width * growthBuckets)
	if w < growthMinSamples || f.span < growthMinCoverage*window || sxx <= 0 {
		return growthFit{}, false
	}
	f.slope = sxy / sxx
	return f, true
}
