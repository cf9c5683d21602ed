package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// ChecksRunner is a target's runner for the tests of package monitor_test:
// rounds of check results in, check and condition events out to sink, as
// the scheduler's rounds make them.
type ChecksRunner struct{ r *targetRunner }

// NewChecksRunner returns the runner of target t, on st, sending its
// events to sink.
func NewChecksRunner(t *config.Target, st *store.Store, sink event.Sink, now func() time.Time) *ChecksRunner {
	return &ChecksRunner{newTargetRunner(t.Name, settingsFromConfig(t), runnerDeps{},
		NewMetrics(prometheus.NewRegistry()), st, sink, zap.NewNop(), now)}
}

// Apply records one round's results at at.
func (c *ChecksRunner) Apply(results []CheckResult, at time.Time) { c.r.apply(results, at) }

// ApplyCert records, at at, the certificate chain the API presented, as a
// round does after its checks.
func (c *ChecksRunner) ApplyCert(pc spacetime.PeerCert, at time.Time) {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	c.r.applyCertLocked(pc, at)
}
