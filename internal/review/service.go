package review

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Deliverer hands a review to the people who read it. The daemon's
// enqueues a message in the durable outbox (Slack, in the deployment's
// thread). Once Deliver returns nil the review must not be lost, since the
// service then records it as delivered; an error leaves it to be delivered
// again on the next tick. Deliver runs on Run's goroutine.
type Deliverer interface {
	Deliver(ctx context.Context, r Review) error
}

// DelivererFunc adapts a function to Deliverer (tests, the demo).
type DelivererFunc func(ctx context.Context, r Review) error

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, r Review) error { return f(ctx, r) }

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Store keeps the minutes (rollups), the deployments the reviews are
	// timed from, and the delivery markers. Required.
	Store *store.Store
	// Dir is the state dir; the reports go to Dir/reviews. Required.
	Dir string
	// Deliverer takes each review once it is due. Required.
	Deliverer Deliverer
	// Offsets are the reviews' offsets from a deployment's start, for the
	// targets registered without their own. Default: the config's reviews.offsets
	// default, 1h, 4h and 24h.
	Offsets []time.Duration
	// Thresholds judge the review items, for the targets registered without
	// their own. Zero fields take their defaults (config.DefaultReviewThresholds).
	Thresholds Thresholds
	// Now is the wall clock: what is due, lateness, the minutes' times.
	// Default clock.Now. Ticks run on the runtime clock, which
	// testing/synctest fakes.
	Now func() time.Time
	// Wait is how long the wall clock takes for a span of Now's clock to
	// pass: Run sleeps Wait(until the next tick), so that the ticks keep
	// pace with a scaled Now (the demo's). Default clock.Wait.
	Wait func(time.Duration) time.Duration
	// Interval is how often the minutes are persisted and due reviews
	// looked for. Default config.ReviewInterval (1m), the minutes' length.
	Interval time.Duration
	// TickDelay is how long after each interval boundary of the wall clock
	// the tick comes, so that what was observed at the boundary is in.
	// Default config.ReviewTickDelay (1s); it must be shorter than Interval.
	TickDelay time.Duration
	// Settle is how long after a minute ends its Recorder hands it over
	// (RecorderOptions.Settle): a review is computed once the last minute
	// of its window is in, at the first tick at or after its due time,
	// rounded up to the minute, plus Settle. Default config.ReviewSettle (1m);
	// negative: none, for Recorders that settle immediately.
	Settle time.Duration
	// Slack is how long after that a review may be delivered before it is
	// marked late (with its delay from the due time). Default
	// config.ReviewSlack (2m).
	Slack time.Duration
	// Margin is how long after a deployment's last review fell due it is
	// still delivered (late) when the daemon was down. Default
	// config.ReviewMargin (24h).
	Margin time.Duration
	// Logger logs deliveries and failures. Default: no logs.
	Logger *zap.Logger
	// Health, when set, registers Run's loop as "reviews". Default: none.
	Health *health.Registry
	// Registerer gets the service's metrics. Default: a private registry.
	Registerer prometheus.Registerer
}

// TargetOptions register a target with the service.
type TargetOptions struct {
	// Recorder is the target's aggregator; the service flushes its
	// completed minutes into the store every interval. Nil: the target's
	// minutes come from the store alone.
	Recorder *Recorder
	// Offsets override ServiceOptions.Offsets for the target (config
	// reviews.offsets). Ascending, positive.
	Offsets []time.Duration
	// Thresholds override ServiceOptions.Thresholds for the target (the
	// target's config thresholds). Nil: the service's.
	Thresholds *Thresholds
}

// target is a registered target.
type target struct {
	rec        *Recorder
	sched      schedule
	thresholds Thresholds
}

// Service keeps each target's minutes in the store and delivers each
// post-deployment review once, on time or, after downtime, late and marked
// late. Register, ForgetTarget, OnDemand and Reviews are safe from any
// goroutine; deliveries happen on Run's.
type Service struct {
	st        *store.Store
	dir       string
	out       Deliverer
	now       func() time.Time
	wait      func(time.Duration) time.Duration
	log       *zap.Logger
	health    *health.Registry
	metrics   *metrics
	offsets   []time.Duration
	thr       Thresholds
	interval  time.Duration
	tickDelay time.Duration
	settle    time.Duration
	slack     time.Duration
	margin    time.Duration

	running atomic.Bool

	mu      sync.Mutex
	targets map[string]*target

	// Owned by Run's goroutine.
	pending  map[string][]Minute       // minutes a failed write left behind
	unmarked map[string]marker         // delivered, "delivered" not yet written
	cands    map[string]candidateCache // per target (candidates)
	warned   map[string]string         // last error logged per target and stage, and batchKey
}

