package alert

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// Silence mutes the notifications of the alerts its matchers select, for
// a while: alert=fps_low, target!=canary, alert=~"fps_.*", severity=warning,
// as in Alertmanager. A silenced alert is still tracked (listed in
// /api/v1/alerts with Silenced set); when the silence ends and the alert
// still fires, it is notified. A resolution of an alert that was notified
// as firing is sent even while silenced, so that no firing message is left
// open in Slack or Alertmanager.
type Silence struct {
	// ID is assigned by AddSilence.
	ID string `json:"id"`
	// labels.Matchers select the alerts silenced: an alert is silenced when every
	// matcher matches its labels. At least one is required.
	Matchers labels.Matchers `json:"matchers"`
	// StartsAt is when the silence starts; zero or past means now.
	StartsAt time.Time `json:"starts_at"`
	// EndsAt is when it ends; required, after StartsAt and in the future.
	EndsAt time.Time `json:"ends_at"`
	// Comment says why, for the next person on call; required.
	Comment string `json:"comment"`
	// CreatedBy names who added it (a user name); optional.
	CreatedBy string `json:"created_by,omitempty"`
	// State is where the silence stood when the manager returned it
	// (pending, active or expired); AddSilence ignores it, and it is not
	// stored.
	State SilenceState `json:"state,omitempty"`
}

// SilenceState is where a silence stands at an instant.
type SilenceState string

// Silence states.
const (
	// SilencePending: it starts later.
	SilencePending SilenceState = "pending"
	// SilenceActive: it mutes the alerts it matches.
	SilenceActive SilenceState = "active"
	// SilenceExpired: it ended (by itself or by ExpireSilence).
	SilenceExpired SilenceState = "expired"
)

// StateAt returns where s stands at now.
func (s Silence) StateAt(now time.Time) SilenceState {
	switch {
	case now.Before(s.StartsAt):
		return SilencePending
	case now.Before(s.EndsAt):
		return SilenceActive
	default:
		return SilenceExpired
	}
}

// Active reports whether s mutes alerts at now.
func (s Silence) Active(now time.Time) bool { return s.StateAt(now) == SilenceActive }

// Matches reports whether s applies to an alert with labels l, whatever the time.
func (s Silence) Matches(l Labels) bool { return s.Matchers.Matches(l) }

// Errors of ExpireSilence, for errors.Is.
var (
	// ErrSilenceNotFound: no silence has that ID or ID prefix.
	ErrSilenceNotFound = errors.New("silence not found")
	// ErrSilenceAmbiguous: several silences start with that prefix.
	ErrSilenceAmbiguous = errors.New("ambiguous ID prefix")
	// ErrSilenceEnded: the silence has already ended.
	ErrSilenceEnded = errors.New("already ended")
)

// Limits on silences: they are operator input that ends up in the store
// and in API answers.
const (
	maxSilences      = 1000 // active, starting later, or ended within silenceRetention
	maxMatchers      = 16
	maxSilenceField  = 512
	maxSilenceText   = 1024
	silenceRetention = 24 * time.Hour // expired silences stay listed this long
)

// silences is the set of silences. It has its own lock (unlike the alert
// state, owned by Run) because AddSilence and ExpireSilence answer API
// calls synchronously, with the error of the store write.
type silences struct {
	wmu  sync.Mutex // serialises update
	mu   sync.Mutex // guards list
	list []Silence  // by StartsAt, then ID
}

// snapshot returns a copy of the silences.
func (ss *silences) snapshot() []Silence {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return slices.Clone(ss.list)
}

// activeCount counts the silences active at now.
func (ss *silences) activeCount(now time.Time) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for _, s := range ss.list {
		if s.Active(now) {
			n++
		}
	}
	return n
}

// validateSilence checks s as AddSilence receives it and fills StartsAt.
func validateSilence(s Silence, now time.Time) (Silence, error) {
	var errs []error
	field := func(name, v string, limit int, required bool) {
		switch {
		case required && strings.TrimSpace(v) == "":
			errs = append(errs, fmt.Errorf("%s is required", name))
		case len(v) > limit:
			errs = append(errs, fmt.Errorf("%s is %d bytes long, more than %d", name, len(v), limit))
		case strings.ContainsAny(v, "\r\n"):
			errs = append(errs, fmt.Errorf("%s must be one line", name))
		}
	}
	if s.ID != "" {
		errs = append(errs, errors.New("id is assigned by the daemon; to change a silence, expire it and add a new one"))
	}
	s.State = ""
	switch {
	case len(s.Matchers) == 0:
		errs = append(errs, errors.New("matchers: at least one is required, e.g. alert=fps_low or target=main"))
	case len(s.Matchers) > maxMatchers:
		errs = append(errs, fmt.Errorf("matchers: %d given, at most %d", len(s.Matchers), maxMatchers))
	}
	s.Matchers = slices.Clone(s.Matchers[:min(len(s.Matchers), maxMatchers)])
	for i, m := range s.Matchers {
		field(fmt.Sprintf("matchers[%d] value", i), m.Value, maxSilenceField, false)
		c, err := labels.NewMatcher(m.Name, m.Type, m.Value) // compiled, whoever built m
		if err != nil {
			errs = append(errs, fmt.Errorf("matchers[%d]: %w", i, err))
		}
		s.Matchers[i] = c
	}
	field("comment", s.Comment, maxSilenceText, true)
	field("created_by", s.CreatedBy, maxSilenceField, false)
	if s.StartsAt.IsZero() || s.StartsAt.Before(now) {
		s.StartsAt = now
	}
	switch {
	case s.EndsAt.IsZero():
		errs = append(errs, errors.New("ends_at is required (e.g. --for 2h)"))
	case !s.EndsAt.After(now):
		errs = append(errs, fmt.Errorf("ends_at %s is not in the future", s.EndsAt.UTC().Format(time.RFC3339)))
	case !s.EndsAt.After(s.StartsAt):
		errs = append(errs, fmt.Errorf("ends_at %s is not after starts_at %s",
			s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339)))
	}
	if len(errs) > 0 {
		return Silence{}, fmt.Errorf("silence: %w", errors.Join(errs...))
	}
	return s, nil
}

