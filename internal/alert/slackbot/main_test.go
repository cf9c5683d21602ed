package slackbot

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them (a fake
// Slack's listener, a client's keep-alive connection).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
