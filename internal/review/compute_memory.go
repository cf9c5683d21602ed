package review

import (
	"fmt"
	"math"
	"time"
)

// memoryTrend is what the memory items read of the window.
type memoryTrend struct {
	have bool
	// span is how long the window's memory data covers; slope, the
	// least-squares slope over all of it (MB/min), is a trend only when
	// span reaches Thresholds.TrendMinSpan.
	span       time.Duration
	slope      float64
	mean, max  float64
	maxAt      time.Time
	restartAt  time.Time // the last restart the projection starts after
	recent     line      // the line the projection extends
	changed    bool      // recent starts at a change of course
	recentFrom time.Time // where recent starts
	// latest is the last minute's mean; level, recent's value at the
	// window's end. receded: the series turned back from the ceiling
	// (see towardLimit, and crossed). reaches tells whether memory is at
	// the ceiling or still moving toward it, eta when it gets there (0:
	// it is there, at latest).
	latest, level float64
	receded       bool
	reaches       bool
	eta           time.Duration
}

// trend tells whether the window's memory data is enough for a slope.
func (mt memoryTrend) trend(w *window) bool { return mt.span >= w.th.TrendMinSpan }

// memory fits the window's memory: a line over all of it for the trend
// figure, and for the projection a line over the minutes after the last
// restart (a restart frees a leak's memory, so the sawtooth before it
// says nothing of the future), cut again where the series changed course
// (recentTrend): the projection must follow a leak that started part-way
// through the window at the leak's own rate. The minutes since the
// restart must span Thresholds.TrendMinSpan: the two-segment fit is made
// over all of them, the flat stretch before a leak being what shows that
// the leak is a change, so a leak of 8 minutes after hours of flat memory
// is projected (a 15 MB/min leak from 200 MB would be over 400 MB before
// 15 minutes of the leak alone were in).
func (w *window) memory() memoryTrend {
	if w.mem == nil {
		mt := w.fitMemory()
		w.mem = &mt
	}
	return *w.mem
}

func (w *window) fitMemory() memoryTrend {
	var mt memoryTrend
	pts := w.series(hasMemory, func(m Minute) float64 { return m.MemoryMeanMB })
	if len(pts) == 0 {
		return mt
	}
	mt.have = true
	mt.span = spanOf(pts)
	mt.slope = linearFit(pts).Slope
	var sum, n float64
	for _, m := range w.minutes {
		if !hasMemory(m) {
			continue
		}
		sum += m.MemoryMeanMB * float64(m.MemorySamples)
		n += float64(m.MemorySamples)
		if m.MemoryMaxMB > mt.max {
			mt.max, mt.maxAt = m.MemoryMaxMB, m.At
		}
		if m.Restarts > 0 {
			mt.restartAt = m.At
		}
	}
	mt.mean = sum / n

	if !mt.restartAt.IsZero() {
		// The restart's own minute mixes the old process and the new.
		after := w.x(mt.restartAt.Add(time.Minute))
		for len(pts) > 0 && pts[0].x < after {
			pts = pts[1:]
		}
	}
	if spanOf(pts) < w.th.TrendMinSpan {
		return mt // too little since the restart to project anything
	}
	mt.recent, mt.changed = recentTrend(pts)
	mt.recentFrom = w.start.Add(time.Duration((mt.recent.From - 0.5) * float64(time.Minute)))
	mt.level = mt.recent.at(w.xEnd())
	mt.latest = pts[len(pts)-1].y
	seg := pts[len(pts)-mt.recent.N:] // the points recent was fitted to
	limit := w.th.MemoryMaxMB
	switch {
	case mt.latest >= limit:
		mt.reaches, mt.eta = true, 0
	case crossed(seg, limit) || !towardLimit(seg, mt.recent, w.xEnd(), limit, +1):
		mt.receded = mt.recent.Slope > 0 // rising, yet turned back: say nothing of the rate
	default:
		from := mt.level
		if from >= limit {
			from = mt.latest // the line is past the ceiling, memory not quite
		}
		minutes := (limit - from) / mt.recent.Slope
		// Beyond a year the figure is noise; say "not reached" instead.
		if minutes < 365*24*60 {
			mt.reaches = true
			mt.eta = time.Duration(math.Round(minutes * float64(time.Minute)))
		}
	}
	return mt
}

// towardLimit is the rule a projection to a limit must pass: the series
// is still moving toward the limit. dir is +1 for a ceiling (memory), −1
// for a floor (FPS); pts are the points l was fitted to, xEnd where the
// window ends. It holds when
//   - l's slope points at the limit,
//   - the latest value has not reached the limit (there, the value is the
//     news, not a projection), and
//   - the latest value has not fallen back: it kept at least half of the
//     change the fitted line describes from its first point to the
//     window's end, i.e. it lies no further from the limit than the
//     line's midpoint. Memory that grew from 200 to 380 MB and is back at
//     250 MB is not "400 MB in 3m"; noise around a line that keeps rising
//     is far inside the half.
func towardLimit(pts []point, l line, xEnd, limit, dir float64) bool {
	if len(pts) == 0 {
		return false
	}
	latest := pts[len(pts)-1].y
	mid := (l.at(l.From) + l.at(xEnd)) / 2
	return dir*l.Slope > 0 && dir*(limit-latest) > 0 && dir*(latest-mid) >= 0
}

