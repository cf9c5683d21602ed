package review

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// ErrNotFound is matched (errors.Is) by OnDemand's, Latest's and Reviews' errors
// about an unknown target, deployment or review name (HTTP 404).
var ErrNotFound = errors.New("not found")

// OnDemand computes a review now, over the minutes stored so far (the
// current minute, not yet flushed, is not among them): the deployment's
// (the target's current one when deploymentID is ""), the review called
// name ("hour-4"). Before the review is due it covers the deployment's
// start to now and is marked Partial. It neither delivers nor marks
// anything: `spacetime-watch review` shows it, the schedule is untouched.
func (s *Service) OnDemand(ctx context.Context, target, deploymentID, name string) (Review, error) {
	if err := ctx.Err(); err != nil {
		return Review{}, err
	}
	t, dep, err := s.resolve(target, deploymentID)
	if err != nil {
		return Review{}, err
	}
	i := -1
	for j, off := range t.sched.offsets {
		if OffsetName(off) == name {
			i = j
		}
	}
	if i < 0 {
		return Review{}, fmt.Errorf("review: target %s has no review %q (it has %s): %w",
			target, name, strings.Join(t.sched.names(), ", "), ErrNotFound)
	}
	return s.computeNow(target, t, dep, i, s.now())
}

// Latest is the review `spacetime-watch review` shows when none is named:
// of the deployment (the target's current one when deploymentID is ""),
// the latest review that fell due, as it was delivered (its report file),
// or computed now over its whole window when it was not (not yet
// delivered, or its file is missing); before the first one falls due,
// the first one, computed now and partial. Like OnDemand it neither
// delivers nor marks anything.
func (s *Service) Latest(ctx context.Context, target, deploymentID string) (Review, error) {
	if err := ctx.Err(); err != nil {
		return Review{}, err
	}
	t, dep, err := s.resolve(target, deploymentID)
	if err != nil {
		return Review{}, err
	}
	now := s.now()
	i := -1 // the latest offset that fell due
	for j, off := range t.sched.offsets {
		if !dep.StartedAt.Add(off).After(now) {
			i = j
		}
	}
	if i < 0 {
		return s.computeNow(target, t, dep, 0, now)
	}
	name := OffsetName(t.sched.offsets[i])
	markers, _, err := loadMarkers(s.st, dep.ID)
	if err != nil {
		return Review{}, fmt.Errorf("review: reviews of %s: %w", dep.ID, err)
	}
	if m := markers[name]; m != nil && m.State == stateDelivered {
		r, ok, err := readReviewFile(s.dir, dep.ID, name)
		if err != nil {
			return Review{}, fmt.Errorf("review: %w", err)
		}
		if ok {
			return r, nil
		}
	}
	return s.computeNow(target, t, dep, i, now)
}

// computeNow computes the review at offsets[i] of dep at now, over the
// minutes stored so far; Compute cuts the window at now and marks the
// review partial before it is due.
func (s *Service) computeNow(name string, t *target, dep store.Deployment, i int, now time.Time) (Review, error) {
	sl, _ := t.sched.decide(slot{dep: dep}, i, nil, now)
	r, _, err := s.computeSlot(name, t, sl, now)
	if err != nil {
		return Review{}, fmt.Errorf("review: %s of %s: %w", sl.name, dep.ID, err)
	}
	return r, nil
}

// Reviews returns the delivered reviews of a deployment (the target's
// current one when deploymentID is ""), in offset order, as read back from
// their JSON reports. A review whose files could not be written is missing.
func (s *Service) Reviews(target, deploymentID string) ([]Review, error) {
	t, dep, err := s.resolve(target, deploymentID)
	if err != nil {
		return nil, err
	}
	markers, _, err := loadMarkers(s.st, dep.ID)
	if err != nil {
		return nil, fmt.Errorf("review: reviews of %s: %w", dep.ID, err)
	}
	var out []Review
	for _, off := range t.sched.offsets {
		name := OffsetName(off)
		if m := markers[name]; m == nil || m.State != stateDelivered {
			continue
		}
		r, ok, err := readReviewFile(s.dir, dep.ID, name)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		if !ok {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// resolve finds a registered target and one of its deployments.
func (s *Service) resolve(target, deploymentID string) (*target, store.Deployment, error) {
	t, ok := s.lookup(target)
	if !ok {
		return nil, store.Deployment{}, fmt.Errorf("review: unknown target %q: %w", target, ErrNotFound)
	}
	var (
		dep   store.Deployment
		found bool
		err   error
	)
	if deploymentID == "" {
		dep, found, err = s.st.CurrentDeployment(target)
	} else {
		dep, found, err = s.st.DeploymentByID(deploymentID)
		found = found && dep.Target == target
	}
	switch {
	case err != nil:
		return nil, store.Deployment{}, fmt.Errorf("review: deployments of %s: %w", target, err)
	case !found && deploymentID == "":
		return nil, store.Deployment{}, fmt.Errorf("review: target %s has no deployment yet: %w", target, ErrNotFound)
	case !found:
		return nil, store.Deployment{}, fmt.Errorf("review: target %s has no deployment %q: %w", target, deploymentID, ErrNotFound)
	}
	return t, dep, nil
}

// restoreMetrics sets a target's review series from the newest delivered
// review of each name, as recorded in the markers.
func (s *Service) restoreMetrics(name string, sc schedule) error {
	deps, err := s.st.Deployments(name)
	if err != nil {
		return fmt.Errorf("review: restore the review metrics of %s: %w", name, err)
	}
	todo := map[string]bool{}
	for _, n := range sc.names() {
		todo[n] = true
	}
	for _, d := range deps { // newest first
		if len(todo) == 0 {
			break
		}
		markers, _, err := loadMarkers(s.st, d.ID)
		if err != nil {
			return fmt.Errorf("review: restore the review metrics of %s: %w", name, err)
		}
		for rname, m := range markers {
			if todo[rname] && m.State == stateDelivered {
				delete(todo, rname)
				s.exportRestored(name, rname, m)
			}
		}
	}
	return nil
}

func (s *Service) exportRestored(name, review string, m *marker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.targets[name]; ok {
		s.metrics.setReview(name, review, m.Verdict, float64(m.ComputedAt.UnixNano())/1e9)
	}
}
