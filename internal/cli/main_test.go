package cli_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a command leaves a goroutine behind: the
// demo's daemon, sim and narrator, verify's probe.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
