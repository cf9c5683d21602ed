package monitor

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// Snapshot format version; Restore refuses others.
const ruleSnapshotVersion = 1

type ruleSnapshot struct {
	Version int                 `json:"version"`
	Rules   []ruleSnapshotEntry `json:"rules"`
}

type ruleSnapshotEntry struct {
	Rule        string    `json:"rule"`
	ActiveSince time.Time `json:"active_since"`
	FiringSince time.Time `json:"firing_since"`
	Value       float64   `json:"value"`
}

// Snapshot encodes the firing rules (JSON, wall-clock instants) for the
// daemon to persist in the store. Pending timers are not kept: after a
// restart a condition must hold for its full `for` again.
func (e *RuleEngine) Snapshot() ([]byte, error) {
	s := ruleSnapshot{Version: ruleSnapshotVersion, Rules: []ruleSnapshotEntry{}}
	for id := ruleID(0); id < numRules; id++ {
		r := &e.rules[id]
		if r.status != RuleFiring {
			continue
		}
		s.Rules = append(s.Rules, ruleSnapshotEntry{
			Rule:        ruleDefs[id].name,
			ActiveSince: r.activeSince.Round(0),
			FiringSince: r.since.Round(0),
			Value:       r.value,
		})
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode rule snapshot: %w", err)
	}
	return data, nil
}

// Restore replaces every rule's state with a Snapshot, before the first
// sample after a restart. Restored rules are firing and stale, without a
// new firing event: they resolve (once) after ResolveFor of fresh healthy
// data, or stay firing. A restored rule the config disables resolves on
// the next call. Names of unknown rules are skipped. On error nothing
// changes.
func (e *RuleEngine) Restore(data []byte) error {
	var s ruleSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("restore rule snapshot: %w", err)
	}
	if s.Version != ruleSnapshotVersion {
		return fmt.Errorf("restore rule snapshot: version %d not supported (want %d); discard the stored state", s.Version, ruleSnapshotVersion)
	}
	var rules [numRules]ruleRuntime
	for _, en := range s.Rules {
		id, ok := ruleByName(en.Rule)
		if !ok {
			continue
		}
		if math.IsNaN(en.Value) || math.IsInf(en.Value, 0) {
			return fmt.Errorf("restore rule snapshot: rule %s: value %v is not finite", en.Rule, en.Value)
		}
		rules[id] = ruleRuntime{
			status:      RuleFiring,
			since:       en.FiringSince,
			activeAt:    e.clock,
			activeSince: en.ActiveSince,
			value:       en.Value,
			hasValue:    true,
		}
	}
	e.rules = rules
	e.reconcile = true
	return nil
}

// Restored returns a firing event for each rule Restore left firing, so
// that the alert manager can reconcile: one that took the original event
// already tracks the alert and nothing changes; one that was killed before
// it wrote that event down learns of the alert now instead of never (the
// restored rule does not fire again).
func (e *RuleEngine) Restored(now time.Time, out []event.Event) []event.Event {
	for id := ruleID(0); id < numRules; id++ {
		r := &e.rules[id]
		if r.status != RuleFiring || !ruleDefs[id].on(&e.cfg) {
			continue
		}
		held := max(now.Sub(r.activeSince), 0) // the engine's own clock starts afresh at a restore
		out = append(out, e.event(id, event.StateFiring, now, r.activeSince, ruleDefs[id].firing, held))
	}
	return out
}
