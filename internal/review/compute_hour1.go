package review

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The hour-1 items: the checklist's health checks and log review.

func (w *window) apiResponsive() Item {
	it := Item{Name: "api_responsive", Title: "API responsive"}
	return w.checkShare(it, "no checks ran in the window")
}

// checkShare judges the share of passed checks (api_responsive,
// checks_pass_rate).
func (w *window) checkShare(it Item, none string) Item {
	total := w.sum(func(m Minute) int { return m.Checks })
	passed := w.sum(func(m Minute) int { return m.ChecksPassed })
	if total == 0 {
		it.Verdict, it.Figure, it.Note = Warn, "no checks", none
		return it
	}
	share := float64(passed) / float64(total)
	it.Verdict = atLeast(share, w.th.CheckPass, w.th.CheckWarn)
	it.Figure = fmt.Sprintf("%s of %s passed", pct(share), plural(total, "check", "checks"))
	if it.Verdict != Pass {
		it.Note = fmt.Sprintf("%s failed; %s needed to pass", plural(total-passed, "check", "checks"), pct(w.th.CheckPass))
	}
	return it
}

// spikes are the window's error spikes, the median errors per minute
// they are judged against, the series, and its source.
func (w *window) spikes() (spikes []errorMinute, median float64, series []errorMinute, fromCounters bool) {
	series, fromCounters = w.errorSeries()
	if len(series) == 0 {
		return nil, math.NaN(), nil, fromCounters
	}
	errs := make([]float64, len(series))
	for i, e := range series {
		errs[i] = e.errors
	}
	median = percentile(errs, 0.5)
	for _, e := range series {
		if e.errors > w.th.ErrorSpikeFactor*median &&
			e.errors > w.th.ErrorSpikeMinRate*e.requests &&
			e.errors >= float64(w.th.ErrorSpikeMinErrors) {
			spikes = append(spikes, e)
		}
	}
	return spikes, median, series, fromCounters
}

func (w *window) noErrorSpikes() Item {
	it := Item{Name: "no_error_spikes", Title: "No error spikes"}
	spikes, median, series, fromCounters := w.spikes()
	if !fromCounters {
		it.Note = noteOwnRequests
	}
	if len(series) == 0 {
		it.Verdict, it.Figure = Warn, "no requests seen"
		it.Note = joinNotes("no request data in the window", it.Note)
		return it
	}
	if len(spikes) == 0 {
		worst := series[0]
		for _, e := range series[1:] {
			if e.errors > worst.errors {
				worst = e
			}
		}
		it.Verdict = Pass
		it.Figure = "no spike in " + plural(len(series), "minute", "minutes")
		if worst.errors > 0 {
			it.Figure += fmt.Sprintf("; median %s, worst %s at %s", plural(median, "error/min", "errors/min"), count(worst.errors), w.since(worst.at))
		} else {
			it.Figure += "; no errors"
		}
		return it
	}
	it.Verdict = Fail
	parts := make([]string, 0, 3)
	for i, s := range spikes {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(spikes)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s) at %s", plural(s.errors, "error", "errors"), pct(s.errors/s.requests), w.since(s.at)))
	}
	it.Figure = fmt.Sprintf("%s: %s; median %s", plural(len(spikes), "spike", "spikes"), strings.Join(parts, ", "), plural(median, "error/min", "errors/min"))
	it.Note = joinNotes(fmt.Sprintf("a spike is a minute with errors above %s× the median and above %s of its requests",
		num(w.th.ErrorSpikeFactor, 0), pct(w.th.ErrorSpikeMinRate)), it.Note)
	return it
}

func (w *window) fpsStable() Item {
	it := Item{Name: "fps_stable", Title: fmt.Sprintf("FPS stable at %s–%s", num(w.th.FPSMin, 0), num(w.th.FPSMax, 0))}
	n := w.sum(func(m Minute) int { return m.FPSSamples })
	in := w.sum(func(m Minute) int { return m.FPSInBand })
	if n == 0 {
		it.Verdict, it.Figure, it.Note = Warn, "no FPS samples", "no FPS samples in telemetry"
		return it
	}
	share := float64(in) / float64(n)
	it.Verdict = atLeast(share, w.th.FPSInBandPass, w.th.FPSInBandWarn)
	it.Figure = fmt.Sprintf("%s of %s in band; mean %s, 1%% low %s, min %s",
		pct(share), plural(n, "sample", "samples"), num(w.fpsMean(), 1), num(w.fpsLow1(), 1), num(w.fpsMin(), 1))
	if it.Verdict != Pass {
		worst := w.worstFPSMinute()
		it.Note = fmt.Sprintf("%s needed in band; the worst minute was %s (mean %s)",
			pct(w.th.FPSInBandPass), w.since(worst.At), num(worst.FPSMean, 1))
	}
	return it
}

