package review

import (
	"fmt"
	"slices"
	"time"
)

// Open returns, oldest first, the minutes the Recorder has not handed over
// yet, as they stand now (the current minute partial). It changes nothing:
// the status page draws them after the stored minutes.
func (r *Recorder) Open() []Minute {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Minute, 0, len(r.open))
	for _, b := range r.open {
		out = append(out, b.minute())
	}
	slices.SortFunc(out, func(a, b Minute) int { return a.At.Compare(b.At) })
	return out
}

// Minutes returns target's minutes with from <= At < to, oldest first:
// those in the store, then those its Recorder still holds (the last
// minute or two, the current one partial). A stored minute that does not
// decode is left out.
func (s *Service) Minutes(target string, from, to time.Time) ([]Minute, error) {
	t, ok := s.lookup(target)
	if !ok {
		return nil, fmt.Errorf("review: minutes of %q: %w", target, ErrNotFound)
	}
	stored, _, err := s.loadMinutes(target, from, to)
	if err != nil {
		return nil, fmt.Errorf("review: minutes of %s: %w", target, err)
	}
	if t.rec == nil {
		return stored, nil
	}
	var last time.Time
	if n := len(stored); n > 0 {
		last = stored[n-1].At
	}
	for _, m := range t.rec.Open() {
		if m.At.After(last) && !m.At.Before(from) && m.At.Before(to) {
			stored = append(stored, m)
		}
	}
	return stored, nil
}
