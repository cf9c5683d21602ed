package monitor

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// telemetry probe, the sims and the HTTP clients must all be stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
