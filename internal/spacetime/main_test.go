package spacetime

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// Stream's ping in flight, a test server's handler, a simulator's loops.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
