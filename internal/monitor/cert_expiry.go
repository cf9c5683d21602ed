package monitor

import (
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// ConditionTLSCertExpiring: the certificate an https api_url presents (the
// earliest expiry in its chain) expires within tls.expiry_warning (a
// warning) or tls.expiry_critical (critical). Only a renewal mends it.
const ConditionTLSCertExpiring = "tls_cert_expiring"

// CauseTLSCertExpiring is the cause of a tls_cert_expiring event.
const CauseTLSCertExpiring = "tls_cert_expiring"

// certExpiryHint is the likely cause and next step of tls_cert_expiring.
const certExpiryHint = "the certificate was not renewed (a stopped certbot timer or cert-manager, a manual certificate forgotten): " +
	"renew it where it is issued (certbot renew, cert-manager, your CA) and reload the server or ingress that presents it; " +
	"the alert resolves at the next check round once the new certificate is served"

// certKey is the rule-state key under which the certificate condition is
// kept, so that a restart neither announces it again nor forgets to
// resolve it.
const certKey = "tls_cert"

// certState is where a target's certificate stands: its level (empty
// while more than expiry_warning remains) and since when.
type certState struct {
	Level Severity  `json:"level,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// certLevel is how urgent a certificate expiring at notAfter is at at:
// critical within critical, warning within warning, else none ("").
func certLevel(notAfter, at time.Time, warning, critical time.Duration) Severity {
	switch left := notAfter.Sub(at); {
	case left <= critical:
		return SeverityCritical
	case left <= warning:
		return SeverityWarning
	}
	return ""
}

// applyCertLocked exports the certificate's expiry and raises, escalates
// or resolves tls_cert_expiring. The caller holds r.mu.
func (r *targetRunner) applyCertLocked(pc spacetime.PeerCert, at time.Time) {
	r.metrics.TLSCertExpiry.WithLabelValues(r.name).Set(float64(pc.NotAfter.Unix()))
	s := r.settings
	level := certLevel(pc.NotAfter, at, s.certWarning, s.certCritical)
	prev := r.cert
	if level == prev.Level {
		return
	}
	r.cert = certState{Level: level, Since: at}
	r.saveCertLocked()
	ev := event.Event{Target: r.name, Name: ConditionTLSCertExpiring, Kind: event.KindCondition, Cause: CauseTLSCertExpiring,
		At: at, Since: at, Observed: certObserved(pc, at), Expected: "more than " + formatDays(s.certWarning) + " of validity left"}
	if level == "" {
		ev.State, ev.Severity, ev.Since = event.StateResolved, prev.Level, prev.Since
		ev.Reason = fmt.Sprintf("the TLS certificate (%s) was renewed: it now %s", pc.Subject, certWhen(pc, at))
		r.log.Info("TLS certificate renewed", zap.Object("event", ev))
	} else {
		ev.State, ev.Severity, ev.Hint = event.StateFiring, level, certExpiryHint
		if prev.Level != "" {
			ev.Since = prev.Since // escalated: the condition began at the warning
		}
		ev.Reason = fmt.Sprintf("the TLS certificate (%s) the API presents %s", pc.Subject, certWhen(pc, at))
		r.log.Warn("TLS certificate expiring", zap.Object("event", ev))
	}
	if r.sink != nil {
		r.sink.Handle(ev)
	}
}

// certObserved is the observed value of a certificate event.
func certObserved(pc spacetime.PeerCert, at time.Time) string {
	if left := pc.NotAfter.Sub(at); left > 0 {
		return formatDays(left) + " of validity left"
	}
	return "expired"
}

// certWhen is "expires on 2026-12-07 10:00 UTC, in 10d", or "expired on
// …, 2d ago".
func certWhen(pc spacetime.PeerCert, at time.Time) string {
	when := pc.NotAfter.UTC().Format("2006-01-02 15:04 UTC")
	if left := pc.NotAfter.Sub(at); left > 0 {
		return "expires on " + when + ", in " + formatDays(left)
	}
	return "expired on " + when + ", " + formatDays(at.Sub(pc.NotAfter)) + " ago"
}

// formatDays writes d in days and hours, rounded down to the hour: 13d,
// 2d12h, 5h.
func formatDays(d time.Duration) string {
	h := int(d / time.Hour)
	switch days, hours := h/24, h%24; {
	case days == 0:
		return fmt.Sprintf("%dh", hours)
	case hours == 0:
		return fmt.Sprintf("%dd", days)
	default:
		return fmt.Sprintf("%dd%dh", days, hours)
	}
}

// restoreCert reads the certificate condition saved before a restart.
func (r *targetRunner) restoreCert(states map[string][]byte) {
	b, ok := states[certKey]
	if !ok {
		return
	}
	if err := json.Unmarshal(b, &r.cert); err != nil {
		r.log.Warn("TLS certificate state is damaged; starting afresh", zap.Error(err))
		r.cert = certState{}
	}
}

func (r *targetRunner) saveCertLocked() {
	b, err := json.Marshal(r.cert)
	if err == nil {
		err = r.store.PutRuleState(r.name, certKey, b)
	}
	if err != nil {
		r.log.Warn("cannot save TLS certificate state", zap.Error(err))
	}
}
