package slackbot

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestMain sets now from the suite's base date, and fails the package's
// tests if a goroutine outlives them (a fake Slack's listener, a client's
// keep-alive connection).
func TestMain(m *testing.M) {
	base := testkit.MainBase()
	now = base.Add(2*time.Hour + 30*time.Minute)
	goleak.VerifyTestMain(m)
}
