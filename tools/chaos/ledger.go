package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The two states of an alert notification.
const (
	stateFiring   = "firing"
	stateResolved = "resolved"
)

// Episode is one fault the driver held on one target: from Start to End
// the target was broken in a way that raises Alert. MustFire says the fault
// held long enough, with the daemon up and its state intact, that the alert
// must have fired; a shorter one may fire or not, but a firing it caused
// must be resolved all the same.
type Episode struct {
	Target, Alert string
	Start, End    time.Time
	MustFire      bool
}

// Notice is one alert in one notification a sink received: a group message
// carrying three alerts is three notices.
type Notice struct {
	Target, Alert, State string
	At                   time.Time
}

// ReviewNotice is one review a sink received.
type ReviewNotice struct {
	Target, Review, Deployment string
	At                         time.Time
}

// ReviewDue is a review the daemon must have delivered by the end of the
// run: Deployments is how many distinct deployments of Target must each
// have had their Review delivered (a lost state starts a new deployment).
type ReviewDue struct {
	Target, Review string
	Deployments    int
}

// Ledger is what the driver recorded: the faults it held, the disruptions
// (kills, the state corruption) that may explain a duplicate, and what the
// fake Slack received.
type Ledger struct {
	Episodes []Episode
	// Disruptions are the instants the daemon was SIGKILLed or its state
	// damaged: the only excuse for a review delivered twice.
	Disruptions []time.Time
	Notices     []Notice
	Reviews     []ReviewNotice
	ReviewsDue  []ReviewDue
	// NoResolve names alerts that are not expected to resolve within the
	// run (StateRecovered resolves at the next clean start).
	NoResolve []string
}

// Verdict is the reconciliation of a Ledger.
type Verdict struct {
	// Notified counts the alert notices and reviews received.
	Notified int
	// Lost counts firings, resolutions and reviews that never arrived.
	Lost int
	// Duplicates counts notices received more than once for one transition.
	Duplicates int
	// Flaps counts alerts resolved and then firing again within one fault:
	// a resolution while the fault held (not a failure; worth a look).
	Flaps int
	// Problems says what is wrong, one line each; empty is a pass.
	Problems []string
	// Duplicated says which transitions and reviews came twice, one line
	// each (allowed, and worth a look).
	Duplicated []string
}

// transition is what the notices of one alert in one episode amount to.
type transition struct {
	firing, resolved int
	first, last      string // first and last state seen
	order            string // F and R in the order received
}

