package monitor

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestCertExpiry_LoopbackTLS runs the daemon's rounds against a loopback
// https instance whose certificate, signed by the private CA the target's
// tls.ca_file names, is valid for 20 days from the test's base: nothing
// while 20 days remain, a warning at 10 days, critical at 2 and once it
// expired, resolved once the certificate is renewed. Every component runs on the injected clock,
// certificate verification included, so the test is no time bomb.
func TestCertExpiry_LoopbackTLS(t *testing.T) {
	base := testkit.BaseTime(t)
	var nowNS atomic.Int64
	nowNS.Store(base.UnixNano())
	now := func() time.Time { return time.Unix(0, nowNS.Load()).UTC() }
	day := 24 * time.Hour

	ca := testkit.NewCA(t, base.AddDate(-1, 0, 0), base.AddDate(3, 0, 0))
	var cert atomic.Pointer[tls.Certificate]
	first := ca.Issue(t, base.Add(-day), base.Add(20*day), "127.0.0.1")
	cert.Store(&first)
	srv := testkit.TLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"http_api":"active"}`))
	}), &cert)

	dir := t.TempDir()
	testkit.WriteFileIn(t, dir, "ingress-ca.pem", string(ca.PEM))
	cfg, err := config.Parse([]byte("targets:\n  - name: edge\n    api_url: "+srv.URL+"\n    telemetry_urls: []\n"+
		"    tls:\n      ca_file: ingress-ca.pem\n      expiry_warning: 336h\n      expiry_critical: 72h\n"),
		config.ParseOptions{Getenv: os.Getenv, BaseDir: dir, Filename: filepath.Join(dir, "config.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Targets[0]
	ct, err := NewCheckTarget(tc, TargetOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	metrics := NewMetrics(prometheus.NewRegistry())
	rec := &eventRecorder{}
	r := newTargetRunner(tc.Name, settingsFromConfig(&tc), runnerDeps{
		checks: func(ctx context.Context) []CheckResult {
			return RunChecks(ctx, ct, ModeScheduled, []config.CheckName{config.CheckInstanceUp})
		},
		status:   ct.Client.Status,
		peerCert: ct.Client.PeerCert,
	}, metrics, openTestStore(t, now), rec, zap.NewNop(), now)

	certEvents := func() []event.Event {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var out []event.Event
		for _, ev := range rec.events {
			if ev.Name == ConditionTLSCertExpiring {
				out = append(out, ev)
			}
		}
		return out
	}
	steps := []struct {
		name  string
		at    time.Duration // after base
		renew bool
		want  string // the new tls_cert_expiring event, "" for none
	}{
		{"20 days left", 0, false, ""},
		{"10 days left", 10 * day, false, "firing warning"},
		{"still 9 days", 11 * day, false, ""},
		{"2 days left", 18 * day, false, "firing critical"},
		{"expired a day ago", 21 * day, false, ""}, // still critical: the handshake fails, the expiry is still known
		{"renewed", 21*day + time.Hour, true, "resolved critical"},
	}
	seen := 0
	for _, s := range steps {
		nowNS.Store(base.Add(s.at).UnixNano())
		if s.renew {
			renewed := ca.Issue(t, now().Add(-time.Hour), now().Add(90*day), "127.0.0.1")
			cert.Store(&renewed)
		}
		r.round(t.Context())
		evs := certEvents()
		var got string
		switch len(evs) - seen {
		case 0:
		case 1:
			ev := evs[seen]
			got = string(ev.State) + " " + string(ev.Severity)
			if ev.Kind != event.KindCondition || ev.Target != "edge" || ev.Cause != CauseTLSCertExpiring {
				t.Errorf("%s: event %+v; want kind condition, target edge, cause %s", s.name, ev, CauseTLSCertExpiring)
			}
			if ev.Firing() && (!strings.Contains(ev.Hint, "renew") || !strings.Contains(ev.Reason, "127.0.0.1")) {
				t.Errorf("%s: firing event without the renewal hint or the certificate's name: %+v", s.name, ev)
			}
		default:
			t.Fatalf("%s: %d events at once: %+v", s.name, len(evs)-seen, evs[seen:])
		}
		seen = len(evs)
		if got != s.want {
			t.Errorf("%s: tls_cert_expiring event %q; want %q", s.name, got, s.want)
		}
		exp := base.Add(20 * day)
		if s.renew {
			exp = now().Add(90 * day)
		}
		if v := testutil.ToFloat64(metrics.TLSCertExpiry.WithLabelValues("edge")); v != float64(exp.Unix()) {
			t.Errorf("%s: spacetime_tls_cert_expiry_timestamp_seconds = %v; want %d", s.name, v, exp.Unix())
		}
	}
}
