package alert

import (
	"github.com/prometheus/client_golang/prometheus"
)

// managerMetrics are the alert lifecycle's series, created once per
// Manager against the injected Registerer with fixed label names.
type managerMetrics struct {
	// firing is spacetime_alerts_firing: 1 while the alert fires and may be
	// notified (past its grace, not silenced), 0 while it fires but is held
	// by the deployment grace or silenced; absent when it does not fire.
	// group_wait only delays the message: it does not change the value.
	firing *prometheus.GaugeVec
	// errors counts failed enqueues and state writes (both retried).
	errors *prometheus.CounterVec
}

// Values of the op label of spacetime_watch_alert_errors_total.
const (
	opEnqueue = "enqueue"
	opPersist = "persist"
)

func newManagerMetrics(reg prometheus.Registerer, activeSilences func() float64) *managerMetrics {
	m := &managerMetrics{
		firing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "spacetime_alerts_firing",
			Help: "1 while the alert fires after silences and deployment grace, 0 while it fires but is silenced or held by the grace; absent when it does not fire.",
		}, []string{LabelTarget, LabelAlert, LabelSeverity}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "spacetime_watch_alert_errors_total",
			Help: "Failures of the alert manager, by operation: enqueue (a notification could not be queued; retried) and persist (the alert state could not be written; retried).",
		}, []string{"op"}),
	}
	silences := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "spacetime_watch_silences_active",
		Help: "Number of silences muting alerts now.",
	}, activeSilences)
	m.errors.WithLabelValues(opEnqueue)
	m.errors.WithLabelValues(opPersist)
	reg.MustRegister(m.firing, m.errors, silences)
	return m
}

// series are the labels of one exported spacetime_alerts_firing series.
type series struct{ target, name, severity string }

// syncFiring makes spacetime_alerts_firing match alerts: exported holds
// the series set at the last sync, so that a forgotten alert or a changed
// severity loses its old series.
func (m *managerMetrics) syncFiring(alerts map[string]*alertState, exported map[string]series) {
	for fp, s := range exported {
		if a := alerts[fp]; a == nil || !a.firing || string(a.severity) != s.severity {
			m.firing.DeleteLabelValues(s.target, s.name, s.severity)
			delete(exported, fp)
		}
	}
	for fp, a := range alerts {
		if !a.firing {
			continue
		}
		v := 0.0
		if a.eligible() {
			v = 1
		}
		m.firing.WithLabelValues(a.target, a.name, string(a.severity)).Set(v)
		exported[fp] = series{a.target, a.name, string(a.severity)}
	}
}
