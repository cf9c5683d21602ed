package daemon_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: the
// daemon must stop its monitor, watchers, web server and store on cancel.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