// crossed tells whether any point reached the ceiling: with the latest
// below it, memory went over and came back, and a line through the climb
// projects a return that nobody observed ("400 MB in 43s" after memory
// recovered). memory_trend then reports the peak. FPS has no such rule:
// a dip below the band and back is fps_stable's business, not a trend's.
func crossed(pts []point, ceiling float64) bool {
	for _, p := range pts {
		if p.y >= ceiling {
			return true
		}
	}
	return false
}

// projection describes the projection ("+15.0 MB/min since +3h52m: 400 MB
// in 6m40s").
func (mt memoryTrend) projection(w *window) string {
	var from string
	switch {
	case mt.changed:
		from = " since " + w.since(mt.recentFrom)
	case !mt.restartAt.IsZero():
		from = " since the restart at " + w.since(mt.restartAt)
	}
	rate := fmt.Sprintf("%s MB/min%s", signed(mt.recent.Slope, 1), from)
	switch {
	case !mt.reaches:
		return rate
	case mt.eta == 0:
		return fmt.Sprintf("%s: at %s, above %s", rate, mb(mt.latest), mb(w.th.MemoryMaxMB))
	}
	return fmt.Sprintf("%s: %s in %s", rate, mb(w.th.MemoryMaxMB), shortDuration(mt.eta))
}

// tooShort is the figure of a trend item without enough data for a trend.
func tooShort(span time.Duration) string {
	return "no trend from " + plural(int(span/time.Minute), "minute", "minutes") + " of data"
}

// tooShortNote says why there is no trend.
func (w *window) tooShortNote() string {
	return "a trend needs at least " + shortDuration(w.th.TrendMinSpan) + " of data"
}

func (w *window) memoryTrend() Item {
	it := Item{Name: "memory_trend", Title: "Memory trend"}
	mt := w.memory()
	if !mt.have {
		it.Verdict, it.Figure, it.Note = Warn, "no memory samples", "no memory samples in telemetry"
		return it
	}
	if !mt.trend(w) {
		it.Verdict = Warn
		it.Figure = fmt.Sprintf("%s (mean %s, max %s)", tooShort(mt.span), mb(mt.mean), mb(mt.max))
		it.Note = w.tooShortNote()
		return it
	}
	it.Figure = fmt.Sprintf("%s MB/min over %s (mean %s, max %s)",
		signed(mt.slope, 2), shortDuration(w.end.Sub(w.start)), mb(mt.mean), mb(mt.max))
	if mt.recent.N > 0 && !mt.receded && (mt.changed || !mt.restartAt.IsZero() || mt.reaches) {
		it.Figure += "; " + mt.projection(w)
	}
	switch {
	case mt.reaches && mt.eta <= w.th.MemoryFailHorizon:
		it.Verdict = Fail
		it.Note = fmt.Sprintf("projected to reach %s within %s", mb(w.th.MemoryMaxMB), shortDuration(w.th.MemoryFailHorizon))
	case mt.reaches && mt.eta <= w.th.MemoryWarnHorizon:
		it.Verdict = Warn
		it.Note = fmt.Sprintf("projected to reach %s within %s", mb(w.th.MemoryMaxMB), shortDuration(w.th.MemoryWarnHorizon))
	case mt.max >= w.th.MemoryMaxMB:
		it.Verdict = Warn
		it.Note = fmt.Sprintf("peaked at %s at %s; not growing toward %s now", mb(mt.max), w.since(mt.maxAt), mb(w.th.MemoryMaxMB))
	default:
		it.Verdict = Pass
	}
	return it
}

func (w *window) fpsTrend() Item {
	it := Item{Name: "fps_trend", Title: "FPS trend"}
	pts := w.series(hasFPS, func(m Minute) float64 { return m.FPSMean })
	if len(pts) == 0 {
		it.Verdict, it.Figure, it.Note = Warn, "no FPS samples", "no FPS samples in telemetry"
		return it
	}
	if span := spanOf(pts); span < w.th.TrendMinSpan {
		it.Verdict, it.Figure, it.Note = Warn, tooShort(span), w.tooShortNote()
		return it
	}
	l := linearFit(pts)
	perHour := l.Slope * 60
	level := l.at(w.xEnd())
	it.Figure = fmt.Sprintf("%s FPS/h over %s (mean %s, trend line ends at %s)",
		signed(perHour, 2), shortDuration(w.end.Sub(w.start)), num(w.fpsMean(), 1), num(level, 1))
	floor := w.th.FPSMin
	var eta time.Duration // when the trend line leaves the band, if still falling toward it
	falling := towardLimit(pts, l, w.xEnd(), floor, -1)
	if falling {
		eta = time.Duration((level - floor) / -l.Slope * float64(time.Minute))
	}
	switch {
	case level < floor:
		it.Verdict = Fail
		it.Note = fmt.Sprintf("the trend is below %s FPS", num(floor, 0))
	case falling && eta <= w.th.FPSWarnHorizon:
		it.Verdict = Warn
		it.Note = fmt.Sprintf("falling: projected below %s FPS in %s", num(floor, 0), shortDuration(eta))
	default:
		it.Verdict = Pass
	}
	return it
}