func hasFPS(m Minute) bool    { return m.FPSSamples > 0 }
func hasMemory(m Minute) bool { return m.MemorySamples > 0 }

// fpsMean is the sample-weighted mean FPS over the window.
func (w *window) fpsMean() float64 {
	var sum, n float64
	for _, m := range w.minutes {
		sum += m.FPSMean * float64(m.FPSSamples)
		n += float64(m.FPSSamples)
	}
	return sum / n
}

// fpsLow1 approximates the window's 1% low from the minutes' 1% lows: the
// sample-weighted 1st percentile of them. Where the minutes are alike it
// is their 1% low; a dip of a few minutes, holding more than 1% of the
// samples, pulls it down to the dip's level, as the exact figure would.
func (w *window) fpsLow1() float64 {
	var vs []weighted
	for _, m := range w.minutes {
		if hasFPS(m) {
			vs = append(vs, weighted{m.FPSLow1, float64(m.FPSSamples)})
		}
	}
	return weightedPercentile(vs, 0.01)
}

func (w *window) fpsMin() float64 {
	v := math.Inf(1)
	for _, m := range w.minutes {
		if hasFPS(m) {
			v = math.Min(v, m.FPSMin)
		}
	}
	return v
}

func (w *window) worstFPSMinute() Minute {
	var worst Minute
	for _, m := range w.minutes {
		if hasFPS(m) && (worst.FPSSamples == 0 || inBandShare(m) < inBandShare(worst)) {
			worst = m
		}
	}
	return worst
}

func inBandShare(m Minute) float64 {
	return float64(m.FPSInBand) / float64(m.FPSSamples)
}

func (w *window) memoryStable() Item {
	it := Item{Name: "memory_stable", Title: "Memory stable under " + mb(w.th.MemoryMaxMB)}
	mt := w.memory()
	if !mt.have {
		it.Verdict, it.Figure, it.Note = Warn, "no memory samples", "no memory samples in telemetry"
		return it
	}
	it.Figure = fmt.Sprintf("max %s, mean %s", mb(mt.max), mb(mt.mean))
	if mt.trend(w) {
		it.Figure += fmt.Sprintf(", slope %s MB/min", signed(mt.slope, 2))
	} else {
		it.Figure += "; " + tooShort(mt.span)
	}
	switch {
	case mt.max >= w.th.MemoryMaxMB:
		it.Verdict = Fail
		it.Note = fmt.Sprintf("reached %s at %s", mb(mt.max), w.since(mt.maxAt))
	case mt.reaches && mt.eta <= w.th.MemoryWarnHorizon:
		it.Verdict = Warn
		it.Note = mt.projection(w)
	default:
		it.Verdict = Pass
	}
	return it
}

func (w *window) vrInitialized() Item {
	it := Item{Name: "vr_initialized", Title: "VR initialised (or the desktop fallback)"}
	var vr, desktop time.Time
	for _, m := range w.minutes {
		if m.VRInitialized && vr.IsZero() {
			vr = m.At
		}
		if m.DesktopFallback && desktop.IsZero() {
			desktop = m.At
		}
	}
	started, ok := w.instanceStart()
	switch {
	case !vr.IsZero():
		it.Verdict, it.Figure = Pass, "VR initialised at "+w.since(vr)
	case !desktop.IsZero():
		it.Verdict, it.Figure = Warn, "desktop fallback at "+w.since(desktop)
		it.Note = "no headset: the instance fell back to the desktop"
	case !ok:
		// The instance initialised VR (or not) when it started, before this
		// deployment (one declared on a running instance); nothing in the
		// window can show it, and a desktop fallback it announced to the
		// daemon's connection would have been seen. A warning here would
		// stand on every such deployment for what it cannot have changed.
		it.Verdict, it.Figure = Pass, "not observed (the instance was not restarted)"
		it.Note = "VR initialises when the instance starts; it was running before the deployment started"
	default:
		it.Verdict, it.Figure = Warn, "none seen"
		it.Note = "the instance started at " + w.since(started) + "; no VR event seen in telemetry since"
	}
	return it
}

// instanceStart is when the instance's process started within the window,
// if it did: its first restart there, or the start the deployment records.
func (w *window) instanceStart() (time.Time, bool) {
	for _, m := range w.minutes {
		if m.Restarts > 0 {
			return m.At, true
		}
	}
	at := w.instanceStartedAt
	if at.IsZero() || at.Before(w.start) {
		return time.Time{}, false
	}
	return at, true
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
