package alert

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Silence mutes the notifications of one target's alerts, or of one alert
// of a target, for a while. A silenced alert is still tracked (listed in
// /api/v1/alerts with Silenced set); when the silence ends and the alert
// still fires, it is notified. A resolution of an alert that was notified
// as firing is sent even while silenced, so that no firing message is left
// open in Slack or Alertmanager.
type Silence struct {
	// ID is assigned by AddSilence.
	ID string `json:"id"`
	// Target is the target whose alerts are silenced; required.
	Target string `json:"target"`
	// Alert is the one alert silenced; empty silences every alert of Target.
	Alert string `json:"alert,omitempty"`
	// StartsAt is when the silence starts; zero means now.
	StartsAt time.Time `json:"starts_at"`
	// EndsAt is when it ends; required, after StartsAt and in the future.
	EndsAt time.Time `json:"ends_at"`
	// Comment says why, for the next person on call; required.
	Comment string `json:"comment"`
	// CreatedBy names who added it (a user name); optional.
	CreatedBy string `json:"created_by,omitempty"`
}

// Active reports whether s mutes alerts at now.
func (s Silence) Active(now time.Time) bool {
	return !now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// Matches reports whether s applies to the alert (target, name), whatever the time.
func (s Silence) Matches(target, name string) bool {
	return s.Target == target && (s.Alert == "" || s.Alert == name)
}

// ErrSilenceNotFound is returned by ExpireSilence for an unknown ID.
var ErrSilenceNotFound = errors.New("silence not found")

// Limits on silences: they are operator input that ends up in the store
// and in API answers.
const (
	maxSilences      = 1000 // active, starting later, or ended within silenceRetention
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
	field("target", s.Target, maxSilenceField, true)
	field("alert", s.Alert, maxSilenceField, false)
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

// expireSilence returns list with silence id ended at now.
func expireSilence(list []Silence, id string, now time.Time) ([]Silence, error) {
	i := slices.IndexFunc(list, func(s Silence) bool { return s.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("silence %q: %w", id, ErrSilenceNotFound)
	}
	if !now.Before(list[i].EndsAt) {
		return nil, fmt.Errorf("silence %q already ended at %s", id, list[i].EndsAt.UTC().Format(time.RFC3339))
	}
	if now.Before(list[i].StartsAt) {
		list[i].StartsAt = now // a silence that never started ends with zero length
	}
	list[i].EndsAt = now
	return list, nil
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

// silencedBy reports whether a silence in list mutes the alert at now.
func silencedBy(list []Silence, target, name string, now time.Time) bool {
	for _, s := range list {
		if s.Matches(target, name) && s.Active(now) {
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
