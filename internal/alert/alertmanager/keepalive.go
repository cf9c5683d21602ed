package alertmanager

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// liveKey is the KV key of the persisted keep-alive set.
const liveKey = "alertmanager/live"

// Run keeps the alerts alive in Alertmanager: it posts the heartbeat (when
// enabled) and every alert of the keep-alive set at once, then every
// ResendInterval, until ctx ends. Firing alerts get endsAt a keep-alive
// window ahead. A resolved alert stays in the set, with its endsAt, only
// until every Alertmanager has accepted its resolution, and at most one
// window (after which an Alertmanager that never heard of it has resolved
// it by itself). Re-posting a resolution that every member already knows
// would make each of them notify it again after a stale firing from its
// peer (the HA race of a cluster that notifies at least once). A failed
// re-send is logged (once per distinct error) and tried again at the next
// tick: it is not a notification and never enters the outbox.
//
// Run returns nil once ctx has ended; it returns an error at once when
// this notifier is already running.
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return fmt.Errorf("alertmanager sink %q: already running", n.opts.Name)
	}
	defer n.running.Store(false)
	tick := time.NewTicker(n.opts.ResendInterval)
	defer tick.Stop()
	for {
		n.resend(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// resend posts the heartbeat and the keep-alive set once.
func (n *Notifier) resend(ctx context.Context) {
	if n.lock(ctx) != nil {
		return
	}
	defer n.unlock()
	now := n.opts.Now()
	if n.live.expire(now) {
		n.saveLive()
	}
	var payload []postableAlert
	if n.opts.Heartbeat {
		payload = append(payload, n.heartbeat(now))
	}
	var ids []string
	for _, a := range n.live.list() {
		payload = append(payload, n.fromAlert(a, now))
		ids = append(ids, liveID(a))
	}
	if len(payload) == 0 {
		return
	}
	out, err := n.post(ctx, payload)
	if err == nil && n.live.told(ids, out) {
		n.saveLive()
	}
	if ctx.Err() != nil {
		return // shutting down: an aborted re-send is no news
	}
	if err == nil {
		err = out.err(n.opts.Name)
	}
	n.report(err, len(payload))
}

// report logs a re-send's outcome when it differs from the last one, so
// that an Alertmanager down for an hour costs two log lines, not sixty.
func (n *Notifier) report(err error, count int) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	if text == n.lastResend {
		return
	}
	switch {
	case err != nil:
		n.log.Warn("keep-alive re-send failed; Alertmanager resolves the alerts it does not hear of within the keep-alive window",
			zap.Int("alerts", count), zap.Duration("keep_alive_window", n.window()), zap.Error(err))
	case n.lastResend != "":
		n.log.Info("keep-alive re-send accepted by every Alertmanager again", zap.Int("alerts", count))
	}
	n.lastResend = text
}

// saveLive persists the keep-alive set. A failure is logged, not
// returned: it costs at most a re-announcement after a restart.
func (n *Notifier) saveLive() {
	if err := n.live.save(); err != nil {
		n.log.Warn("cannot persist the alerts kept alive", zap.Error(err))
	}
}

// liveEntry is one alert of the keep-alive set.
type liveEntry struct {
	Alert alert.Alert `json:"alert"`
	// Until is when a resolved alert stops being re-sent; zero while firing.
	Until time.Time `json:"until,omitzero"`
	// Untold lists the Alertmanagers (alerts endpoints, without user
	// information) that have not accepted a resolved alert yet.
	Untold []string `json:"untold,omitempty"`
}

// liveSet holds the alerts Run keeps re-posting, by alert identity.
type liveSet struct {
	kv      alert.KV
	entries map[string]liveEntry
}

func newLiveSet(kv alert.KV) *liveSet {
	return &liveSet{kv: kv, entries: map[string]liveEntry{}}
}

// loadLiveSet restores the set persisted in kv (none when kv is nil). A
// resolved alert is kept only for the configured Alertmanagers that have
// not accepted it yet.
func loadLiveSet(kv alert.KV, endpoints []string) (*liveSet, error) {
	s := newLiveSet(kv)
	if kv == nil {
		return s, nil
	}
	raw, ok, err := kv.Get(liveKey)
	if err != nil || !ok {
		return s, err
	}
	var entries []liveEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return s, fmt.Errorf("%s: %w", liveKey, err)
	}
	for _, e := range entries {
		if e.Alert.State == alert.StateResolved {
			e.Untold = slices.DeleteFunc(e.Untold, func(u string) bool { return !slices.Contains(endpoints, u) })
			if len(e.Untold) == 0 {
				continue
			}
		}
		s.entries[liveID(e.Alert)] = e
	}
	return s, nil
}

