package review

import (
	"fmt"
	"math"
	"time"
)

// memoryTrend is what the memory items read of the window.
type memoryTrend struct {
	have bool
	// slope is the least-squares slope over the whole window (MB/min).
	slope      float64
	mean, max  float64
	maxAt      time.Time
	restartAt  time.Time // the last restart the projection starts after
	recent     line      // the line the projection extends
	changed    bool      // recent starts at a change of course
	recentFrom time.Time // where recent starts
	// level is recent's value at the window's end; reaches tells whether
	// the trend meets the ceiling, eta when (0 when already above it).
	level   float64
	reaches bool
	eta     time.Duration
}

// memory fits the window's memory: a line over all of it for the trend
// figure, and for the projection a line over the minutes after the last
// restart (a restart frees a leak's memory, so the sawtooth before it
// says nothing of the future), cut again where the series changed course
// (recentTrend): the projection must follow a leak that started part-way
// through the window at the leak's own rate.
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
	if len(pts) < 3 {
		return mt // too little since the restart to project anything
	}
	mt.recent, mt.changed = recentTrend(pts)
	mt.recentFrom = w.start.Add(time.Duration((mt.recent.From - 0.5) * float64(time.Minute)))
	mt.level = mt.recent.at(w.xEnd())
	switch limit := w.th.MemoryMaxMB; {
	case mt.level >= limit:
		mt.reaches, mt.eta = true, 0
	case mt.recent.Slope > 0:
		minutes := (limit - mt.level) / mt.recent.Slope
		// Beyond a year the figure is noise; say "not reached" instead.
		if minutes < 365*24*60 {
			mt.reaches = true
			mt.eta = time.Duration(math.Round(minutes * float64(time.Minute)))
		}
	}
	return mt
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
		return fmt.Sprintf("%s: at %s, above %s", rate, mb(mt.level), mb(w.th.MemoryMaxMB))
	}
	return fmt.Sprintf("%s: %s in %s", rate, mb(w.th.MemoryMaxMB), shortDuration(mt.eta))
}

func (w *window) memoryTrend() Item {
	it := Item{Name: "memory_trend", Title: "Memory trend"}
	mt := w.memory()
	if !mt.have {
		it.Verdict, it.Figure, it.Note = Warn, "no memory samples", "no memory samples in telemetry"
		return it
	}
	it.Figure = fmt.Sprintf("%s MB/min over %s (mean %s, max %s)",
		signed(mt.slope, 2), shortDuration(w.end.Sub(w.start)), mb(mt.mean), mb(mt.max))
	if mt.recent.N > 0 && (mt.changed || !mt.restartAt.IsZero() || mt.reaches) {
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
	if len(pts) < 2 {
		it.Verdict, it.Figure, it.Note = Warn, "no FPS trend", "too few FPS samples in telemetry"
		return it
	}
	l := linearFit(pts)
	perHour := l.Slope * 60
	level := l.at(w.xEnd())
	it.Figure = fmt.Sprintf("%s FPS/h over %s (mean %s, trend line ends at %s)",
		signed(perHour, 2), shortDuration(w.end.Sub(w.start)), num(w.fpsMean(), 1), num(level, 1))
	floor := w.th.FPSMin
	var eta time.Duration // when the trend line leaves the band, if falling
	if l.Slope < 0 {
		eta = time.Duration((level - floor) / -l.Slope * float64(time.Minute))
	}
	switch {
	case level < floor:
		it.Verdict = Fail
		it.Note = fmt.Sprintf("the trend is below %s FPS", num(floor, 0))
	case l.Slope < 0 && eta <= w.th.FPSWarnHorizon:
		it.Verdict = Warn
		it.Note = fmt.Sprintf("falling: projected below %s FPS in %s", num(floor, 0), shortDuration(eta))
	default:
		it.Verdict = Pass
	}
	return it
}
