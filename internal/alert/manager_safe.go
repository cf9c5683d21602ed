package alert

import (
	"time"

	"go.uber.org/zap"
)

// Safe mode: after state was lost (damaged and recovered, at start or
// while running), the manager cannot tell which alerts people were already
// told of. An alert whose condition began before the end of the first poll
// after the loss may well have been announced before it, so it is taken
// silently: recorded as notified, without a message. Its resolution, a
// reminder after repeat_interval and alerts that begin later are notified
// as usual; the daemon's own alerts (StateRecovered) are never held back.

// SafeMode starts safe mode: every alert that starts firing from now on is
// taken silently, until EndSafeMode says when the first poll ended.
func (m *Manager) SafeMode() {
	m.safeEnd.Store(0)
	m.safe.Store(true)
	m.poke()
}

// EndSafeMode ends the open part of safe mode: the first poll after the
// loss ended at end (the manager's clock). From then on only alerts whose
// condition began by end are taken silently.
func (m *Manager) EndSafeMode(end time.Time) {
	m.safeEnd.Store(end.UnixNano())
	m.poke()
}

// adopt takes a firing alert silently when safe mode says it may already
// have been announced. Called from Run's goroutine after the alert applied
// an event.
func (m *Manager) adopt(a *alertState, now time.Time) {
	if !m.safe.Load() || a.notified || !a.firing || a.target == InternalTarget {
		return
	}
	if end := m.safeEnd.Load(); end != 0 && a.startsAt.After(time.Unix(0, end)) {
		return
	}
	a.notified, a.lastNotified, a.announceAt, a.heldUntil = true, now, time.Time{}, time.Time{}
	m.log.Info("safe mode: alert taken without a notification (it may have been announced before the state was lost)",
		zap.String("target", a.target), zap.String("alert", a.name), zap.Time("since", a.startsAt))
}

// Rewrite has the manager write what it holds to its store again at its
// next step: the alert state and the silences. For a store that lost them
// while the daemon ran (store.OnRecovered): the fresh state must hold what
// people were told and what is silenced, or the next start would announce
// it all again. It never blocks, so it is safe from any goroutine, the
// store's OnRecovered included, even in the middle of a silence update.
func (m *Manager) Rewrite() {
	m.rewrite.Store(true)
	m.poke()
}

// rewriteState does what Rewrite asked for, in Run's goroutine.
func (m *Manager) rewriteState(now time.Time) {
	m.dirty, m.persistAt = true, time.Time{}
	same := func(list []Silence) ([]Silence, error) { return list, nil }
	if err := m.silences.update(now, same, m.saveSilences); err != nil {
		m.log.Error("cannot write the silences again", zap.Error(err))
	}
}
