package webhook

import (
	"testing"

	"go.uber.org/goleak"
)

// The outbox's dispatchers and the test servers must all be stopped.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
