package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// The manager keeps its state in the store's key-value space under two
// keys, each one JSON document written in one transaction:
//
//	alert/state     alerts and groups: what people were told and when
//	alert/silences  the silences
//
// One document per kind keeps each write atomic (an alert marked notified
// and its group's last notification commit together) and needs no listing
// by prefix. Both are small: alerts are bounded by targets × rules.
const (
	metaKeyState    = "alert/state"
	metaKeySilences = "alert/silences"
	// metaKeyDamaged keeps an unreadable state document for a post-mortem.
	metaKeyDamaged = "alert/state.damaged"
	// stateVersion is the version of alert/state written; a newer one is
	// not misread.
	stateVersion = 1
	// silencesVersion is the version of alert/silences written: 2 has
	// matchers; 1 had a target and an optional alert name, read as the
	// matchers target=T and alert=A.
	silencesVersion = 2
)

// stateDoc is the alert/state document.
type stateDoc struct {
	V      int           `json:"v"`
	Alerts []alertRecord `json:"alerts"`
	Groups []groupRecord `json:"groups"`
}

// alertRecord is an alertState on disk. Its own type so that renaming a
// field of the runtime struct cannot change the file format. Times are
// wall-clock instants.
type alertRecord struct {
	Target       string      `json:"target"`
	Name         string      `json:"alert"`
	Severity     Severity    `json:"severity"`
	Firing       bool        `json:"firing"`
	StartsAt     time.Time   `json:"starts_at"`
	EndsAt       time.Time   `json:"ends_at,omitzero"`
	Reason       string      `json:"reason,omitempty"`
	Hint         string      `json:"hint,omitempty"`
	Observed     string      `json:"observed,omitempty"`
	Expected     string      `json:"expected,omitempty"`
	Deployment   *Deployment `json:"deployment,omitempty"`
	ActiveAt     time.Time   `json:"active_at,omitzero"`
	ResolvedAt   time.Time   `json:"resolved_at,omitzero"`
	HeldUntil    time.Time   `json:"held_until,omitzero"`
	Notified     bool        `json:"notified"`
	LastNotified time.Time   `json:"last_notified,omitzero"`
	AnnounceAt   time.Time   `json:"announce_at,omitzero"`
	// Silenced is whether a silence muted it at the last step, so that a
	// silence that ended while the daemon was down still re-announces it.
	Silenced bool `json:"silenced,omitempty"`
	// Kind, Cause and Source are the labels inhibition matches on;
	// Inhibited whether a cause explained it at the last step.
	Kind      event.Kind `json:"kind,omitempty"`
	Cause     string     `json:"cause,omitempty"`
	Source    string     `json:"source,omitempty"`
	Inhibited bool       `json:"inhibited,omitempty"`
	// ReleasedAt is when its cause resolved while it kept firing.
	ReleasedAt time.Time `json:"released_at,omitzero"`
}

// groupRecord is a group's pacing state on disk.
type groupRecord struct {
	Key      string    `json:"key"`
	LastSent time.Time `json:"last_sent"`
}

// silenceDoc is the alert/silences document.
type silenceDoc struct {
	V        int             `json:"v"`
	Silences []silenceRecord `json:"silences"`
}

// silenceRecord is a Silence on disk, in either version.
type silenceRecord struct {
	ID        string          `json:"id"`
	Matchers  labels.Matchers `json:"matchers,omitempty"` // version 2
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	Comment   string          `json:"comment"`
	CreatedBy string          `json:"created_by,omitempty"`
	// Target and Alert are version 1's: what it silenced.
	Target string `json:"target,omitempty"`
	Alert  string `json:"alert,omitempty"`
}

// silence returns the record as a Silence, reading version 1's target and
// alert as equality matchers.
func (r silenceRecord) silence(v int) (Silence, error) {
	s := Silence{ID: r.ID, Matchers: r.Matchers, StartsAt: r.StartsAt, EndsAt: r.EndsAt, Comment: r.Comment, CreatedBy: r.CreatedBy}
	if v == 1 {
		if r.Target == "" {
			return Silence{}, errors.New("no target")
		}
		s.Matchers = labels.Matchers{{Name: LabelTarget, Type: labels.MatchEqual, Value: r.Target}}
		if r.Alert != "" {
			s.Matchers = append(s.Matchers, labels.Matcher{Name: LabelAlert, Type: labels.MatchEqual, Value: r.Alert})
		}
	}
	if len(s.Matchers) == 0 {
		return Silence{}, errors.New("no matchers")
	}
	return s, nil
}

