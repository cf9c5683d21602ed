package e2e

import (
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
)

// startChecklistSim starts a checklist-profile instance with a fast stream,
// closed when the test ends.
func startChecklistSim(t *testing.T) *sim.Sim {
	t.Helper()
	return simtest.Start(t, sim.Options{Profile: sim.ProfileChecklist, FPSInterval: 50 * time.Millisecond, TrackingInterval: 100 * time.Millisecond})
}
