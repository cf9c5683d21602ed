// Package simtest starts simulated SpaceTime VR instances for the tests of
// other packages. Only tests import it (internal/archtest checks); it is
// not in internal/testkit because the simulator's own tests use testkit.
package simtest

import (
	"context"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
)

// FastFPSInterval is the FPS frame interval of a test's instance unless
// its options say otherwise: fast enough that rules and checks see data
// within a test's patience.
const FastFPSInterval = 20 * time.Millisecond

// Start starts a simulated instance on free loopback ports, closed when
// the test ends.
func Start(t testing.TB, opts sim.Options) *sim.Sim {
	t.Helper()
	opts.APIAddress, opts.TelemetryAddress, opts.ControlAddress = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	return StartOn(t, opts)
}

// StartOn starts a simulated instance on opts' addresses (a restart on
// the ports of a stopped one), with a fast FPS stream unless opts sets
// one, closed when the test ends.
func StartOn(t testing.TB, opts sim.Options) *sim.Sim {
	t.Helper()
	if opts.FPSInterval == 0 {
		opts.FPSInterval = FastFPSInterval
	}
	s, err := sim.Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("sim.Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
