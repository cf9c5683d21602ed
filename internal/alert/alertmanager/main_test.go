package alertmanager

import (
	"testing"

	"go.uber.org/goleak"
)

// Notify posts from goroutines and Run is one: none may outlive a test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
