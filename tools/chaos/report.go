package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
)

// reconcile builds the ledger's expectations, reconciles and prints.
func (r *runner) reconcile() {
	for i, e := range r.ledger.Episodes {
		overlapsDamage := !r.corrupt.from.IsZero() && e.Start.Before(r.corrupt.to) && e.End.After(r.corrupt.from)
		r.ledger.Episodes[i].MustFire = e.Alert != "sim_restart" && !overlapsDamage && r.d.upFor(e.Start, e.End, mustHold, r.corrupt)
	}
	notices, reviews, problems := readSlack(r.slack.Messages())
	r.problems = append(r.problems, problems...)
	r.ledger.Notices, r.ledger.Reviews = notices, reviews
	r.ledger.NoResolve = []string{"StateRecovered"}
	r.ledger.ReviewsDue = r.reviewsDue()
	v := Reconcile(r.ledger)
	r.saveLedger()
	am := reconcileAM(r.ledger.Episodes, r.hook.all(), r.ledger.NoResolve)
	v.Lost += am.Lost
	v.Problems = append(v.Problems, am.Problems...)
	r.problems = append(r.problems, v.Problems...)
	if g := r.lastGoroutines - r.baseGoroutines; g > goroutineSlack {
		r.problemf("goroutines grew from %v to %v (slack %d)", r.baseGoroutines, r.lastGoroutines, goroutineSlack)
	}
	if f := r.lastFDs - r.baseFDs; f > fdSlack {
		r.problemf("open fds grew from %v to %v (slack %d)", r.baseFDs, r.lastFDs, fdSlack)
	}
	if r.maxRSS > rssBound {
		r.problemf("RSS reached %.0f MiB (bound %d MiB)", r.maxRSS/(1<<20), rssBound>>20)
	}
	must := 0
	for _, e := range r.ledger.Episodes {
		if e.MustFire {
			must++
		}
	}
	w := r.out
	fmt.Fprintf(w, "chaos: figures (seed %d, %s of faults)\n", r.o.seed, r.o.duration)
	rows := [][2]string{
		{"faults held on sims", fmt.Sprintf("%d (%d must fire)", r.faults, must)},
		{"sim restarts", fmt.Sprint(r.simRestarts)},
		{"Slack faults (429/5xx/reset/timeout)", fmt.Sprint(r.slackFaults)},
		{"daemon SIGKILLs", fmt.Sprint(r.kills)},
		{"SIGHUPs good/bad", fmt.Sprintf("%d/%d", r.goodHUPs, r.badHUPs)},
		{"state corruptions", fmt.Sprint(map[bool]int{true: 0, false: 1}[r.corrupt.from.IsZero()])},
		{"Slack notifications (alerts+reviews)", fmt.Sprintf("%d (%d messages, %d requests)", v.Notified, len(r.slack.Messages()), r.slack.Requests())},
		{"Alertmanager notifications", fmt.Sprint(len(r.hook.all()))},
		{"reviews delivered", fmt.Sprint(len(reviews))},
		{"lost", fmt.Sprint(v.Lost)},
		{"duplicates", fmt.Sprint(v.Duplicates)},
		{"flaps (resolved, then firing again in one fault)", fmt.Sprint(v.Flaps)},
		{"goroutines first/last", fmt.Sprintf("%v/%v", r.baseGoroutines, r.lastGoroutines)},
		{"open fds first/last", fmt.Sprintf("%v/%v", r.baseFDs, r.lastFDs)},
		{"max RSS", fmt.Sprintf("%.0f MiB (bound %d MiB)", r.maxRSS/(1<<20), rssBound>>20)},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "  %-50s %s\n", row[0], row[1])
	}
	for _, d := range v.Duplicated {
		fmt.Fprintf(w, "chaos: duplicate: %s\n", d)
	}
	for _, p := range r.problems {
		fmt.Fprintf(w, "chaos: PROBLEM: %s\n", p)
	}
	verdict := "PASS"
	if len(r.problems) > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "chaos: %s: %d lost, %d duplicates, %d problems\n", verdict, v.Lost, v.Duplicates, len(r.problems))
}

// saveLedger writes the ledger and Alertmanager's notices to the run's
// dir as JSON, to read after a failed run.
func (r *runner) saveLedger() {
	data, err := json.MarshalIndent(struct {
		Ledger       Ledger
		Alertmanager []Notice
	}{r.ledger, r.hook.all()}, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dir, "ledger.json"), data, 0o600)
	}
	if err != nil {
		r.problemf("writing the ledger: %v", err)
	}
}

// reviewsDue lists the reviews due by the end of the run, less a minute:
// per target, those of the deployment the daemon saw first, dated from
// its sim's first start, that fell due before the state was lost (with a
// margin for their delivery); and after the loss, every one of the
// deployment the daemon opens then, dated from the sim's start at that
// time (the lost one's reviews are forgotten with it).
func (r *runner) reviewsDue() []ReviewDue {
	last := clock.Now().Add(-time.Minute)
	var due []ReviewDue
	for _, s := range r.sims {
		type dep struct{ start, by time.Time }
		deps := []dep{{s.starts[0], last}}
		if !r.corrupt.from.IsZero() {
			deps[0].by = minTime(last, r.corrupt.from.Add(-reviewDeliverySlack))
			deps = append(deps, dep{s.startedBy(r.corrupt.from), last})
		}
		for _, off := range reviewOffsets {
			n := 0
			for _, d := range deps {
				if !d.start.Add(off).After(d.by) {
					n++
				}
			}
			if n > 0 {
				due = append(due, ReviewDue{Target: s.name, Review: review.OffsetName(off), Deployments: n})
			}
		}
	}
	return due
}

// reconcileAM checks what Alertmanager notified: each must-fire fault
// firing at least once, and every alert it notified firing resolved last.
// Its duplicates are its own (it re-notifies a group on every change).
func reconcileAM(eps []Episode, notices []Notice, noResolve []string) Verdict {
	var v Verdict
	last := map[[2]string]Notice{}
	for _, n := range notices {
		last[[2]string{n.Target, n.Alert}] = n
	}
	for _, e := range eps {
		if !e.MustFire {
			continue
		}
		found := false
		for _, n := range notices {
			if n.Target == e.Target && n.Alert == e.Alert && n.State == stateFiring && !n.At.Before(e.Start) {
				found = true
				break
			}
		}
		if !found {
			v.Lost++
			v.Problems = append(v.Problems, fmt.Sprintf("lost: Alertmanager never notified %s on %s firing (fault at %s)", e.Alert, e.Target, e.Start.Format("15:04:05")))
		}
	}
	for k, n := range last {
		if n.State != stateResolved && !containsString(noResolve, n.Alert) {
			v.Lost++
			v.Problems = append(v.Problems, fmt.Sprintf("lost: Alertmanager's last word on %s on %s is %s", k[1], k[0], n.State))
		}
	}
	return v
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