// Reconcile checks the ledger: every must-fire episode notified firing at
// least once, at most twice; every alert that fired notified resolved
// once or twice after it, by the end; every review due delivered for each
// of its deployments, and twice only across a disruption.
//
// A notice belongs to the latest episode of its target that began at or
// before it (the driver holds one fault at a time per target, and leaves
// a gap between them), except a resolution, which belongs to the episode
// of the firing it resolves however late it comes (a Slack outage delays
// it); notices before any episode form a bucket of their own. Alerts other than the episode's own (a check that fails alongside)
// are held to the same bounds, without a must-fire.
func Reconcile(l Ledger) Verdict {
	var v Verdict
	byTarget := map[string][]Episode{}
	for _, e := range l.Episodes {
		byTarget[e.Target] = append(byTarget[e.Target], e)
	}
	for _, eps := range byTarget {
		sort.Slice(eps, func(i, j int) bool { return eps[i].Start.Before(eps[j].Start) })
	}
	type key struct {
		target string
		ep     int // index in byTarget[target]; -1 before the first
		alert  string
	}
	seen := map[key]*transition{}
	var order []key
	// open is, per target and alert, the episode whose firing awaits its
	// resolution: a resolution belongs to it however late it comes.
	open := map[[2]string]int{}
	// closed is the episode of the last resolution: a repeat of it is a
	// duplicate there, not news of a later episode.
	closed := map[[2]string]int{}
	for _, n := range l.Notices {
		v.Notified++
		ep := -1
		for i, e := range byTarget[n.Target] {
			if !e.Start.After(n.At) {
				ep = i
			}
		}
		ta := [2]string{n.Target, n.Alert}
		if n.State == stateResolved {
			if i, ok := open[ta]; ok {
				ep = i
			} else if i, ok := closed[ta]; ok && i >= 0 && seen[key{n.Target, i, n.Alert}].firing > 0 {
				ep = i // a second resolution of the last firing
			}
			delete(open, ta)
			closed[ta] = ep
		} else {
			open[ta] = ep
		}
		k := key{n.Target, ep, n.Alert}
		tr := seen[k]
		if tr == nil {
			tr = &transition{first: n.State}
			seen[k] = tr
			order = append(order, k)
		}
		tr.last = n.State
		tr.order += strings.ToUpper(n.State[:1])
		if n.State == stateFiring {
			tr.firing++
		} else {
			tr.resolved++
		}
	}
	where := func(k key) string {
		if k.ep < 0 {
			return fmt.Sprintf("%s on %s before any fault", k.alert, k.target)
		}
		e := byTarget[k.target][k.ep]
		return fmt.Sprintf("%s on %s in the %s fault of %s", k.alert, k.target, e.Alert, e.Start.Format("15:04:05"))
	}
	for target, eps := range byTarget {
		for i, e := range eps {
			if e.MustFire && seen[key{target, i, e.Alert}] == nil {
				v.Lost++
				v.Problems = append(v.Problems, fmt.Sprintf("lost: %s never notified firing (fault held %s)",
					where(key{target, i, e.Alert}), e.End.Sub(e.Start).Round(time.Second)))
			}
		}
	}
	for _, k := range order {
		tr := seen[k]
		for _, c := range []struct {
			state string
			n     int
		}{{stateFiring, tr.firing}, {stateResolved, tr.resolved}} {
			if c.n > 1 {
				v.Duplicates += c.n - 1
				v.Duplicated = append(v.Duplicated, fmt.Sprintf("%s notified %s %d times (in order: %s)", where(k), c.state, c.n, tr.order))
			}
			if c.n > 2 {
				v.Problems = append(v.Problems, fmt.Sprintf("duplicates: %s notified %s %d times, at most twice allowed", where(k), c.state, c.n))
			}
		}
		if strings.Contains(tr.order, "RF") {
			v.Flaps++
		}
		if tr.firing > 0 && tr.last != stateResolved && !slices.Contains(l.NoResolve, k.alert) {
			v.Lost++
			v.Problems = append(v.Problems, fmt.Sprintf("lost: %s fired and its resolution never came", where(k)))
		}
	}
	reconcileReviews(l, &v)
	return v
}

// reconcileReviews checks the reviews: each due one delivered for as many
// deployments as due, a second copy only across a disruption.
func reconcileReviews(l Ledger, v *Verdict) {
	type key struct{ target, review, deployment string }
	got := map[key][]time.Time{}
	deployments := map[[2]string]int{}
	for _, r := range l.Reviews {
		v.Notified++
		k := key{r.Target, r.Review, r.Deployment}
		if len(got[k]) == 0 {
			deployments[[2]string{r.Target, r.Review}]++
		}
		got[k] = append(got[k], r.At)
	}
	for _, d := range l.ReviewsDue {
		if have := deployments[[2]string{d.Target, d.Review}]; have < d.Deployments {
			v.Lost += d.Deployments - have
			v.Problems = append(v.Problems, fmt.Sprintf("lost: review %s of %s delivered for %d deployments, %d due", d.Review, d.Target, have, d.Deployments))
		}
	}
	keys := make([]key, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	for _, k := range keys {
		at := got[k]
		v.Duplicates += len(at) - 1
		if len(at) > 1 {
			v.Duplicated = append(v.Duplicated, fmt.Sprintf("review %s of %s (deployment %s) delivered %d times", k.review, k.target, k.deployment, len(at)))
		}
		if len(at) > 2 {
			v.Problems = append(v.Problems, fmt.Sprintf("duplicates: review %s of %s (deployment %s) delivered %d times, at most twice allowed", k.review, k.target, k.deployment, len(at)))
		}
		for i := 1; i < len(at); i++ {
			if !disruptedBetween(l.Disruptions, at[i-1], at[i]) {
				v.Problems = append(v.Problems, fmt.Sprintf("duplicates: review %s of %s (deployment %s) delivered again at %s with no kill since %s",
					k.review, k.target, k.deployment, at[i].Format("15:04:05"), at[i-1].Format("15:04:05")))
			}
		}
	}
}

// disruptedBetween reports whether a disruption fell in [from, to].
func disruptedBetween(ds []time.Time, from, to time.Time) bool {
	for _, d := range ds {
		if !d.Before(from) && !d.After(to) {
			return true
		}
	}
	return false
}
