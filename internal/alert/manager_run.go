package alert

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"go.uber.org/zap"
)

// Run is the manager's goroutine: it applies events, settings and silence
// changes, flushes groups when due, and keeps the state in the store. It
// returns nil when ctx ends, after a last write of the state; a second
// call is an error.
//
// Timing needs no ticker: each step computes the next instant something
// is due (a group's flush, a grace or silence boundary, a retry) and
// sleeps until then or until woken by Handle and friends.
func (m *Manager) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("alert: Manager.Run called twice")
	}
	hl := m.health.Register("alert-manager")
	defer hl.Unregister()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		hl.Busy()
		failpoint.Wedge(fpWedgeManager)
		now := m.now()
		if next := m.step(now); next.IsZero() {
			timer.Stop()
			hl.Idle()
		} else {
			sleep := m.wait(next.Sub(now))
			timer.Reset(sleep)
			hl.For(sleep)
		}
		select {
		case <-ctx.Done():
			m.shutdown(m.now())
			return nil
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// fpWedgeManager wedges Run before a step (the liveness tests).
var fpWedgeManager = failpoint.Declare("wedge-alert-manager")

// step does everything due at now and returns when the next step is due
// (zero: only when woken).
func (m *Manager) step(now time.Time) time.Time {
	if m.rewrite.Swap(false) {
		m.rewriteState(now)
	}
	m.drainInbox(now)
	sil := m.silences.snapshot()
	m.refresh(now, sil)
	m.refreshInhibition(now)
	m.flush(now)
	m.metrics.syncFiring(m.alerts, m.exported)
	m.persist(now, false)
	m.publish()
	next := m.nextWake(now, sil)
	if !next.IsZero() && !next.After(now) {
		// Everything due was done; a time not in the future would spin.
		// Should a rule above ever disagree with itself, wait a second.
		m.log.Debug("alert: next step not in the future", zap.Time("next", next))
		next = now.Add(time.Second)
	}
	return next
}

// drainInbox applies the queued settings, then the queued events in order.
func (m *Manager) drainInbox(now time.Time) {
	events, c := m.takeInbox()
	if c != nil {
		m.applySettings(c)
	}
	for _, ev := range events {
		m.apply(ev, now)
	}
}

// shutdown applies what is queued and writes the state, without
// notifying: changes left pending are notified after the next start.
func (m *Manager) shutdown(now time.Time) {
	m.drainInbox(now)
	m.refresh(now, m.silences.snapshot())
	m.refreshInhibition(now)
	m.persist(now, true)
	m.publish()
}

func (m *Manager) applySettings(c *compiled) {
	m.settings = c
	for _, a := range m.alerts {
		m.renderLinks(a)
	}
	m.log.Info("alert settings updated", zap.Strings("group_by", c.GroupBy),
		zap.Duration("group_wait", c.GroupWait), zap.Duration("group_interval", c.GroupInterval),
		zap.Duration("repeat_interval", c.RepeatInterval), zap.Bool("send_resolved", c.SendResolved),
		zap.Duration("grace_period", c.GracePeriod))
}

// apply records one event.
func (m *Manager) apply(ev event.Event, now time.Time) {
	if ev.Target == "" || ev.Name == "" {
		m.log.Warn("alert event without target or alert name dropped",
			zap.String("target", ev.Target), zap.String("alert", ev.Name))
		return
	}
	fp := fingerprint(ev.Target, ev.Name)
	a := m.alerts[fp]
	if !ev.Firing() {
		if a == nil {
			return // never seen firing (or already forgotten): nothing to tell
		}
		if !a.applyResolved(ev, now) {
			delete(m.alerts, fp) // nobody was told it fired
		}
		m.dirty = true
		return
	}
	if a == nil {
		a = &alertState{fp: fp, target: ev.Target, name: ev.Name}
		m.alerts[fp] = a
	}
	prev := a.severity
	dep := m.deployment(ev.Target)
	if a.applyFiring(ev, now, dep) && !a.notified {
		a.heldUntil = m.graceEnd(a, dep, now)
	}
	if a.severity == SeverityCritical {
		a.heldUntil = time.Time{} // critical is never held, even if it got worse during the grace
	}
	if a.severity != prev {
		m.renderLinks(a)
	}
	m.adopt(a, now)
	m.dirty = true
}

// graceEnd is when the deployment grace for a starting alert ends, or
// zero when it is not held: critical alerts and targets without a known
// deployment are not held.
func (m *Manager) graceEnd(a *alertState, dep *Deployment, now time.Time) time.Time {
	if a.severity == SeverityCritical || dep == nil || m.settings.GracePeriod <= 0 || dep.StartedAt.IsZero() {
		return time.Time{}
	}
	if end := dep.StartedAt.Add(m.settings.GracePeriod); now.Before(end) {
		return end
	}
	return time.Time{}
}

// refresh derives each alert's held and silenced flags at now. An alert
// whose silence ended while it kept firing, and that people had heard of,
// is announced again.
func (m *Manager) refresh(now time.Time, sil []Silence) {
	for _, a := range m.alerts {
		a.held = a.firing && !a.heldUntil.IsZero() && now.Before(a.heldUntil)
		if !a.held && !a.heldUntil.IsZero() {
			a.heldUntil = time.Time{} // the grace is over
			m.dirty = true
		}
		wasSilenced := a.silenced
		a.silenced = a.firing && silencedBy(sil, a.labels(), now)
		if wasSilenced != a.silenced {
			m.dirty = true
			if !a.silenced && a.firing && a.notified {
				a.announceAt = now
			}
		}
	}
}

// groupsNow sorts the alerts into groups under the current group_by.
func (m *Manager) groupsNow() map[string]*groupAlerts {
	out := map[string]*groupAlerts{}
	for _, a := range sortedAlerts(m.alerts) {
		labels := groupLabels(a, m.settings.GroupBy)
		key := groupKeyOf(labels)
		g := out[key]
		if g == nil {
			g = &groupAlerts{key: key, labels: labels}
			out[key] = g
		}
		g.alerts = append(g.alerts, a)
	}
	return out
}

// flush notifies every group that is due, and forgets the pacing of
// groups that are empty and past their group_interval.
//
// A storm is folded: when more than StormFoldGroups groups have something
// to notify within one group_wait of now, the groups due now and those due
// within that group_wait go out together as one summary message, at once,
// instead of one message each. Each folded group then paces itself as if
// it had notified, so what changes next follows group_interval, and its
// resolved alerts are notified (and forgotten) once, like any group's.
func (m *Manager) flush(now time.Time) {
	groups := m.groupsNow()
	var ready, soon []pendingFlush
	horizon := now.Add(m.settings.GroupWait)
	for _, key := range sortedKeys(groups) {
		g := groups[key]
		due := g.due(m.groups[key], m.settings)
		if due.IsZero() || due.After(horizon) {
			continue
		}
		p := pendingFlush{g: g, n: g.plan(now, m.settings)}
		switch {
		case !due.After(now):
			ready = append(ready, p)
		case !p.n.empty():
			soon = append(soon, p)
		}
	}
	if m.storm(ready, soon) {
		m.sendFolded(append(ready, soon...), now)
	} else {
		for _, p := range ready {
			if p.n.empty() || m.send(p.g, p.n, now) {
				m.settle(p.n)
			}
		}
	}
	for key, st := range m.groups {
		if groups[key] == nil && !now.Before(st.lastSent.Add(m.settings.GroupInterval)) {
			delete(m.groups, key)
			m.dirty = true
		}
	}
}

// pendingFlush is a group with what it would notify now.
type pendingFlush struct {
	g *groupAlerts
	n notification
}

// storm reports whether the groups due now and soon (within group_wait)
// are more than StormFoldGroups with something to notify, one of them
// due now.
func (m *Manager) storm(ready, soon []pendingFlush) bool {
	limit := m.settings.StormFoldGroups
	if limit <= 0 {
		return false
	}
	notifying := len(soon)
	for _, p := range ready {
		if !p.n.empty() {
			notifying++
		}
	}
	return notifying > len(soon) && notifying > limit
}

// settle forgets the alerts whose resolution n is done with.
func (m *Manager) settle(n notification) {
	for _, a := range n.settled {
		delete(m.alerts, a.fp)
	}
	m.dirty = true
}

// groupState returns the group's pacing state, created when missing.
func (m *Manager) groupState(key string) *groupState {
	st := m.groups[key]
	if st == nil {
		st = &groupState{key: key}
		m.groups[key] = st
	}
	return st
}

// send builds the group's message and enqueues it; on success the alerts
// are marked notified. It reports whether the message was enqueued.
func (m *Manager) send(g *groupAlerts, n notification, now time.Time) bool {
	msg := m.message(g, n, now)
	if !m.deliver(msg, []string{g.key}, n, now) {
		return false
	}
	m.log.Info("notification queued", zap.String("message_id", msg.ID), zap.String("group", g.key),
		zap.Int("firing", len(n.firing)), zap.Int("resolved", len(n.resolved)))
	return true
}

// sendFolded notifies the groups of a storm as one summary message.
func (m *Manager) sendFolded(ps []pendingFlush, now time.Time) {
	var all notification
	keys := make([]string, 0, len(ps))
	var names []string
	for _, p := range ps {
		if p.n.empty() {
			m.settle(p.n) // nothing to say, but a resolution may be done with
			continue
		}
		all.firing = append(all.firing, p.n.firing...)
		all.resolved = append(all.resolved, p.n.resolved...)
		keys = append(keys, p.g.key)
		names = append(names, fmt.Sprintf("%s (%d)", groupName(p.g), len(p.n.firing)+len(p.n.resolved)))
	}
	labels := map[string]string{LabelStorm: fmt.Sprintf("%d groups, %d alerts: %s",
		len(keys), len(all.firing)+len(all.resolved), strings.Join(names, ", "))}
	msg := m.message(&groupAlerts{key: groupKeyOf(labels), labels: labels}, all, now)
	if !m.deliver(msg, keys, all, now) {
		return
	}
	for _, p := range ps {
		m.settle(p.n)
	}
	m.log.Warn("alert storm: groups folded into one notification", zap.String("message_id", msg.ID),
		zap.Int("groups", len(keys)), zap.Strings("group_keys", keys),
		zap.Int("firing", len(all.firing)), zap.Int("resolved", len(all.resolved)))
}

// deliver queues msg, the notification n of the groups keyed, and
// reports success. The groups' pacing and n's alerts are marked sent
// first, so that with the outbox on the manager's own store the state as
// it stands commits with the message (enqueue); a message that could not
// be queued undoes the marks and its groups retry after enqueueRetry.
func (m *Manager) deliver(msg Message, keys []string, n notification, now time.Time) bool {
	undo := m.markSent(n, keys, now)
	if err := m.enqueue(msg); err != nil {
		undo()
		for _, key := range keys {
			m.groupState(key).retryAt = now.Add(enqueueRetry)
		}
		m.metrics.errors.WithLabelValues(opEnqueue).Inc()
		m.log.Error("notification not queued; retrying", zap.Strings("groups", keys),
			zap.Duration("retry_in", enqueueRetry), zap.Error(err))
		return false
	}
	failpoint.Kill(fpAfterEnqueue)
	return true
}

// markSent records n as notified for the groups keyed: their pacing, the
// firing alerts notified, the settled ones forgotten. It returns what
// undoes it, for a message that could not be queued.
func (m *Manager) markSent(n notification, keys []string, now time.Time) (undo func()) {
	type pace struct{ sent, retry time.Time }
	prevPace := make([]pace, len(keys))
	for i, key := range keys {
		st := m.groupState(key)
		prevPace[i] = pace{st.lastSent, st.retryAt}
		st.lastSent, st.retryAt = now, time.Time{}
	}
	type mark struct {
		notified         bool
		last, announceAt time.Time
	}
	prev := make([]mark, len(n.firing))
	for i, a := range n.firing {
		prev[i] = mark{a.notified, a.lastNotified, a.announceAt}
		a.notified, a.lastNotified, a.announceAt = true, now, time.Time{}
	}
	for _, a := range n.settled {
		delete(m.alerts, a.fp)
	}
	return func() {
		for i, key := range keys {
			st := m.groupState(key)
			st.lastSent, st.retryAt = prevPace[i].sent, prevPace[i].retry
		}
		for i, a := range n.firing {
			a.notified, a.lastNotified, a.announceAt = prev[i].notified, prev[i].last, prev[i].announceAt
		}
		for _, a := range n.settled {
			m.alerts[a.fp] = a
		}
	}
}

// enqueue queues msg. With the outbox on the manager's own store, the
// alert state as it stands (msg marked sent) commits in the same
// transaction: a crash right after cannot leave the message queued while
// the state still says nobody was told, which would queue it again after
// the restart.
func (m *Manager) enqueue(msg Message) error {
	if m.atomicOut == nil {
		return m.out.Enqueue(msg)
	}
	b, err := encodeState(m.alerts, m.groups)
	if err != nil {
		return fmt.Errorf("alert: encode the alert state: %w", err)
	}
	return m.atomicOut.EnqueueWith(msg, store.MetaValue{Key: metaKeyState, Value: b})
}

// message builds the notification of a group.
func (m *Manager) message(g *groupAlerts, n notification, now time.Time) Message {
	msg := Message{
		ID:          rand.Text(),
		Kind:        KindAlerts,
		GroupKey:    g.key,
		GroupLabels: maps.Clone(g.labels),
		Alerts:      n.alerts(),
		CreatedAt:   wall(now),
	}
	target := msg.Alerts[0].Target
	for _, a := range msg.Alerts[1:] {
		if a.Target != target {
			return msg
		}
	}
	msg.Target = target
	if msg.Deployment = m.deployment(target); msg.Deployment == nil {
		for _, a := range msg.Alerts {
			if a.Deployment != nil && (msg.Deployment == nil || a.Deployment.StartedAt.After(msg.Deployment.StartedAt)) {
				msg.Deployment = a.Deployment
			}
		}
	}
	return msg
}

// persist writes the alert state when it changed; after a failure it
// waits persistRetry, unless final (shutdown).
func (m *Manager) persist(now time.Time, final bool) {
	if !m.dirty || m.st == nil || (!final && now.Before(m.persistAt)) {
		return
	}
	b, err := encodeState(m.alerts, m.groups)
	if err == nil {
		err = m.st.PutMeta(metaKeyState, b)
	}
	if err != nil {
		m.metrics.errors.WithLabelValues(opPersist).Inc()
		m.persistAt = now.Add(persistRetry)
		if msg := err.Error(); msg != m.lastWarned {
			m.lastWarned = msg
			m.log.Error("alert state not saved; retrying (a restart now may notify alerts again)", zap.Error(err))
		}
		return
	}
	m.dirty, m.persistAt, m.lastWarned = false, time.Time{}, ""
}

// publish makes the current alerts visible to Alerts.
func (m *Manager) publish() {
	list := make([]Alert, 0, len(m.alerts))
	for _, a := range sortedAlerts(m.alerts) {
		list = append(list, a.view())
	}
	m.view.Store(&list)
}

// nextWake is the next instant a step has something to do.
func (m *Manager) nextWake(now time.Time, sil []Silence) time.Time {
	var next time.Time
	for key, g := range m.groupsNow() {
		next = earliest(next, g.due(m.groups[key], m.settings))
	}
	for _, a := range m.alerts {
		if a.held {
			next = earliest(next, a.heldUntil)
		}
		if a.releasing() {
			next = earliest(next, a.releasedAt.Add(m.settings.InhibitRelease))
		}
	}
	next = earliest(next, nextSilenceChange(sil, now))
	if m.dirty {
		next = earliest(next, m.persistAt)
	}
	return next
}

// deployment returns a copy of the target's current deployment, or nil.
func (m *Manager) deployment(target string) *Deployment {
	d := m.depOf(target)
	if d == nil {
		return nil
	}
	c := *d
	return &c
}

// renderLinks renders the alert's runbook and dashboard links.
func (m *Manager) renderLinks(a *alertState) {
	var err error
	a.runbookURL, a.dashboardURL, err = m.settings.links.render(LinkData{
		Target: a.target, Alert: a.name, Severity: string(a.severity),
	})
	if err != nil {
		m.log.Warn("alert link template failed; the link is left out",
			zap.String("target", a.target), zap.String("alert", a.name), zap.Error(err))
	}
}
