package review

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The hour-4 items: the performance review and the security check.

func (w *window) requestLatency() Item {
	it := Item{Name: "request_latency", Title: "Request latency"}
	var p50s, p95s []weighted
	for _, m := range w.minutes {
		if m.LatencyP50 > 0 || m.LatencyP95 > 0 {
			// Weigh a minute by its checks: the requests behind its figures.
			wt := float64(max(m.Checks, 1))
			p50s = append(p50s, weighted{m.LatencyP50, wt})
			p95s = append(p95s, weighted{m.LatencyP95, wt})
		}
	}
	if len(p50s) == 0 {
		it.Verdict, it.Figure, it.Note = Warn, "no latencies", "no check latencies recorded in the window"
		return it
	}
	// The window's percentiles from the minutes' ones: the checks'
	// weighted median of the minutes' p50s, and 95th percentile of their
	// p95s (a little above the exact p95, never below a bad minute's).
	p50, p95 := weightedPercentile(p50s, 0.5), weightedPercentile(p95s, 0.95)
	it.Verdict = above(p95, w.th.LatencyP95Warn.Seconds(), w.th.LatencyP95Fail.Seconds())
	it.Figure = fmt.Sprintf("p50 %s, p95 %s over %s", ms(p50), ms(p95), plural(len(p50s), "minute with checks", "minutes with checks"))
	switch it.Verdict {
	case Warn:
		it.Note = "p95 above " + ms(w.th.LatencyP95Warn.Seconds())
	case Fail:
		it.Note = "p95 above " + ms(w.th.LatencyP95Fail.Seconds())
	}
	return it
}

// errorTotals are the window's errors and requests, and their source.
func (w *window) errorTotals() (errs, reqs float64, fromCounters bool) {
	series, fromCounters := w.errorSeries()
	for _, e := range series {
		errs += e.errors
		reqs += e.requests
	}
	return errs, reqs, fromCounters
}

func (w *window) errorRate() Item {
	it := Item{Name: "error_rate", Title: "Error rate"}
	errs, reqs, fromCounters := w.errorTotals()
	return w.judgeErrors(it, errs, reqs, fromCounters,
		fmt.Sprintf("%s (%s in %s)", ratePct(errs/reqs), plural(errs, "error", "errors"), plural(reqs, "request", "requests")))
}

// judgeErrors judges an error rate (error_rate, errors).
func (w *window) judgeErrors(it Item, errs, reqs float64, fromCounters bool, figure string) Item {
	if !fromCounters {
		it.Note = noteOwnRequests
	}
	if reqs <= 0 {
		it.Verdict, it.Figure = Warn, "no requests seen"
		it.Note = joinNotes("no request data in the window", it.Note)
		return it
	}
	it.Figure = figure
	it.Verdict = above(errs/reqs, w.th.ErrorRateWarn, w.th.ErrorRateFail)
	switch it.Verdict {
	case Warn:
		it.Note = joinNotes("above "+ratePct(w.th.ErrorRateWarn), it.Note)
	case Fail:
		it.Note = joinNotes("above "+ratePct(w.th.ErrorRateFail), it.Note)
	}
	return it
}

// ratePct formats an error rate with two decimals: 0.04 % is not 0.
func ratePct(share float64) string {
	if share <= 0 || math.IsNaN(share) {
		return "0%"
	}
	return strconv.FormatFloat(math.Ceil(share*1e4-1e-9)/100, 'f', 2, 64) + "%"
}

// authBurst is the worst run of authentication failures.
type authBurst struct {
	total, most float64   // in the window; in the worst AuthAttackWindow
	from        time.Time // the worst run's first minute
	unplaced    float64   // failures counted over a gap in the data
	fromCounter bool
}

// attack tells whether the worst run is a possible attack.
func (b authBurst) attack(th Thresholds) bool { return b.most > float64(th.AuthAttackCount) }

// authFailuresBurst finds the most authentication failures within any
// AuthAttackWindow, sliding over the minutes by time.
func (w *window) authFailuresBurst() authBurst {
	vals, fromCounter := w.countSeries(w.authDelta, func(m Minute) int { return m.OwnUnauthorized })
	b := authBurst{fromCounter: fromCounter}
	for i, v := range vals {
		// An increase over a gap longer than the window may be spread over
		// all of it: count it, but do not call it a burst.
		if fromCounter && w.authSpan[i] > w.th.AuthAttackWindow {
			b.unplaced += v
			vals[i] = 0
		}
		b.total += v
	}
	var run float64
	lo := 0
	for hi, m := range w.minutes {
		run += vals[hi]
		for w.minutes[lo].At.Add(w.th.AuthAttackWindow).Compare(m.At) <= 0 {
			run -= vals[lo]
			lo++
		}
		if run > b.most {
			b.most, b.from = run, w.minutes[lo].At
			for b.from.Before(m.At) && vals[lo] == 0 { // start at the first failure
				lo++
				b.from = w.minutes[lo].At
			}
		}
	}
	return b
}

