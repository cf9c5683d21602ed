package review

import (
	"math"
	"slices"
	"time"
)

// window is the minutes a review covers and what the items derive from
// them, computed once.
type window struct {
	th        Thresholds
	startedAt time.Time // the deployment's start
	dueAt     time.Time
	// instanceStartedAt is when the instance's process started, if known.
	instanceStartedAt time.Time
	// start and end bound the window's minutes: start is StartedAt's
	// minute, end the first minute not complete at min(Now, DueAt).
	start, end time.Time
	minutes    []Minute // in [start, end), oldest first, one per At
	baseline   Minute   // the counters last reported before start

	// Per-minute increases of the instance's counters, aligned with
	// minutes: NaN where unknown (not reported, or no earlier value).
	reqDelta, errDelta, authDelta, rlDelta []float64
	// authSpan is how long each authDelta took to build up: longer than a
	// minute after a gap in the data, when it cannot be placed in time.
	authSpan []time.Duration

	mem *memoryTrend // memory(), computed once
}

func newWindow(in Input) *window {
	w := &window{
		th:        fillThresholds(in.Thresholds),
		startedAt: in.StartedAt.UTC(),
		dueAt:     in.StartedAt.Add(in.Offset).UTC(),

		instanceStartedAt: in.InstanceStartedAt.UTC(),
	}
	w.start = w.startedAt.Truncate(time.Minute)
	cut := w.dueAt
	if in.Now.Before(cut) {
		cut = in.Now.UTC()
	}
	w.end = cut.Truncate(time.Minute)
	if w.end.Before(w.start) {
		w.end = w.start
	}

	byAt := make(map[time.Time]Minute, len(in.Minutes))
	for _, m := range in.Minutes {
		m.At = m.At.UTC().Truncate(time.Minute)
		byAt[m.At] = m
	}
	var before []Minute
	for at, m := range byAt {
		switch {
		case at.Before(w.start):
			before = append(before, m)
		case at.Before(w.end):
			w.minutes = append(w.minutes, m)
		}
	}
	byTime := func(a, b Minute) int { return a.At.Compare(b.At) }
	slices.SortFunc(w.minutes, byTime)
	slices.SortFunc(before, byTime)
	for _, m := range before {
		if m.Requests != nil || m.Errors != nil || m.AuthFailures != nil || m.RateLimitViolations != nil {
			w.baseline.At = m.At
		}
		keepCounter(&w.baseline.Requests, m.Requests)
		keepCounter(&w.baseline.Errors, m.Errors)
		keepCounter(&w.baseline.AuthFailures, m.AuthFailures)
		keepCounter(&w.baseline.RateLimitViolations, m.RateLimitViolations)
	}
	w.reqDelta, _ = w.deltas(func(m Minute) *float64 { return m.Requests })
	w.errDelta, _ = w.deltas(func(m Minute) *float64 { return m.Errors })
	w.authDelta, w.authSpan = w.deltas(func(m Minute) *float64 { return m.AuthFailures })
	w.rlDelta, _ = w.deltas(func(m Minute) *float64 { return m.RateLimitViolations })
	return w
}

func keepCounter(dst **float64, v *float64) {
	if v != nil {
		*dst = v
	}
}

// expected is how many minutes the window spans.
func (w *window) expected() int {
	return int(w.end.Sub(w.start) / time.Minute)
}

// coverage is the share of the window's minutes with data (of the whole
// window to DueAt: an early on-demand review covers part of it).
func (w *window) coverage() float64 {
	full := int(w.dueAt.Truncate(time.Minute).Sub(w.start) / time.Minute)
	if full <= 0 {
		return 0
	}
	return math.Min(1, float64(len(w.minutes))/float64(full))
}