// NewService checks the options. It starts nothing: call Register for
// each target and Run.
func NewService(opts ServiceOptions) (*Service, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("review: ServiceOptions.Store is nil: the service keeps minutes and markers in the state store")
	case opts.Dir == "":
		return nil, errors.New("review: ServiceOptions.Dir is empty: set it to the state dir (--state.dir)")
	case opts.Deliverer == nil:
		return nil, errors.New("review: ServiceOptions.Deliverer is nil: the service needs one to deliver reviews")
	}
	s := &Service{
		st:        opts.Store,
		dir:       opts.Dir,
		out:       opts.Deliverer,
		now:       opts.Now,
		wait:      opts.Wait,
		log:       opts.Logger,
		health:    opts.Health,
		offsets:   slices.Clone(opts.Offsets),
		thr:       opts.Thresholds,
		interval:  opts.Interval,
		tickDelay: opts.TickDelay,
		settle:    opts.Settle,
		slack:     opts.Slack,
		margin:    opts.Margin,
		targets:   map[string]*target{},
		pending:   map[string][]Minute{},
		unmarked:  map[string]marker{},
		cands:     map[string]candidateCache{},
		warned:    map[string]string{},
	}
	if s.now == nil {
		s.now = clock.Now
	}
	if s.wait == nil {
		s.wait = clock.Wait
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if len(s.offsets) == 0 {
		s.offsets = config.Default().Defaults.Reviews.Offsets
	}
	if err := checkOffsets(s.offsets); err != nil {
		return nil, fmt.Errorf("review: ServiceOptions.Offsets: %w", err)
	}
	if s.interval <= 0 {
		s.interval = config.ReviewInterval
	}
	if s.tickDelay <= 0 {
		s.tickDelay = config.ReviewTickDelay
	}
	if s.tickDelay >= s.interval {
		return nil, fmt.Errorf("review: ServiceOptions.TickDelay (%s) must be shorter than Interval (%s)", s.tickDelay, s.interval)
	}
	switch {
	case s.settle == 0:
		s.settle = config.ReviewSettle
	case s.settle < 0:
		s.settle = 0
	}
	if s.slack <= 0 {
		s.slack = config.ReviewSlack
	}
	if s.margin <= 0 {
		s.margin = config.ReviewMargin
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	s.metrics = m
	return s, nil
}

// Register adds a target, or updates its recorder, offsets and thresholds
// (a reload). The first registration restores the target's review metrics
// from the last delivered review of each name, so that a restart does not
// blank them.
func (s *Service) Register(name string, opts TargetOptions) error {
	offsets := s.offsets
	if len(opts.Offsets) > 0 {
		offsets = slices.Clone(opts.Offsets)
		if err := checkOffsets(offsets); err != nil {
			return fmt.Errorf("review: target %s: offsets: %w", name, err)
		}
	}
	t := &target{
		rec:        opts.Recorder,
		sched:      schedule{offsets: offsets, horizon: offsets[len(offsets)-1] + s.margin, settle: s.settle},
		thresholds: s.thr,
	}
	if opts.Thresholds != nil {
		t.thresholds = *opts.Thresholds
	}
	s.mu.Lock()
	_, known := s.targets[name]
	s.targets[name] = t
	s.mu.Unlock()
	if known {
		return nil
	}
	return s.restoreMetrics(name, t.sched)
}

// ForgetTarget removes a target and its series. Its data stays in the
// store until the daemon deletes the target there (store.DeleteTarget).
func (s *Service) ForgetTarget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.targets, name)
	s.metrics.forgetTarget(name)
}

// snapshot returns the registered targets, sorted by name.
func (s *Service) snapshot() ([]string, map[string]*target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := maps.Clone(s.targets)
	return slices.Sorted(maps.Keys(m)), m
}

// lookup returns a registered target.
func (s *Service) lookup(name string) (*target, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.targets[name]
	return t, ok
}

// Thresholds returns the thresholds name's reviews judge by; false when
// name is not registered.
func (s *Service) Thresholds(name string) (Thresholds, bool) {
	t, ok := s.lookup(name)
	if !ok {
		return Thresholds{}, false
	}
	return fillThresholds(t.thresholds), true
}

// Run persists the minutes and delivers due reviews at once, then every
// Interval (TickDelay past each boundary of the wall clock) and when a
// review becomes ready between ticks, until ctx ends; then it persists the
// minutes completed so far and returns nil. A second call is an error.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("review: Service.Run called twice")
	}
	defer s.running.Store(false)
	hl := s.health.Register("reviews")
	defer hl.Unregister()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.persistAll(s.now())
			return nil
		case <-timer.C:
		}
		hl.Busy()
		failpoint.Wedge(fpWedgeService)
		now := s.now()
		ready := s.tick(ctx, now)
		now = s.now()
		sleep := s.wait(sleepFor(now, nextTick(now, s.interval, s.tickDelay, ready), s.interval))
		hl.For(sleep)
		timer.Reset(sleep)
	}
}

