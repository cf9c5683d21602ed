package slackfake

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: a
// listener, a hung handler.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