// deltas is a counter's increase in each minute since its previous report,
// and how long that was. A decrease is a reset (the instance restarted):
// the new value is the increase since, as Prometheus's increase() treats
// it. The first report without a baseline is unknown: the counter may
// predate the deployment.
func (w *window) deltas(get func(Minute) *float64) (inc []float64, span []time.Duration) {
	inc = make([]float64, len(w.minutes))
	span = make([]time.Duration, len(w.minutes))
	prev, prevAt := get(w.baseline), w.baseline.At
	for i, m := range w.minutes {
		inc[i] = math.NaN()
		cur := get(m)
		if cur == nil {
			continue
		}
		if prev != nil {
			inc[i], span[i] = *cur-*prev, m.At.Sub(prevAt)
			if inc[i] < 0 {
				inc[i] = *cur
			}
		}
		prev, prevAt = cur, m.At
	}
	return inc, span
}

// reported tells whether the instance reported a counter in the window.
func reported(deltas []float64) bool {
	return slices.ContainsFunc(deltas, func(v float64) bool { return !math.IsNaN(v) })
}

// x is a minute's position for the fits: minutes since the window's start,
// at the middle of the minute its values summarise.
func (w *window) x(at time.Time) float64 {
	return at.Sub(w.start).Minutes() + 0.5
}

// xEnd is where the window ends on the same axis.
func (w *window) xEnd() float64 {
	return w.end.Sub(w.start).Minutes()
}

// since formats an instant as an offset from the deployment's start
// ("+3h52m"): readable without a time zone, and stable in golden files.
func (w *window) since(at time.Time) string {
	d := at.Sub(w.startedAt).Truncate(time.Minute)
	if d < time.Minute {
		return "+0m" // the deployment's first minute
	}
	return "+" + shortDuration(d)
}

// sum adds a per-minute figure over the window.
func (w *window) sum(get func(Minute) int) int {
	n := 0
	for _, m := range w.minutes {
		n += get(m)
	}
	return n
}

// errorMinute is one minute's errors among its requests.
type errorMinute struct {
	at               time.Time
	errors, requests float64
}

// errorSeries is the window's errors per minute: from the instance's
// counters where it reports both requests and errors, else from the
// daemon's own requests (fromCounters false; the items say so).
func (w *window) errorSeries() (series []errorMinute, fromCounters bool) {
	if reported(w.reqDelta) && reported(w.errDelta) {
		for i, m := range w.minutes {
			if r, e := w.reqDelta[i], w.errDelta[i]; !math.IsNaN(r) && !math.IsNaN(e) {
				series = append(series, errorMinute{m.At, e, r})
			}
		}
		return series, true
	}
	for _, m := range w.minutes {
		if m.OwnRequests > 0 {
			series = append(series, errorMinute{m.At, float64(m.OwnErrors), float64(m.OwnRequests)})
		}
	}
	return series, false
}

// Notes naming where a figure came from.
const (
	noteOwnRequests = "from the daemon's own requests: the instance reports no request and error counters"
	noteOwn401s     = "from the daemon's own 401s: the instance reports no auth-failure counter"
)

// countSeries is a per-minute count: the counter's increases where the
// instance reports it, else the daemon's own figure.
func (w *window) countSeries(deltas []float64, own func(Minute) int) (vals []float64, fromCounter bool) {
	vals = make([]float64, len(w.minutes))
	if reported(deltas) {
		for i, d := range deltas {
			if !math.IsNaN(d) {
				vals[i] = d
			}
		}
		return vals, true
	}
	for i, m := range w.minutes {
		vals[i] = float64(own(m))
	}
	return vals, false
}

// series is a per-minute value over the window for the fits: the minutes
// where has is set.
func (w *window) series(has func(Minute) bool, get func(Minute) float64) []point {
	var pts []point
	for _, m := range w.minutes {
		if has(m) {
			pts = append(pts, point{w.x(m.At), get(m)})
		}
	}
	return pts
}

// perMinute lays a value out on every minute of the window, NaN where no
// minute or no data, for the sparklines.
func (w *window) perMinute(has func(Minute) bool, get func(Minute) float64) []float64 {
	out := make([]float64, w.expected())
	for i := range out {
		out[i] = math.NaN()
	}
	for _, m := range w.minutes {
		if i := int(m.At.Sub(w.start) / time.Minute); i >= 0 && i < len(out) && has(m) {
			out[i] = get(m)
		}
	}
	return out
}