// update changes the list: fn gets a copy of the current list (pruned of
// long-expired silences) and returns the new one, which is persisted and
// only then published, so that a silence the API confirmed is on disk.
// Writers are serialised; readers only wait for the publication.
func (ss *silences) update(now time.Time, fn func([]Silence) ([]Silence, error), persist func([]Silence) error) error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	list, err := fn(pruneSilences(ss.snapshot(), now))
	if err != nil {
		return err
	}
	sortSilences(list)
	if err := persist(list); err != nil {
		return err
	}
	ss.mu.Lock()
	ss.list = list
	ss.mu.Unlock()
	return nil
}

// addSilence returns list with s, checked and given an ID.
func addSilence(list []Silence, s Silence, now time.Time) (Silence, []Silence, error) {
	s, err := validateSilence(s, now)
	if err != nil {
		return Silence{}, nil, err
	}
	if len(list) >= maxSilences {
		return Silence{}, nil, fmt.Errorf("silence: %d silences exist (active, starting later, or ended within a day), the most kept; add it when older ones have aged out", len(list))
	}
	s.ID = rand.Text()
	return s, append(list, s), nil
}

// expireSilence returns list with the silence ref names ended at now, and
// that silence.
func expireSilence(list []Silence, ref string, now time.Time) (Silence, []Silence, error) {
	i, err := findSilence(list, ref, now)
	if err != nil {
		return Silence{}, nil, err
	}
	s := &list[i]
	if !now.Before(s.EndsAt) {
		return Silence{}, nil, fmt.Errorf("silence %s: %w at %s", s.ID, ErrSilenceEnded, s.EndsAt.UTC().Format(time.RFC3339))
	}
	if now.Before(s.StartsAt) {
		s.StartsAt = now // a silence that never started ends with zero length
	}
	s.EndsAt = now
	return *s, list, nil
}

// findSilence returns the index of the silence ref names: its ID, or a
// prefix of it in any case (IDs are upper case; people type lower case).
// A prefix of several IDs names the one of them not yet ended, if there is
// exactly one.
func findSilence(list []Silence, ref string, now time.Time) (int, error) {
	var hits []int
	for i, s := range list {
		if s.ID == ref {
			return i, nil
		}
		if ref != "" && len(ref) <= len(s.ID) && strings.EqualFold(s.ID[:len(ref)], ref) {
			hits = append(hits, i)
		}
	}
	if len(hits) > 1 {
		live := slices.DeleteFunc(slices.Clone(hits), func(i int) bool { return list[i].StateAt(now) == SilenceExpired })
		if len(live) > 0 {
			hits = live
		}
	}
	switch len(hits) {
	case 0:
		return -1, fmt.Errorf("silence %q: %w", ref, ErrSilenceNotFound)
	case 1:
		return hits[0], nil
	}
	cands := make([]string, len(hits))
	for j, i := range hits {
		cands[j] = fmt.Sprintf("%s (%s)", list[i].ID, list[i].Matchers)
	}
	return -1, fmt.Errorf("silence %q: %w: %d silences start with it: %s; give more of the ID",
		ref, ErrSilenceAmbiguous, len(hits), strings.Join(cands, "; "))
}

// pruneSilences drops the silences that ended more than silenceRetention ago.
func pruneSilences(list []Silence, now time.Time) []Silence {
	return slices.DeleteFunc(slices.Clone(list), func(s Silence) bool {
		return now.Sub(s.EndsAt) > silenceRetention
	})
}

func sortSilences(list []Silence) {
	slices.SortFunc(list, func(a, b Silence) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// silencedBy reports whether a silence in list mutes the alert with labels l at now.
func silencedBy(list []Silence, l Labels, now time.Time) bool {
	for _, s := range list {
		if s.Active(now) && s.Matches(l) {
			return true
		}
	}
	return false
}

// nextSilenceChange is the earliest start or end of a silence after now,
// when alerts may change from silenced to not or back; zero if none.
func nextSilenceChange(list []Silence, now time.Time) time.Time {
	var next time.Time
	for _, s := range list {
		for _, t := range []time.Time{s.StartsAt, s.EndsAt} {
			if t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next
}
