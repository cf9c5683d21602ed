package review

import (
	"math"
	"slices"
	"time"
)

// percentileSorted is the p-quantile (0 ≤ p ≤ 1) of sorted values, linearly
// interpolated between the two closest ranks (numpy's default, R's type 7),
// so that the median of 1, 2, 3, 4 is 2.5. It is NaN for no values.
func percentileSorted(sorted []float64, p float64) float64 {
	switch n := len(sorted); n {
	case 0:
		return math.NaN()
	case 1:
		return sorted[0]
	default:
		h := p * float64(n-1)
		lo := int(math.Floor(h))
		if lo >= n-1 {
			return sorted[n-1]
		}
		if lo < 0 {
			return sorted[0]
		}
		return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
	}
}

// percentile is percentileSorted over an unsorted copy of values.
func percentile(values []float64, p float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	return percentileSorted(s, p)
}

// weighted is a value and how much it counts (a minute's percentile and
// the samples behind it).
type weighted struct {
	v, w float64
}

// weightedPercentile is the smallest value whose cumulative weight reaches
// p of the total: the p-quantile of a distribution known only through
// per-minute summaries (each minute's p95 weighted by its samples). NaN for
// no weight.
func weightedPercentile(vs []weighted, p float64) float64 {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, func(a, b weighted) int { return cmpFloat(a.v, b.v) })
	var total float64
	for _, x := range vs {
		total += x.w
	}
	if total <= 0 {
		return math.NaN()
	}
	var cum float64
	for _, x := range vs {
		cum += x.w
		if cum >= p*total {
			return x.v
		}
	}
	return vs[len(vs)-1].v
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// point is one observation of a series: x in minutes since the window's
// start, y the value.
type point struct {
	x, y float64
}

// line is a least-squares fit y = Intercept + Slope·x over N points, with
// its sum of squared residuals.
type line struct {
	Slope, Intercept float64
	SSE              float64
	N                int
	// From and To are the x range the fit covers.
	From, To float64
}

// at is the fitted value at x.
func (l line) at(x float64) float64 { return l.Intercept + l.Slope*x }

// moments are the running sums a least-squares fit needs. Values are
// centred by the caller (see fitter) so that the sums do not cancel.
type moments struct {
	n, x, y, xx, xy, yy float64
}

func (m moments) add(p point) moments {
	return moments{m.n + 1, m.x + p.x, m.y + p.y, m.xx + p.x*p.x, m.xy + p.x*p.y, m.yy + p.y*p.y}
}

func (m moments) sub(o moments) moments {
	return moments{m.n - o.n, m.x - o.x, m.y - o.y, m.xx - o.xx, m.xy - o.xy, m.yy - o.yy}
}

// fit is the least-squares line of the sums; a single point or a vertical
// spread of zero gives slope 0 through the mean.
func (m moments) fit() (slope, intercept, sse float64) {
	if m.n == 0 {
		return 0, 0, 0
	}
	den := m.n*m.xx - m.x*m.x
	if m.n >= 2 && den > 1e-12 {
		slope = (m.n*m.xy - m.x*m.y) / den
	}
	intercept = (m.y - slope*m.x) / m.n
	// Σ(y - a - bx)² expanded; clamp the rounding below zero.
	sse = max(0, m.yy-intercept*m.y-slope*m.xy)
	return slope, intercept, sse
}

// fitter answers least-squares fits over any run of a series in O(1) from
// prefix sums, which makes the search for a change point linear.
type fitter struct {
	pts    []point
	cx, cy float64   // centre subtracted before summing
	prefix []moments // prefix[i] sums pts[:i]
}

func newFitter(pts []point) *fitter {
	f := &fitter{pts: pts, prefix: make([]moments, len(pts)+1)}
	for _, p := range pts {
		f.cx += p.x
		f.cy += p.y
	}
	if n := float64(len(pts)); n > 0 {
		f.cx /= n
		f.cy /= n
	}
	for i, p := range pts {
		f.prefix[i+1] = f.prefix[i].add(point{p.x - f.cx, p.y - f.cy})
	}
	return f
}

// fit is the least-squares line over pts[from:to].
func (f *fitter) fit(from, to int) line {
	slope, b, sse := f.prefix[to].sub(f.prefix[from]).fit()
	l := line{Slope: slope, SSE: sse, N: to - from}
	// Undo the centring: y - cy = b + slope·(x - cx).
	l.Intercept = b + f.cy - slope*f.cx
	if to > from {
		l.From, l.To = f.pts[from].x, f.pts[to-1].x
	}
	return l
}

// spanOf is the time the points' minutes cover: from the start of the
// first to the end of the last (each point is the middle of its minute).
func spanOf(pts []point) time.Duration {
	if len(pts) == 0 {
		return 0
	}
	return time.Duration(math.Round((pts[len(pts)-1].x - pts[0].x + 1) * float64(time.Minute)))
}

// linearFit is the least-squares line over all of pts.
func linearFit(pts []point) line {
	return newFitter(pts).fit(0, len(pts))
}

// Change-point detection for the projection (see recentTrend).
const (
	// minSegment is the fewest points a segment of a two-segment fit may
	// have: fewer make a noisy slope look like a trend.
	minSegment = 5
	// changeF is the F statistic a two-segment fit must reach over a single
	// line to be believed. F(2, n−4) exceeds 20 by chance with a
	// probability far below 0.1% for the series lengths reviews see, while
	// a real change (a leak starting) scores in the thousands.
	changeF = 20
)

// recentTrend is the line that describes the end of the series: the
// least-squares line over all points, unless the series changed course
// (a leak that started part-way through, a restart that dropped memory),
// in which case the line over the points after the change. A single line
// over a window where memory was flat for 3 hours and then grew 15 MB/min
// for 10 minutes would report a few MB/min and project 400 MB hours too
// late; the two-segment fit finds the change and projects from the leak's
// own slope. changed reports whether a change was found.
func recentTrend(pts []point) (l line, changed bool) {
	f := newFitter(pts)
	n := len(pts)
	whole := f.fit(0, n)
	if n < 2*minSegment || whole.SSE == 0 {
		return whole, false
	}
	best, bestSSE := -1, math.Inf(1)
	for k := minSegment; k <= n-minSegment; k++ {
		if sse := f.fit(0, k).SSE + f.fit(k, n).SSE; sse < bestSSE {
			best, bestSSE = k, sse
		}
	}
	// Two lines have 4 parameters, one has 2: an F test of the extra two.
	dof := float64(n - 4)
	if bestSSE <= 1e-9*whole.SSE || (whole.SSE-bestSSE)/2/(bestSSE/dof) > changeF {
		return f.fit(best, n), true
	}
	return whole, false
}
