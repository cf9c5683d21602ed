package daemon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// ReviewTiming tunes how fast reviews follow the clock; tests shorten
// both. Zero values take the review service's defaults (a minute).
type ReviewTiming struct {
	// Interval is how often due reviews are looked for.
	Interval time.Duration
	// Settle is how long a minute stays open for late observations;
	// negative: none.
	Settle time.Duration
}

// reviews is the review service with the monitor's view of it.
type reviews struct {
	svc *review.Service
	log *zap.Logger
}

func newReviews(st *store.Store, dir string, enq alert.Enqueuer, timing ReviewTiming, reg prometheus.Registerer, log *zap.Logger, now func() time.Time, wait func(time.Duration) time.Duration, hr *health.Registry) (*reviews, error) {
	log = log.Named("review")
	svc, err := review.NewService(review.ServiceOptions{
		Store:      st,
		Dir:        dir,
		Deliverer:  reviewDeliverer{out: enq},
		Interval:   timing.Interval,
		Settle:     timing.Settle,
		Logger:     log,
		Registerer: reg,
		Now:        now,
		Wait:       wait,
		Health:     hr,
	})
	if err != nil {
		return nil, err
	}
	return &reviews{svc: svc, log: log}, nil
}

// TargetAdded registers a target with its offsets and thresholds.
func (r *reviews) TargetAdded(tc config.Target, rec *review.Recorder) {
	th := tc.ReviewThresholds()
	if err := r.svc.Register(tc.Name, review.TargetOptions{Recorder: rec, Offsets: tc.Reviews.Offsets, Thresholds: &th}); err != nil {
		r.log.Error("cannot schedule the target's reviews", zap.String("target", tc.Name), zap.Error(err))
	}
}

// TargetRemoved forgets a target's reviews.
func (r *reviews) TargetRemoved(name string) { r.svc.ForgetTarget(name) }

// reviewDeliverer posts a review through the outbox, in the deployment's
// thread where the sink has threads: the review's own headline as the
// title ("⚠️ Review hour-4 of vr-1 (v2.4.1): WARN · LATE: ..."), its
// body as the text.
type reviewDeliverer struct{ out alert.Enqueuer }

func (d reviewDeliverer) Deliver(_ context.Context, r review.Review) error {
	return d.out.Enqueue(alert.Message{
		Kind:       alert.KindText,
		Title:      review.Title(r),
		Text:       review.Body(r),
		Target:     r.Target,
		Deployment: &alert.Deployment{ID: r.DeploymentID, Version: r.Version, StartedAt: r.StartedAt},
	})
}
