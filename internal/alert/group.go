package alert

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grouping follows Alertmanager's names and intent, with the timing made
// explicit per change rather than by a ticker:
//
//   - group_wait: a change (an alert starting to fire, a notified alert
//     resolving) waits this long for company, so a burst is one message.
//     A change counts from when it began: an alert held by the grace or a
//     silence has waited already and goes out when released.
//   - group_interval: two notifications of a group are at least this far
//     apart; changes arriving meanwhile go out together at the next slot.
//     A group's pacing outlives its last alert by group_interval, so a
//     flapping alert is notified at most once per group_interval.
//   - repeat_interval: a group whose alerts still fire, unchanged, is
//     re-notified this often, never more often than MinRenotify per alert.
//
// A resolution undone before it was sent (the alert fires again) is no
// change, as in Alertmanager: people were told it fires, and it does.
//
// A notification carries the group's changes and the still-firing alerts
// last notified at least MinRenotify ago (with the defaults: all of them,
// as in Alertmanager); an alert notified more recently is left out rather
// than repeated to people within MinRenotify.

// groupState is a group's pacing state.
type groupState struct {
	key      string
	lastSent time.Time // last notification enqueued; zero if none yet
	retryAt  time.Time // after a failed enqueue, the next attempt
}

// groupLabels are the alert's values of the group_by labels.
func groupLabels(a *alertState, groupBy []string) map[string]string {
	labels := make(map[string]string, len(groupBy))
	al := a.labels()
	for _, l := range groupBy {
		labels[l] = al.Get(l)
	}
	return labels
}

// groupKeyOf renders labels as Alertmanager does: {alert="x",target="y"},
// names sorted, values quoted.
func groupKeyOf(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[name]))
	}
	b.WriteByte('}')
	return b.String()
}

// LabelStorm is the only group label of a storm's summary message (see
// Manager.flush): its value counts the groups and alerts folded and lists
// each group with its alert count, "20 groups, 200 alerts: vr-00 (10), …".
// Sinks show it as they show any group's labels.
const LabelStorm = "storm"

// groupName names a group in a storm summary: its group_by values joined
// by "/" ("vr-03", "vr-03/fps_low"), or "all" when alerts are not grouped.
func groupName(g *groupAlerts) string {
	if len(g.labels) == 0 {
		return "all"
	}
	values := make([]string, 0, len(g.labels))
	for _, name := range slices.Sorted(maps.Keys(g.labels)) {
		values = append(values, g.labels[name])
	}
	return strings.Join(values, "/")
}

// groupAlerts is one group's alerts at a step.
type groupAlerts struct {
	key    string
	labels map[string]string
	alerts []*alertState
}

// due is when the group next has something to notify, or zero.
func (g *groupAlerts) due(st *groupState, c *compiled) time.Time {
	var change, repeat time.Time
	for _, a := range g.alerts {
		if p := a.pendingSince(); !p.IsZero() && (change.IsZero() || p.Before(change)) {
			change = p
		}
		if a.eligible() && a.notified {
			if r := a.lastNotified.Add(c.repeatEvery()); repeat.IsZero() || r.Before(repeat) {
				repeat = r
			}
		}
	}
	if !change.IsZero() {
		change = change.Add(c.GroupWait)
	}
	due := earliest(change, repeat)
	if due.IsZero() {
		return due
	}
	if st != nil {
		if !st.lastSent.IsZero() {
			due = latest(due, st.lastSent.Add(c.GroupInterval))
		}
		due = latest(due, st.retryAt)
	}
	return due
}

// notification is what a flush decided: the alerts to put in a message
// (nil: send nothing) and the alerts whose resolution is settled.
type notification struct {
	firing   []*alertState // notified as firing
	resolved []*alertState // notified as resolved (send_resolved)
	settled  []*alertState // resolutions done with: forget these
}

// plan decides what the group notifies at now. It is called when the
// group is due.
func (g *groupAlerts) plan(now time.Time, c *compiled) notification {
	var n notification
	changed, repeatDue := false, false
	for _, a := range g.alerts {
		switch {
		case a.eligible():
			fresh := !a.notified || !a.announceAt.IsZero()
			changed = changed || fresh
			floorOK := !now.Before(a.lastNotified.Add(c.MinRenotify))
			repeatDue = repeatDue || (a.notified && !now.Before(a.lastNotified.Add(c.repeatEvery())))
			if fresh || floorOK {
				n.firing = append(n.firing, a)
			}
		case !a.firing && a.notified:
			n.settled = append(n.settled, a)
			if c.SendResolved {
				n.resolved = append(n.resolved, a)
				changed = true
			}
		}
	}
	if !changed && !repeatDue {
		n.firing, n.resolved = nil, nil
	}
	return n
}

// empty reports whether n sends nothing.
func (n notification) empty() bool { return len(n.firing) == 0 && len(n.resolved) == 0 }

// alerts are the message's alerts: firing first, then resolved, each most
// severe first, then by target and name.
func (n notification) alerts() []Alert {
	out := make([]Alert, 0, len(n.firing)+len(n.resolved))
	for _, list := range [][]*alertState{n.firing, n.resolved} {
		for _, a := range slices.SortedFunc(slices.Values(list), compareAlerts) {
			v := a.view()
			if a.firing {
				v.State = StateFiring // held and silenced alerts are never here
			}
			out = append(out, v)
		}
	}
	return out
}

func compareAlerts(a, b *alertState) int {
	return cmp.Or(
		cmp.Compare(severityRank(a.severity), severityRank(b.severity)),
		strings.Compare(a.target, b.target),
		strings.Compare(a.name, b.name),
	)
}

// sortedAlerts returns the alerts in message order, firing first.
func sortedAlerts(alerts map[string]*alertState) []*alertState {
	return slices.SortedFunc(maps.Values(alerts), func(a, b *alertState) int {
		return cmp.Or(
			cmp.Compare(stateRank(a.state()), stateRank(b.state())),
			compareAlerts(a, b),
		)
	})
}

func stateRank(s State) int {
	switch s {
	case StateFiring:
		return 0
	case StatePending:
		return 1
	}
	return 2
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// earliest returns the earlier of two times, ignoring zeros.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// latest returns the later of two times (zero is the earliest).
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
