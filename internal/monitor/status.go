package monitor

import (
	"sort"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// TargetStatus is one target's state, for /api/v1/status.
type TargetStatus struct {
	// Name is the target's configured name.
	Name string `json:"name"`
	// APIURL is the instance's API base URL.
	APIURL string `json:"api_url"`
	// Deployment is the current deployment, when one is known.
	Deployment *DeploymentView `json:"deployment,omitempty"`
	// LastRound is when the scheduled checks last ran.
	LastRound time.Time `json:"last_round,omitzero"`
	// Checks are the last round's results.
	Checks []CheckResult `json:"checks"`
	// Failing lists the checks failing after their failure threshold.
	Failing []config.CheckName `json:"failing"`
	// TokenExpiry is the API token's expiry, when known.
	TokenExpiry time.Time `json:"token_expiry,omitzero"`
	// Telemetry is the telemetry watcher's view, rules included.
	Telemetry any `json:"telemetry,omitempty"`
}

// DeploymentView is a deployment as the status shows it.
type DeploymentView struct {
	ID        string    `json:"id"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Source    string    `json:"source"`
}

// statusReporter is implemented by watchers that describe themselves.
type statusReporter interface {
	StatusView() any
}

// Status describes every target, sorted by name.
func (m *Monitor) Status() []TargetStatus {
	m.mu.Lock()
	targets := make([]*target, 0, len(m.targets))
	for _, t := range m.targets {
		targets = append(targets, t)
	}
	m.mu.Unlock()
	sort.Slice(targets, func(i, j int) bool { return targets[i].cfg.Name < targets[j].cfg.Name })

	out := make([]TargetStatus, 0, len(targets))
	for _, t := range targets {
		rs := t.runner.status()
		ts := TargetStatus{
			Name: t.cfg.Name, APIURL: t.cfg.APIURL.String(),
			LastRound: rs.LastRound, Checks: rs.Checks, Failing: rs.Failing, TokenExpiry: rs.TokenExpiry,
		}
		if d, ok, err := m.opts.Store.CurrentDeployment(t.cfg.Name); err == nil && ok {
			ts.Deployment = &DeploymentView{ID: d.ID, Version: d.Version, StartedAt: d.StartedAt, Source: d.Source}
		}
		if sr, ok := t.watcher.(statusReporter); ok {
			ts.Telemetry = sr.StatusView()
		}
		if ts.Checks == nil {
			ts.Checks = []CheckResult{}
		}
		out = append(out, ts)
	}
	return out
}
