package review

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Error stages of spacetime_watch_review_errors_total.
const (
	stagePersist = "persist" // writing the minutes to the store
	stageCompute = "compute" // reading the minutes or the markers
	stageDeliver = "deliver" // the Deliverer refused the review
	stageFiles   = "files"   // writing reviews/<id>-<name>.md|.json
	stageMarker  = "marker"  // recording a delivery marker
)

var errorStages = []string{stagePersist, stageCompute, stageDeliver, stageFiles, stageMarker}

// metrics are the service's series, created once against the injected
// Registerer with fixed label names; a target's series are deleted when it
// is forgotten. The counters are the daemon's, not a target's: per target
// they were seven series each, almost always 0, and the logs name the
// target of a failure.
type metrics struct {
	// verdict is the last delivered review's verdict (1 pass, 0.5 warn, 0
	// fail); absent until the review exists, since a 0 would read as a fail.
	verdict *prometheus.GaugeVec
	// timestamp is when the last delivered review was computed (Unix).
	timestamp *prometheus.GaugeVec
	// delivered counts reviews handed to the Deliverer, late or not, of
	// every target.
	delivered *prometheus.CounterVec
	// errors counts failures by stage, of every target; each is retried
	// on the next tick.
	errors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		verdict: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spacetime_review_verdict",
			Help: "Verdict of the last delivered post-deployment review: 1 pass, 0.5 warn, 0 fail; absent until the review exists.",
		}, []string{"target", "review"}),
		timestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spacetime_review_timestamp_seconds",
			Help: "Unix time at which the last delivered post-deployment review was computed.",
		}, []string{"target", "review"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spacetime_watch_reviews_delivered_total",
			Help: "Post-deployment reviews handed to delivery (Slack outbox and files), by lateness.",
		}, []string{"late"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spacetime_watch_review_errors_total",
			Help: "Failures of the post-deployment review service by stage (persist, compute, deliver, files, marker); each is retried on the next tick.",
		}, []string{"stage"}),
	}
	for _, late := range []string{"false", "true"} {
		m.delivered.WithLabelValues(late) // counters start at 0
	}
	for _, st := range errorStages {
		m.errors.WithLabelValues(st)
	}
	for _, c := range []prometheus.Collector{m.verdict, m.timestamp, m.delivered, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register review metrics: %w", err)
		}
	}
	return m, nil
}

// forgetTarget deletes every series of target.
func (m *metrics) forgetTarget(target string) {
	l := prometheus.Labels{"target": target}
	m.verdict.DeletePartialMatch(l)
	m.timestamp.DeletePartialMatch(l)
}

func (m *metrics) setReview(target, review string, v Verdict, computedUnix float64) {
	m.verdict.WithLabelValues(target, review).Set(v.Value())
	m.timestamp.WithLabelValues(target, review).Set(computedUnix)
}
