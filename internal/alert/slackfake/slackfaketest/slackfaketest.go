// Package slackfaketest starts the fake Slack for the tests of other
// packages. Only tests import it (internal/archtest checks); slackfake
// itself is also used by make chaos, which is not a test.
package slackfaketest

import (
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
)

// Start starts a fake Slack on a free loopback port, closed when the test
// ends.
func Start(tb testing.TB) *slackfake.Server {
	tb.Helper()
	s := slackfake.New()
	tb.Cleanup(s.Close)
	return s
}
