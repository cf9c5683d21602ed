package daemon

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/statuspage"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// pageSource is the daemon's state as the status page reads it.
type pageSource struct {
	mon      *monitor.Monitor
	alerting *alerting
	reviews  *reviews
	store    *store.Store
}

var _ statuspage.Source = pageSource{}

func (p pageSource) Targets() []monitor.TargetStatus { return p.mon.Status() }
func (p pageSource) Alerts() []alert.Alert           { return p.alerting.manager.Alerts() }
func (p pageSource) Silences() []alert.Silence       { return p.alerting.manager.Silences() }

func (p pageSource) Minutes(target string, from, to time.Time) ([]review.Minute, error) {
	return p.reviews.svc.Minutes(target, from, to)
}

func (p pageSource) Thresholds(target string) config.ReviewThresholds {
	if th, ok := p.reviews.svc.Thresholds(target); ok {
		return th
	}
	return config.DefaultReviewThresholds() // a target just removed
}

func (p pageSource) CheckHistory(target string, since time.Time) ([]store.CheckRecord, error) {
	return p.store.CheckHistory(target, since)
}

func (p pageSource) Deployments(target string) ([]store.Deployment, error) {
	return p.store.Deployments(target)
}

// Reviews are the deployment's delivered reviews or, before the first is
// delivered, the first computed now (as GET /api/v1/reviews?review=latest).
func (p pageSource) Reviews(ctx context.Context, target, deploymentID string) ([]review.Review, bool, error) {
	list, err := p.reviews.svc.Reviews(target, deploymentID)
	if err != nil || len(list) > 0 {
		return list, false, err
	}
	r, err := p.reviews.svc.Latest(ctx, target, deploymentID)
	if errors.Is(err, review.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return []review.Review{r}, true, nil
}

func (p pageSource) Outbox() (map[string]int, []statuspage.DeadLetter, error) {
	pending, err := p.alerting.outbox.Pending()
	if err != nil {
		return nil, nil, err
	}
	dead, err := deadLetters(p.alerting.outbox)
	if err != nil {
		return nil, nil, err
	}
	out := make([]statuspage.DeadLetter, 0, len(dead))
	for _, d := range dead {
		out = append(out, statuspage.DeadLetter{Sink: d.Sink, Reason: d.Reason, Summary: d.Summary, At: d.At})
	}
	return pending, out, nil
}

// deadLetters are every sink's dead letters, newest first.
func deadLetters(o *alert.Outbox) ([]DeadLetter, error) {
	dead, err := o.DeadLetters()
	if err != nil {
		return nil, err
	}
	out := []DeadLetter{}
	for sink, list := range dead {
		for _, d := range list {
			out = append(out, DeadLetter{Sink: sink, Seq: d.Seq, At: d.At, Reason: d.Reason, Summary: summarize(d)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}
