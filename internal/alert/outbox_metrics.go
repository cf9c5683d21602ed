package alert

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Results of spacetime_watch_notifications_total.
const (
	// resultDelivered: the sink confirmed the message.
	resultDelivered = "delivered"
	// resultRetried: an attempt failed and the message will be tried again.
	resultRetried = "retried"
	// resultFailed: the sink refused the message for good; it went to the
	// dead letters.
	resultFailed = "failed"
)

const outboxLabelSink = "sink"

// outboxMetrics are the outbox's series. The queue lengths are read from
// the store at scrape time, so that they are exact across restarts and
// include the queues of sinks no longer configured.
type outboxMetrics struct {
	notifications *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	healthy       *prometheus.GaugeVec
	queues        *outboxQueueCollector
}

func newOutboxMetrics(o *Outbox) *outboxMetrics {
	return &outboxMetrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spacetime_watch_notifications_total",
			Help: "Delivery attempts of notifications by sink and result: delivered, retried (failed, will be tried again) or failed (refused for good, dead-lettered).",
		}, []string{outboxLabelSink, "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "spacetime_watch_notification_latency_seconds",
			Help:    "Time from a notification's creation to the sink's confirmation, retries and restarts included.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600},
		}, []string{outboxLabelSink}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spacetime_watch_sink_healthy",
			Help: "1 if the sink's last delivery attempt succeeded, 0 if it failed; absent until the first attempt.",
		}, []string{outboxLabelSink}),
		queues: &outboxQueueCollector{
			o: o,
			pending: prometheus.NewDesc("spacetime_watch_outbox_pending",
				"Notifications waiting in the sink's outbox queue.", []string{outboxLabelSink}, nil),
			deadLetters: prometheus.NewDesc("spacetime_watch_outbox_dead_letters",
				"Notifications in the sink's dead-letter list (the newest 1000 are kept): see spacetime-watch outbox list.", []string{outboxLabelSink}, nil),
		},
	}
}

func (m *outboxMetrics) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.notifications, m.latency, m.healthy, m.queues}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// initSink starts a sink's counters at 0, so that rate() and increase()
// work from the first scrape.
func (m *outboxMetrics) initSink(sink string) {
	for _, r := range []string{resultDelivered, resultRetried, resultFailed} {
		m.notifications.WithLabelValues(sink, r)
	}
	// The latency histogram too, so that rate() sees the first notification.
	m.latency.WithLabelValues(sink)
}

// forgetSink deletes the series of a sink removed from the configuration.
func (m *outboxMetrics) forgetSink(sink string) {
	match := prometheus.Labels{outboxLabelSink: sink}
	m.notifications.DeletePartialMatch(match)
	m.latency.DeletePartialMatch(match)
	m.healthy.DeletePartialMatch(match)
}

func (m *outboxMetrics) delivered(sink string, latency time.Duration) {
	m.notifications.WithLabelValues(sink, resultDelivered).Inc()
	m.latency.WithLabelValues(sink).Observe(max(latency, 0).Seconds())
	m.healthy.WithLabelValues(sink).Set(1)
}

func (m *outboxMetrics) attemptFailed(sink string) {
	m.notifications.WithLabelValues(sink, resultRetried).Inc()
	m.healthy.WithLabelValues(sink).Set(0)
}

func (m *outboxMetrics) deadLettered(sink string) {
	m.notifications.WithLabelValues(sink, resultFailed).Inc()
	m.healthy.WithLabelValues(sink).Set(0)
}

// outboxQueueCollector reports the queue and dead-letter lengths from the
// store: one read transaction per scrape, no scan.
type outboxQueueCollector struct {
	o                    *Outbox
	pending, deadLetters *prometheus.Desc
}

func (c *outboxQueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.deadLetters
}

// Collect reports every configured sink (0 when empty) and any other sink
// the store holds messages for. A store that cannot be read leaves the
// series out rather than failing the whole scrape.
func (c *outboxQueueCollector) Collect(ch chan<- prometheus.Metric) {
	pending, pErr := c.o.store.OutboxPending()
	dead, dErr := c.o.store.DeadLetterCounts()
	if err := errors.Join(pErr, dErr); err != nil {
		c.o.log.Warn("cannot read the outbox for /metrics", zap.Error(err))
		return
	}
	for _, name := range c.o.sinkNames() {
		pending[name] += 0
		dead[name] += 0
	}
	c.emit(ch, c.pending, pending)
	c.emit(ch, c.deadLetters, dead)
}

func (c *outboxQueueCollector) emit(ch chan<- prometheus.Metric, desc *prometheus.Desc, counts map[string]int) {
	for sink, n := range counts {
		// An error here means a sink name that is not UTF-8: left out.
		if m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, float64(n), sink); err == nil {
			ch <- m
		}
	}
}