func (w *window) authFailures() Item {
	it := Item{Name: "auth_failures", Title: "No failed-authentication attacks"}
	b := w.authFailuresBurst()
	if !b.fromCounter {
		it.Note = noteOwn401s
	}
	win := shortDuration(w.th.AuthAttackWindow)
	if b.total == 0 {
		it.Verdict, it.Figure = Pass, "no authentication failures"
		return it
	}
	it.Figure = fmt.Sprintf("%s in the window; at most %s in %s", count(b.total), count(b.most), win)
	if b.most > 0 {
		it.Figure += " (from " + w.since(b.from) + ")"
	}
	if b.unplaced > 0 {
		it.Figure += fmt.Sprintf("; %s counted across a gap in the data, not placed in time", count(b.unplaced))
	}
	if !b.attack(w.th) {
		it.Verdict = Pass
		return it
	}
	it.Verdict = Fail
	if b.fromCounter {
		it.Note = fmt.Sprintf("possible attack: more than %s in %s", plural(w.th.AuthAttackCount, "authentication failure", "authentication failures"), win)
	} else {
		// The daemon's own 401s say its token is refused, not who attacks.
		it.Note = joinNotes(fmt.Sprintf("the instance refused the daemon's token more than %s in %s: check the token (or a possible attack)", plural(w.th.AuthAttackCount, "time", "times"), win), it.Note)
	}
	return it
}

func (w *window) rateLimiting() Item {
	it := Item{Name: "rate_limiting", Title: "Rate limiting working"}
	passed := w.sum(func(m Minute) int { return boolInt(m.RateLimitPass) })
	failed := w.sum(func(m Minute) int { return boolInt(m.RateLimitFail) })
	seen429 := w.sum(func(m Minute) int { return m.OwnRateLimited })
	var violations float64
	for _, v := range w.rlDelta {
		if !math.IsNaN(v) {
			violations += v
		}
	}
	var parts []string
	if passed > 0 {
		parts = append(parts, "check 7 drew a 429 in "+plural(passed, "minute", "minutes"))
	}
	if failed > 0 {
		parts = append(parts, "check 7 drew no 429 in "+plural(failed, "minute", "minutes"))
	}
	if seen429 > 0 {
		parts = append(parts, plural(seen429, "429", "429s")+" seen by the daemon")
	}
	if violations > 0 {
		parts = append(parts, "the instance counted "+plural(int(violations), "violation", "violations"))
	}
	it.Figure = strings.Join(parts, "; ")
	switch working := passed > 0 || seen429 > 0 || violations > 0; {
	case working && failed == 0:
		it.Verdict = Pass
	case working:
		it.Verdict = Warn
		it.Note = "check 7 sometimes drew no 429: the limit may be too high or per client"
	case failed > 0:
		it.Verdict = Fail
		it.Note = "no 429 after the burst: rate limiting is off"
	default:
		it.Verdict, it.Figure = Warn, "not exercised"
		it.Note = "no 429 seen and check 7 did not run in the window"
	}
	return it
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (w *window) nothingSuspicious() Item {
	it := Item{Name: "nothing_suspicious", Title: "No suspicious activity"}
	b := w.authFailuresBurst()
	spikes, _, _, _ := w.spikes()
	var seen []string
	if b.attack(w.th) {
		seen = append(seen, fmt.Sprintf("%s in %s from %s", plural(b.most, "authentication failure", "authentication failures"), shortDuration(w.th.AuthAttackWindow), w.since(b.from)))
	}
	if len(spikes) > 0 {
		seen = append(seen, plural(len(spikes), "error spike", "error spikes")+" from "+w.since(spikes[0].at))
	}
	switch {
	case b.attack(w.th):
		it.Verdict = Fail
	case len(spikes) > 0:
		it.Verdict = Warn
	default:
		it.Verdict, it.Figure = Pass, "no authentication burst, no error spike"
		return it
	}
	it.Figure = strings.Join(seen, "; ")
	it.Note = "see auth_failures and no_error_spikes"
	return it
}
