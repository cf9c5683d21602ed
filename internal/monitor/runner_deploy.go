package monitor

import (
	"context"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// This file is the runner's view of the instance's process and its
// deployments: restarts and new versions seen in /status, the deployment
// the config declares, and those operators declare.

// observeInstance reads /status to count restarts, start deployments and
// export the token's expiry. Failures are left to the checks to report.
func (r *targetRunner) observeInstance(ctx context.Context) {
	st, err := r.deps.status(ctx)
	if err != nil {
		r.log.Debug("status unavailable for restart detection", zap.Error(err))
		return
	}
	now := r.now()
	if st.JWTToken != "" {
		if _, exp, ok := spacetime.TokenExpiry(st.JWTToken); ok {
			r.metrics.TokenExpiry.WithLabelValues(r.name).Set(float64(exp.Unix()))
			r.mu.Lock()
			r.tokenExp = exp
			r.mu.Unlock()
		}
	}
	cur := identityFromStatus(st, now)
	if r.recorder != nil {
		r.recorder.ObserveCounters(now, review.Counters{Requests: st.RequestsTotal, Errors: st.ErrorsTotal, AuthFailures: st.AuthFailuresTotal, RateLimitViolations: st.RateLimitViolationsTotal})
	}
	r.deployMu.Lock()
	defer r.deployMu.Unlock()
	prev, seen, err := loadIdentity(r.store, r.name)
	if err != nil {
		r.log.Warn("cannot read the last instance identity", zap.Error(err))
		return
	}
	_, hasDeployment, err := r.store.CurrentDeployment(r.name)
	if err != nil {
		r.log.Warn("cannot read the current deployment", zap.Error(err))
		return
	}
	d := decideDeployment(r.name, prev, seen, hasDeployment, cur, now)
	if d.Restarts > 0 {
		if r.recorder != nil {
			r.recorder.ObserveRestarts(now, d.Restarts)
		}
		r.metrics.Restarts.WithLabelValues(r.name).Add(float64(d.Restarts))
		r.log.Info("instance restarted", zap.Int("restarts", d.Restarts), zap.String("version", cur.Version))
	}
	if d.Start != nil && r.settings.autoDetect {
		r.startDeploymentLocked(*d.Start)
	}
	if seen && !cur.movedFrom(prev) {
		return // one write per round, fsynced, for nothing: 3 a second at 1,000 targets
	}
	if err := saveIdentity(r.store, r.name, cur); err != nil {
		r.log.Warn("cannot save the instance identity", zap.Error(err))
	}
}

// ensureConfiguredDeployment records the deployment the config declares,
// unless it is already the current one.
func (r *targetRunner) ensureConfiguredDeployment() {
	want := r.settings.configured
	if want == nil {
		return
	}
	r.deployMu.Lock()
	defer r.deployMu.Unlock()
	cur, ok, err := r.store.CurrentDeployment(r.name)
	if err != nil {
		r.log.Warn("cannot read the current deployment", zap.Error(err))
		return
	}
	if ok && cur.StartedAt.Equal(want.StartedAt) && cur.Version == want.Version {
		r.metrics.DeploymentStart.WithLabelValues(r.name).Set(float64(cur.StartedAt.Unix()))
		return
	}
	r.startDeploymentLocked(*want)
}

// startDeployment records d (declared by an operator) and exports its start.
func (r *targetRunner) startDeployment(d store.Deployment) (store.Deployment, error) {
	r.deployMu.Lock()
	defer r.deployMu.Unlock()
	return r.startDeploymentLocked(d)
}

// startDeploymentLocked records d; the caller holds deployMu.
func (r *targetRunner) startDeploymentLocked(d store.Deployment) (store.Deployment, error) {
	d, err := r.store.StartDeployment(d)
	if err != nil {
		r.log.Warn("cannot record deployment", zap.Error(err))
		return d, err
	}
	r.metrics.DeploymentStart.WithLabelValues(r.name).Set(float64(d.StartedAt.Unix()))
	r.log.Info("deployment started", zap.String("deployment", d.ID), zap.String("version", d.Version), zap.String("source", d.Source), zap.Time("started_at", d.StartedAt))
	return d, nil
}