func wall(t time.Time) time.Time { return t.Round(0) }

func (a *alertState) record() alertRecord {
	return alertRecord{
		Target: a.target, Name: a.name, Severity: a.severity, Firing: a.firing,
		StartsAt: wall(a.startsAt), EndsAt: wall(a.endsAt),
		Reason: a.reason, Hint: a.hint, Observed: a.observed, Expected: a.expected, Deployment: a.dep,
		ActiveAt: wall(a.activeAt), ResolvedAt: wall(a.resolvedAt), HeldUntil: wall(a.heldUntil),
		Notified: a.notified, LastNotified: wall(a.lastNotified), AnnounceAt: wall(a.announceAt),
		Silenced: a.silenced,
		Kind:     a.kind, Cause: a.cause, Source: a.source, Inhibited: a.inhibited, ReleasedAt: wall(a.releasedAt),
	}
}

func (r alertRecord) state() *alertState {
	return &alertState{
		fp: fingerprint(r.Target, r.Name), target: r.Target, name: r.Name, severity: r.Severity,
		firing: r.Firing, startsAt: r.StartsAt, endsAt: r.EndsAt,
		reason: r.Reason, hint: r.Hint, observed: r.Observed, expected: r.Expected, dep: r.Deployment,
		activeAt: r.ActiveAt, resolvedAt: r.ResolvedAt, heldUntil: r.HeldUntil,
		notified: r.Notified, lastNotified: r.LastNotified, announceAt: r.AnnounceAt,
		silenced: r.Silenced,
		kind:     r.Kind, cause: r.Cause, source: r.Source, inhibited: r.Inhibited, releasedAt: r.ReleasedAt,
	}
}

func encodeState(alerts map[string]*alertState, groups map[string]*groupState) ([]byte, error) {
	doc := stateDoc{V: stateVersion, Alerts: []alertRecord{}, Groups: []groupRecord{}}
	for _, a := range sortedAlerts(alerts) {
		doc.Alerts = append(doc.Alerts, a.record())
	}
	for _, key := range sortedKeys(groups) {
		doc.Groups = append(doc.Groups, groupRecord{Key: key, LastSent: wall(groups[key].lastSent)})
	}
	return json.Marshal(doc)
}

func decodeState(b []byte) (map[string]*alertState, map[string]*groupState, error) {
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, err
	}
	if doc.V != stateVersion {
		return nil, nil, fmt.Errorf("version %d is not %d", doc.V, stateVersion)
	}
	alerts := make(map[string]*alertState, len(doc.Alerts))
	for i, r := range doc.Alerts {
		if r.Target == "" || r.Name == "" {
			return nil, nil, fmt.Errorf("alerts[%d]: target or alert name is empty", i)
		}
		a := r.state()
		alerts[a.fp] = a
	}
	groups := make(map[string]*groupState, len(doc.Groups))
	for _, r := range doc.Groups {
		groups[r.Key] = &groupState{key: r.Key, lastSent: r.LastSent}
	}
	return alerts, groups, nil
}

func encodeSilences(list []Silence) ([]byte, error) {
	doc := silenceDoc{V: silencesVersion, Silences: make([]silenceRecord, len(list))}
	for i, s := range list {
		doc.Silences[i] = silenceRecord{ID: s.ID, Matchers: s.Matchers, StartsAt: wall(s.StartsAt), EndsAt: wall(s.EndsAt), Comment: s.Comment, CreatedBy: s.CreatedBy}
	}
	return json.Marshal(doc)
}

func decodeSilences(b []byte) ([]Silence, error) {
	var doc silenceDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.V != 1 && doc.V != silencesVersion {
		return nil, fmt.Errorf("version %d is not 1 or %d", doc.V, silencesVersion)
	}
	list := make([]Silence, len(doc.Silences))
	for i, r := range doc.Silences {
		s, err := r.silence(doc.V)
		if err != nil {
			return nil, fmt.Errorf("silences[%d] (%s): %w", i, r.ID, err)
		}
		list[i] = s
	}
	return list, nil
}
