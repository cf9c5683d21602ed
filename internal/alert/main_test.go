package alert

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: the
// outbox's dispatchers and the manager's timers must all be stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
