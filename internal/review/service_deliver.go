package review

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// deliverDue delivers a target's due reviews, oldest deployment first and
// in offset order, and returns when the next of them becomes ready (zero:
// none ahead). A failure stops the target's deliveries until the next tick, so
// that the order holds.
func (s *Service) deliverDue(ctx context.Context, name string, t *target, now time.Time) time.Time {
	cands, err := s.candidates(name, t, now)
	if err != nil {
		s.fail(name, stageCompute, err)
		return time.Time{}
	}
	var next time.Time
	for _, c := range cands {
		markers, bad, err := loadMarkers(s.st, c.dep.ID)
		if err != nil {
			s.fail(name, stageCompute, err, zap.String("deployment", c.dep.ID))
			return time.Time{}
		}
		for _, err := range bad {
			s.log.Error("review: unreadable delivery marker; delivering the review again", zap.String("target", name), zap.Error(err))
		}
		for i, off := range t.sched.offsets {
			rname := OffsetName(off)
			if m, ok := s.unmarked[markerKey(c.dep.ID, rname)]; ok {
				// Delivered, but the "delivered" mark failed: write it again
				// rather than deliver again.
				if !s.markDelivered(name, c.dep.ID, rname, m) {
					return time.Time{}
				}
				markers[rname] = &m
			}
			sl, st := t.sched.decide(c, i, markers[rname], now)
			switch st {
			case stepWait:
				if next.IsZero() || sl.ready.Before(next) {
					next = sl.ready
				}
			case stepSupersede:
				if !s.supersede(name, sl, now) {
					return time.Time{}
				}
			case stepDeliver:
				if !s.deliver(ctx, name, t, sl, markers[rname], now) {
					return time.Time{}
				}
			}
		}
	}
	return next
}

// candidateCache is a target's candidates (schedule.candidates) as
// computed at a time, from its deployments at a store.DeploymentsVersion.
type candidateCache struct {
	version uint64
	at      time.Time
	t       *target // the registration, whose schedule they were computed by
	slots   []slot
}

// candidates returns the deployments of name whose reviews may still be
// due at now, as schedule.candidates does, without reading and decoding
// the target's whole deployment history every tick: while the store's
// deployments, the registration and the direction of the clock are
// unchanged, the candidates at now are those of the last read still
// within the horizon.
func (s *Service) candidates(name string, t *target, now time.Time) ([]slot, error) {
	version := s.st.DeploymentsVersion() // before reading: a later write moves it
	if c, ok := s.cands[name]; ok && c.version == version && c.t == t && !now.Before(c.at) {
		if len(c.slots) == 0 {
			return nil, nil
		}
		out := make([]slot, 0, len(c.slots))
		for _, sl := range c.slots {
			if t.sched.within(sl.dep, now) {
				out = append(out, sl)
			}
		}
		return out, nil
	}
	deps, err := s.st.Deployments(name)
	if err != nil {
		return nil, err
	}
	slots := t.sched.candidates(deps, now)
	s.cands[name] = candidateCache{version: version, at: now, t: t, slots: slots}
	return slots, nil
}

