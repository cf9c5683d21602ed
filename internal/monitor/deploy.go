package monitor

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// instanceIdentity is what tells one run of an instance's process from the
// next, from whatever the instance offers: the checklist contract reports
// uptime, version and a restart counter; the stock Godot server reports
// none of them but issues a new JWT (new iat) at every start.
type instanceIdentity struct {
	// StartedAt is now − uptime_seconds, when the instance reports uptime.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Version is the application version, when reported.
	Version string `json:"version,omitempty"`
	// Restarts is the instance's restarts_total, when reported (-1 if not).
	Restarts float64 `json:"restarts"`
	// TokenIssuedAt is the JWT's iat, when /status hands out a JWT.
	TokenIssuedAt time.Time `json:"token_issued_at,omitzero"`
}

// startJitter absorbs the rounding of uptime_seconds and the request's own
// latency when comparing computed start times.
const startJitter = 30 * time.Second

// identityFromStatus reads the identity out of a /status answer taken at now.
func identityFromStatus(st *spacetime.Status, now time.Time) instanceIdentity {
	id := instanceIdentity{Restarts: -1}
	if st.UptimeSeconds != nil {
		id.StartedAt = now.Add(-time.Duration(*st.UptimeSeconds * float64(time.Second))).Truncate(time.Second)
	}
	id.Version = st.Version
	if st.RestartsTotal != nil {
		id.Restarts = *st.RestartsTotal
	}
	if st.JWTToken != "" {
		if iat, _, ok := spacetime.TokenExpiry(st.JWTToken); ok {
			id.TokenIssuedAt = iat
		}
	}
	return id
}

// restartsSince counts the restarts between prev and cur: the instance's
// own counter where it has one, else one when uptime went back or a new
// JWT was issued.
func restartsSince(prev, cur instanceIdentity) int {
	if prev.Restarts >= 0 && cur.Restarts > prev.Restarts {
		return int(cur.Restarts - prev.Restarts)
	}
	if !prev.StartedAt.IsZero() && !cur.StartedAt.IsZero() && cur.StartedAt.Sub(prev.StartedAt) > startJitter {
		return 1
	}
	if !prev.TokenIssuedAt.IsZero() && !cur.TokenIssuedAt.IsZero() && cur.TokenIssuedAt.After(prev.TokenIssuedAt) {
		return 1
	}
	return 0
}

// movedFrom reports whether id differs from prev enough to be stored: any
// field but the start time changed, or the start time moved by more than a
// second. now − uptime wobbles by a second with the request's latency, and
// storing every wobble would cost a write per round; a start time that
// drifts (an uptime counted by a clock that runs slow) is stored each time
// it has moved a second, so the drift never adds up to startJitter and a
// false restart.
func (id instanceIdentity) movedFrom(prev instanceIdentity) bool {
	if id.Version != prev.Version || id.Restarts != prev.Restarts || !id.TokenIssuedAt.Equal(prev.TokenIssuedAt) {
		return true
	}
	if id.StartedAt.IsZero() != prev.StartedAt.IsZero() {
		return true
	}
	d := id.StartedAt.Sub(prev.StartedAt)
	return d > time.Second || d < -time.Second
}

// identityKey is where a target's last seen identity is kept in the store,
// so that a daemon restart does not count an instance restart.
func identityKey(target string) string { return "instance-identity/" + target }

func loadIdentity(st *store.Store, target string) (instanceIdentity, bool, error) {
	b, ok, err := st.GetMeta(identityKey(target))
	if err != nil || !ok {
		return instanceIdentity{}, false, err
	}
	var id instanceIdentity
	if err := json.Unmarshal(b, &id); err != nil {
		// A damaged record is as good as none: the next status answer replaces it.
		return instanceIdentity{}, false, nil
	}
	return id, true, nil
}

func saveIdentity(st *store.Store, target string, id instanceIdentity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("encode instance identity of %s: %w", target, err)
	}
	return st.PutMeta(identityKey(target), b)
}

// deploymentDecision is what one status observation means for a target's
// deployments.
type deploymentDecision struct {
	// Restarts is how many instance restarts happened since the last observation.
	Restarts int
	// Start is non-nil when a new deployment begins.
	Start *store.Deployment
}

// decideDeployment applies the rules of issue 3: a deployment starts when a
// target is seen for the first time, or when the instance restarted with a
// different version. A restart with the same version is only counted.
func decideDeployment(target string, prev instanceIdentity, seen bool, hasDeployment bool, cur instanceIdentity, now time.Time) deploymentDecision {
	var d deploymentDecision
	if seen {
		d.Restarts = restartsSince(prev, cur)
	}
	switch {
	case !seen && !hasDeployment:
		d.Start = &store.Deployment{Target: target, Version: cur.Version, Source: store.SourceNewTarget, StartedAt: firstNonZero(cur.StartedAt, now), InstanceStartedAt: cur.StartedAt}
	case d.Restarts > 0 && cur.Version != "" && cur.Version != prev.Version:
		d.Start = &store.Deployment{Target: target, Version: cur.Version, Source: store.SourceRestart, StartedAt: firstNonZero(cur.StartedAt, now), InstanceStartedAt: cur.StartedAt}
	}
	return d
}

func firstNonZero(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
