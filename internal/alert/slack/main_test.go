package slack

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain sets the fixtures' times from the suite's base date, and fails
// the package's tests if a goroutine outlives them (a fake Slack's
// listener, a client's keep-alive connection).
func TestMain(m *testing.M) {
	setFixtureTimes()
	goleak.VerifyTestMain(m)
}