// deliver computes one review and delivers it: mark delivering, hand it to
// the Deliverer, write the files, mark delivered. It reports whether the
// target's next review may follow.
func (s *Service) deliver(ctx context.Context, name string, t *target, sl slot, prev *marker, now time.Time) bool {
	log := s.log.With(zap.String("target", name), zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
	r, ok := s.compute(name, t, sl, now, log)
	if !ok {
		return false
	}
	if now.Sub(sl.ready) > s.slack {
		r.Late, r.LateBy = true, now.Sub(sl.due)
	}
	m := marker{State: stateDelivering, DueAt: sl.due, At: now, Attempts: 1}
	if prev != nil {
		m.Attempts = prev.Attempts + 1
		if prev.State == stateDelivering {
			log.Warn("review: delivering again a review whose delivery was cut short (a crash or a failed delivery); it may arrive twice",
				zap.Int("attempt", m.Attempts))
		}
	}
	if err := putMarker(s.st, sl.dep.ID, sl.name, m); err != nil {
		s.fail(name, stageMarker, err, zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
		return false
	}
	if err := s.out.Deliver(ctx, r); err != nil {
		if ctx.Err() != nil {
			return false // shutting down: delivered again after the restart
		}
		s.fail(name, stageDeliver, err, zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
		return false
	}
	if _, err := writeReviewFiles(s.dir, r); err != nil {
		// The review is out; missing files are no reason to send it twice.
		s.fail(name, stageFiles, err, zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
	}
	m.State, m.At = stateDelivered, now
	m.ComputedAt, m.Verdict, m.LateNS = r.ComputedAt, r.Verdict, int64(r.LateBy)
	s.exportReview(name, sl.name, r)
	log.Info("review: delivered", zap.String("verdict", string(r.Verdict)), zap.Bool("late", r.Late),
		zap.Duration("late_by", r.LateBy), zap.Bool("partial", r.Partial), zap.Float64("coverage", r.Coverage))
	return s.markDelivered(name, sl.dep.ID, sl.name, m)
}

// compute reads the review's window of minutes and computes it.
func (s *Service) compute(name string, t *target, sl slot, now time.Time, log *zap.Logger) (Review, bool) {
	r, bad, err := s.computeSlot(name, t, sl, now)
	if err != nil {
		s.fail(name, stageCompute, err, zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
		return Review{}, false
	}
	if bad > 0 {
		log.Warn("review: skipped stored minutes that do not decode", zap.Int("minutes", bad))
	}
	return r, true
}

// computeSlot reads a review's window of minutes and computes it at now;
// bad counts the stored minutes skipped because they do not decode.
func (s *Service) computeSlot(name string, t *target, sl slot, now time.Time) (r Review, bad int, err error) {
	minutes, bad, err := s.windowMinutes(name, sl)
	if err != nil {
		return Review{}, 0, err
	}
	return Compute(Input{
		Target: name, DeploymentID: sl.dep.ID, Version: sl.dep.Version, StartedAt: sl.dep.StartedAt, InstanceStartedAt: sl.dep.InstanceStartedAt,
		Name: sl.name, Offset: sl.offset, Kind: KindForIndex(sl.index), Now: now, Minutes: minutes, Thresholds: t.thresholds,
	}), bad, nil
}

// markDelivered records a delivered review. When the store refuses, the
// marker is kept in memory and written again on the next tick, so that
// a full disk does not make the review go out every minute.
func (s *Service) markDelivered(name, deploymentID, review string, m marker) bool {
	key := markerKey(deploymentID, review)
	if err := putMarker(s.st, deploymentID, review, m); err != nil {
		s.unmarked[key] = m
		s.fail(name, stageMarker, err, zap.String("deployment", deploymentID), zap.String("review", review))
		return false
	}
	delete(s.unmarked, key)
	return true
}

// supersede records that a review fell due after the next deployment of
// the target started: it is never delivered.
func (s *Service) supersede(name string, sl slot, now time.Time) bool {
	m := marker{State: stateSuperseded, DueAt: sl.due, At: now}
	if err := putMarker(s.st, sl.dep.ID, sl.name, m); err != nil {
		s.fail(name, stageMarker, err, zap.String("deployment", sl.dep.ID), zap.String("review", sl.name))
		return false
	}
	s.log.Info("review: not delivered: the next deployment started before it fell due",
		zap.String("target", name), zap.String("deployment", sl.dep.ID), zap.String("review", sl.name),
		zap.Time("due_at", sl.due), zap.Time("next_deployment_at", sl.until))
	return true
}

// exportReview sets the review's series, unless the target was forgotten
// meanwhile.
func (s *Service) exportReview(name, review string, r Review) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.targets[name]; !ok {
		return
	}
	s.metrics.setReview(name, review, r.Verdict, float64(r.ComputedAt.UnixNano())/1e9)
	s.metrics.delivered.WithLabelValues(strconv.FormatBool(r.Late)).Inc()
}

func markerKey(deploymentID, review string) string { return deploymentID + "\x00" + review }
