package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// alertState is one alert as the manager's goroutine tracks it: the
// condition as the monitor last reported it, and what people were told.
//
// Lifecycle: a firing event creates it (or revives a resolved one not yet
// notified as such); it is held while the deployment grace lasts, muted
// while silenced, and otherwise notified at its group's next flush. A
// resolved event ends the condition; the alert is forgotten once the
// resolution is notified, or at once if nobody was told it fired.
type alertState struct {
	fp       string
	target   string
	name     string
	severity Severity
	kind     event.Kind
	cause    string
	source   string // where a rule's value came from, when it has several

	firing   bool      // the condition holds
	startsAt time.Time // when the condition began (the episode's first firing)
	endsAt   time.Time // when it ended, zero while firing
	reason   string
	hint     string // the likely cause and next step, while firing
	observed string
	expected string
	dep      *Deployment // the deployment it fired during

	// activeAt is when the manager saw it start firing (the episode's
	// first firing event): a never-notified alert's change is pending
	// since then, so that one released from grace or a silence is sent
	// without a second group_wait.
	activeAt time.Time
	// resolvedAt is when the manager saw it resolve.
	resolvedAt time.Time
	// heldUntil is the end of the deployment grace that holds it; zero
	// when not held.
	heldUntil time.Time
	// notified: the last notification about it said firing.
	notified bool
	// lastNotified is when it was last notified as firing.
	lastNotified time.Time
	// announceAt, when set, is when a notified alert became due for a new
	// firing notification although it never stopped firing: its silence
	// ended, or its severity rose.
	announceAt time.Time

	// Derived at each refresh from the time and the silences.
	held, silenced bool
	// inhibited: a firing cause explains it (inhibitedBy, by inhibitRule).
	inhibited                bool
	inhibitedBy, inhibitRule string
	// releasedAt is when its cause resolved while it kept firing; it is
	// notified only once it fired on its own for InhibitRelease.
	releasedAt time.Time
	// Rendered from the settings' templates.
	runbookURL, dashboardURL string
}

// fingerprint identifies (target, name), stably across restarts and builds.
func fingerprint(target, name string) string {
	h := sha256.Sum256([]byte(target + "\x00" + name))
	return hex.EncodeToString(h[:8])
}

// severityRank orders severities, most urgent first; unknown ones last.
func severityRank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 0
	case SeverityWarning:
		return 1
	case SeverityInfo:
		return 2
	}
	return 3
}

// eligible: the alert fires and nothing keeps it from people.
func (a *alertState) eligible() bool {
	return a.firing && !a.held && !a.silenced && !a.inhibited && !a.releasing()
}

// labels are the alert's labels, for groups and silences.
func (a *alertState) labels() Labels {
	return Labels{Target: a.target, Alert: a.name, Severity: a.severity, Kind: a.kind, Cause: a.cause, Source: a.source}
}

// pendingSince is when the alert's un-notified change began, or zero when
// it has none: a firing never notified, a firing to re-announce, or a
// resolution of a notified alert (sent even when silenced).
func (a *alertState) pendingSince() time.Time {
	switch {
	case a.eligible() && !a.notified:
		return a.activeAt
	case a.eligible() && !a.announceAt.IsZero():
		return a.announceAt
	case !a.firing && a.notified:
		return a.resolvedAt
	}
	return time.Time{}
}

// state is the alert's State as /api/v1/alerts shows it: pending while held
// or waiting for its first notification, firing once notified (or muted by
// a silence, i.e. it would be), resolved until the resolution is notified.
func (a *alertState) state() State {
	switch {
	case !a.firing:
		return StateResolved
	case a.held || (!a.notified && !a.silenced && !a.inhibited):
		return StatePending
	}
	return StateFiring
}

// summary is the alert's one line: "<alert> on <target>: <reason>".
func (a *alertState) summary() string {
	s := a.name + " on " + a.target
	if a.reason != "" {
		s += ": " + a.reason
	}
	return oneLine(s)
}

// oneLine keeps a text to one line: monitor reasons may quote bodies.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// view is the alert as the API and the sinks see it.
func (a *alertState) view() Alert {
	out := Alert{
		Fingerprint:  a.fp,
		Target:       a.target,
		Name:         a.name,
		Severity:     a.severity,
		State:        a.state(),
		StartsAt:     a.startsAt,
		Summary:      a.summary(),
		Reason:       oneLine(a.reason),
		Hint:         oneLine(a.hint),
		Observed:     a.observed,
		Expected:     a.expected,
		RunbookURL:   a.runbookURL,
		DashboardURL: a.dashboardURL,
		Kind:         a.kind,
		Cause:        a.cause,
		Silenced:     a.silenced,
		Held:         a.held,
		Inhibited:    a.inhibited,
		InhibitedBy:  a.inhibitedBy,
		InhibitRule:  a.inhibitRule,
	}
	if !a.firing {
		out.EndsAt = a.endsAt
	}
	if a.dep != nil {
		d := *a.dep
		out.Deployment = &d
	}
	return out
}

// applyFiring records a firing event. isNew says whether this starts an
// episode (the alert was not firing), so that the caller decides on grace.
func (a *alertState) applyFiring(ev event.Event, now time.Time, dep *Deployment) (isNew bool) {
	isNew = !a.firing
	if isNew {
		a.firing = true
		a.endsAt, a.resolvedAt = time.Time{}, time.Time{}
		if !a.notified {
			// A new episode. A notified alert that fires again before its
			// resolution went out is the same episode, as in Alertmanager:
			// people were told it fires, and it does.
			a.startsAt = eventSince(ev, now)
			a.activeAt = now
			a.dep = dep
		}
	}
	if severityRank(ev.Severity) < severityRank(a.severity) && a.notified {
		a.announceAt = now // it got worse: people hear of it, not at the next repeat
	}
	a.severity, a.kind, a.cause, a.source = ev.Severity, ev.Kind, ev.Cause, ev.Source
	a.reason, a.observed, a.expected, a.hint = ev.Reason, ev.Observed, ev.Expected, ev.Hint
	if a.dep == nil {
		a.dep = dep
	}
	return isNew
}

// applyResolved records a resolved event; it returns false when the alert
// can be forgotten at once (nobody was told it fired).
func (a *alertState) applyResolved(ev event.Event, now time.Time) (keep bool) {
	if !a.firing {
		return a.notified
	}
	a.firing = false
	a.endsAt = ev.At
	if a.endsAt.IsZero() {
		a.endsAt = now
	}
	a.resolvedAt = now
	a.heldUntil, a.held, a.announceAt = time.Time{}, false, time.Time{}
	if ev.Reason != "" {
		// The resolution's own account ("FPS back above 85"), values
		// included: the firing values next to it would read as current.
		a.reason, a.observed, a.expected = ev.Reason, ev.Observed, ev.Expected
	}
	a.hint = "" // what to do about a condition that is over: nothing
	return a.notified
}

func eventSince(ev event.Event, now time.Time) time.Time {
	switch {
	case !ev.Since.IsZero():
		return ev.Since
	case !ev.At.IsZero():
		return ev.At
	}
	return now
}
