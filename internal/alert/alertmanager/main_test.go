package alertmanager

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMain sets t0 from the suite's base date. Notify posts from
// goroutines and Run is one: none may outlive a test.
func TestMain(m *testing.M) {
	t0 = testkit.MainBase().Add(35*time.Minute + 23*time.Second)
	goleak.VerifyTestMain(m)
}