// liveID identifies an alert: its fingerprint, or its target and name.
func liveID(a alert.Alert) string {
	if a.Fingerprint != "" {
		return a.Fingerprint
	}
	return a.Target + "\x00" + a.Name
}

// update applies a message's alerts: a firing one is kept alive, a
// resolved one is re-posted until every endpoint has accepted it, and at
// most until a window after now. Other states (pending) are not
// notifications and change nothing.
func (s *liveSet) update(alerts []alert.Alert, now time.Time, window time.Duration, endpoints []string) {
	for _, a := range alerts {
		switch a.State {
		case alert.StateFiring:
			s.entries[liveID(a)] = liveEntry{Alert: a}
		case alert.StateResolved:
			if a.EndsAt.IsZero() {
				a.EndsAt = now // pinned, so that re-sends repeat the same end
			}
			s.entries[liveID(a)] = liveEntry{Alert: a, Until: now.Add(window), Untold: slices.Clone(endpoints)}
		}
	}
}

// told records which Alertmanagers accepted a post of the alerts ids, and
// drops the resolved alerts that every one has accepted. It reports
// whether the set changed.
func (s *liveSet) told(ids []string, out outcome) bool {
	changed := false
	for _, id := range ids {
		e, ok := s.entries[id]
		if !ok || e.Alert.State != alert.StateResolved {
			continue
		}
		before := len(e.Untold)
		e.Untold = slices.DeleteFunc(e.Untold, func(u string) bool {
			return slices.ContainsFunc(out, func(r *postError) bool { return r.Endpoint == u && r.ok() })
		})
		switch {
		case len(e.Untold) == 0:
			delete(s.entries, id)
			changed = true
		case len(e.Untold) != before:
			s.entries[id] = e
			changed = true
		}
	}
	return changed
}

// expire drops the resolved alerts whose window has passed and reports
// whether any was dropped.
func (s *liveSet) expire(now time.Time) bool {
	changed := false
	for id, e := range s.entries {
		if !e.Until.IsZero() && !now.Before(e.Until) {
			delete(s.entries, id)
			changed = true
		}
	}
	return changed
}

// list returns the set's alerts in a stable order (target, name).
func (s *liveSet) list() []alert.Alert {
	out := make([]alert.Alert, 0, len(s.entries))
	for _, e := range s.sorted() {
		out = append(out, e.Alert)
	}
	return out
}

func (s *liveSet) sorted() []liveEntry {
	entries := make([]liveEntry, 0, len(s.entries))
	for _, e := range s.entries {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b liveEntry) int {
		return cmp.Or(cmp.Compare(a.Alert.Target, b.Alert.Target), cmp.Compare(a.Alert.Name, b.Alert.Name),
			cmp.Compare(liveID(a.Alert), liveID(b.Alert)))
	})
	return entries
}

// save writes the set to the KV, or deletes the key when the set is empty.
func (s *liveSet) save() error {
	if s.kv == nil {
		return nil
	}
	if len(s.entries) == 0 {
		return s.kv.Delete(liveKey)
	}
	raw, err := json.Marshal(s.sorted())
	if err != nil {
		return err
	}
	return s.kv.Put(liveKey, raw)
}