// fpWedgeService wedges Run before a tick (the liveness tests).
var fpWedgeService = failpoint.Declare("wedge-reviews")

// tick persists every target's completed minutes, then delivers what is
// due, and returns when the next review becomes ready (zero: none ahead).
func (s *Service) tick(ctx context.Context, now time.Time) time.Time {
	names, targets := s.persistAll(now)
	var next time.Time
	for _, name := range names {
		if ctx.Err() != nil {
			return time.Time{}
		}
		if ready := s.deliverDue(ctx, name, targets[name], now); !ready.IsZero() && (next.IsZero() || ready.Before(next)) {
			next = ready
		}
	}
	return next
}

// persistAll flushes each target's Recorder at now and writes every
// target's minutes, with those a failed write left pending, in one store
// transaction: one commit a tick, not one per target. A target whose
// minutes cannot be stored (they do not encode, or the store would refuse
// them) fails alone, its new minutes dropped, rather than hold the others
// back. When the write fails, every target's minutes stay pending (the
// newest maxPendingMinutes) for the next tick, and the failure is counted
// and logged once, not once per target.
func (s *Service) persistAll(now time.Time) ([]string, map[string]*target) {
	names, targets := s.snapshot()
	batch := make(map[string][]store.RollupRecord, len(names))
	for _, name := range names {
		var minutes []Minute
		if rec := targets[name].rec; rec != nil {
			minutes = rec.Flush(now)
		}
		all := minutes
		if p := s.pending[name]; len(p) > 0 {
			all = append(p, minutes...)
		}
		if len(all) == 0 {
			s.recovered(name, stagePersist)
			continue
		}
		recs, err := rollupRecords(name, all)
		if err != nil {
			s.fail(name, stagePersist, err, zap.Int("pending_minutes", len(s.pending[name])))
			continue
		}
		batch[name] = recs
		s.pending[name] = all // until the write succeeds
	}
	if err := s.st.PutRollupsMany(batch); err != nil {
		minutes := 0
		for name := range batch {
			if n := len(s.pending[name]) - maxPendingMinutes; n > 0 {
				s.pending[name] = s.pending[name][n:]
			}
			minutes += len(s.pending[name])
		}
		s.failKey(batchKey, stagePersist, err, zap.Int("targets", len(batch)), zap.Int("pending_minutes", minutes))
	} else {
		for name := range batch {
			delete(s.pending, name)
			s.recovered(name, stagePersist)
		}
		s.recoveredKey(batchKey, stagePersist)
	}
	dropForgotten(s.pending, targets)
	dropForgotten(s.cands, targets)
	return names, targets
}

// dropForgotten deletes from m the targets no longer registered.
func dropForgotten[V any](m map[string]V, targets map[string]*target) {
	for name := range m {
		if _, ok := targets[name]; !ok {
			delete(m, name)
		}
	}
}

// batchKey is persistAll's batch write in warned: its failure is counted
// and logged once for all the targets in it, not once per target. No
// target's key (target, NUL, stage) is the same.
const batchKey = "\x00" + stagePersist + " batch"

// fail counts a failure and logs it when its text changed since the last
// one of the target and stage: a full disk logs once, not every minute.
func (s *Service) fail(target, stage string, err error, fields ...zap.Field) {
	s.failKey(target+"\x00"+stage, stage, err, append([]zap.Field{zap.String("target", target)}, fields...)...)
}

// failKey counts a failure of stage and logs it, with fields, when its
// text changed since the last one under key.
func (s *Service) failKey(key, stage string, err error, fields ...zap.Field) {
	s.metrics.errors.WithLabelValues(stage).Inc()
	if s.warned[key] == err.Error() {
		return
	}
	s.warned[key] = err.Error()
	s.log.Warn("review: "+stage+" failed; retrying on the next tick", append(fields, zap.Error(err))...)
}

// recovered forgets a stage's last error, logging that it works again.
func (s *Service) recovered(target, stage string) {
	s.recoveredKey(target+"\x00"+stage, stage, zap.String("target", target))
}

// recoveredKey forgets the last error under key, logging, with fields,
// that stage works again.
func (s *Service) recoveredKey(key, stage string, fields ...zap.Field) {
	if _, ok := s.warned[key]; ok {
		delete(s.warned, key)
		s.log.Info("review: "+stage+" works again", fields...)
	}
}
