package review

import (
	"fmt"
	"math"
	"strings"
)

// The hour-24 items: the daily review.

func (w *window) uptime() Item {
	it := Item{Name: "uptime", Title: "Uptime"}
	// A minute the daemon asked the API something in; answered when
	// anything came back that was not an error (a 401 or 429 is an answer).
	var asked, answered, connected int
	for _, m := range w.minutes {
		if m.OwnRequests > 0 || m.Checks > 0 || m.Requests != nil {
			asked++
			if m.OwnRequests > m.OwnErrors || m.ChecksPassed > 0 || m.Requests != nil {
				answered++
			}
		}
		connected += boolInt(m.TelemetryConnected)
	}
	restarts := w.sum(func(m Minute) int { return m.Restarts })
	if asked == 0 && connected == 0 {
		it.Verdict, it.Figure, it.Note = Warn, "no data", "the daemon neither asked the API nor saw telemetry in the window"
		return it
	}
	var parts []string
	it.Verdict = Pass
	if asked > 0 {
		share := float64(answered) / float64(asked)
		parts = append(parts, fmt.Sprintf("API answered in %s of %s", pct(share), plural(asked, "minute", "minutes")))
		it.Verdict = atLeast(share, w.th.UptimePass, w.th.UptimeWarn)
	}
	if connected > 0 {
		share := float64(connected) / float64(len(w.minutes))
		parts = append(parts, fmt.Sprintf("telemetry connected in %s", pct(share)))
		it.Verdict = worse(it.Verdict, atLeast(share, w.th.UptimePass, w.th.UptimeWarn))
	} else {
		it.Note = "no telemetry in the window: uptime from the API alone"
	}
	parts = append(parts, plural(restarts, "restart", "restarts"))
	it.Figure = strings.Join(parts, "; ")
	if it.Verdict != Pass {
		it.Note = joinNotes(pct(w.th.UptimePass)+" needed to pass", it.Note)
	}
	return it
}

func (w *window) totalRequests() Item {
	it := Item{Name: "total_requests", Title: "Total requests"}
	vals, fromCounter := w.countSeries(w.reqDelta, func(m Minute) int { return m.OwnRequests })
	var total float64
	for _, v := range vals {
		total += v
	}
	if fromCounter {
		it.Figure = plural(total, "request", "requests") + " served"
	} else {
		it.Figure = plural(total, "request", "requests") + " made by the daemon"
		it.Note = noteOwnRequests
	}
	it.Verdict = Pass
	if total == 0 {
		it.Verdict = Warn
		it.Note = joinNotes("no requests seen", it.Note)
	}
	return it
}

func (w *window) errors() Item {
	it := Item{Name: "errors", Title: "Errors"}
	errs, reqs, fromCounters := w.errorTotals()
	return w.judgeErrors(it, errs, reqs, fromCounters,
		fmt.Sprintf("%s in %s (%s)", plural(errs, "error", "errors"), plural(reqs, "request", "requests"), ratePct(errs/reqs)))
}

func (w *window) restarts() Item {
	it := Item{Name: "restarts", Title: "Restarts"}
	var at []string // the first three restarts' offsets
	n, minutes := 0, 0
	for _, m := range w.minutes {
		if m.Restarts > 0 {
			n += m.Restarts
			if minutes++; minutes <= 3 {
				at = append(at, w.since(m.At))
			}
		}
	}
	it.Verdict = Pass
	switch {
	case n >= w.th.RestartsFail:
		it.Verdict = Fail
	case n >= w.th.RestartsWarn:
		it.Verdict = Warn
	}
	if n == 0 {
		it.Figure = "no restart"
		return it
	}
	if minutes > len(at) {
		at = append(at, "…")
	}
	it.Figure = plural(n, "restart", "restarts") + " (at " + strings.Join(at, ", ") + ")"
	it.Note = "unexpected restarts: see the instance's logs"
	return it
}

func (w *window) checksPassRate() Item {
	it := Item{Name: "checks_pass_rate", Title: "Checks' pass rate"}
	return w.checkShare(it, "no checks ran in the window")
}

// sparklines are the window's FPS means and memory maxima, at most
// sparkWidth characters. The scales are fixed by the thresholds, not by
// the data, so that noise stays flat and a clean run looks clean: FPS from
// one band's width below the band (or the lowest value) to its top,
// memory from zero to the ceiling (or the highest value).
func (w *window) sparklines() (fps, memory string) {
	f := downsample(w.perMinute(hasFPS, func(m Minute) float64 { return m.FPSMean }), sparkWidth, meanOf)
	mem := downsample(w.perMinute(hasMemory, func(m Minute) float64 { return m.MemoryMaxMB }), sparkWidth, maxOf)
	if !allNaN(f) {
		lo := math.Min(w.th.FPSMin, minOf(f)) - (w.th.FPSMax - w.th.FPSMin)
		fps = Sparkline(f, math.Max(0, lo), math.Max(w.th.FPSMax, maxOf(f)))
	}
	if !allNaN(mem) {
		memory = Sparkline(mem, 0, math.Max(w.th.MemoryMaxMB, maxOf(mem)))
	}
	return fps, memory
}
