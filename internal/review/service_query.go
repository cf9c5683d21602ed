package review

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// ErrNotFound is matched (errors.Is) by OnDemand's and Reviews' errors
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
	now := s.now()
	sl, _ := t.sched.decide(slot{dep: dep}, i, nil, now)
	minutes, _, err := s.windowMinutes(target, sl)
	if err != nil {
		return Review{}, fmt.Errorf("review: %s of %s: %w", name, dep.ID, err)
	}
	// Compute cuts the window at now and marks the review partial.
	return Compute(Input{
		Target: target, DeploymentID: dep.ID, Version: dep.Version, StartedAt: dep.StartedAt, InstanceStartedAt: dep.InstanceStartedAt,
		Name: sl.name, Offset: sl.offset, Kind: KindForIndex(sl.index), Now: now, Minutes: minutes, Thresholds: t.thresholds,
	}), nil
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
