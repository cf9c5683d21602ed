//go:build !unix

package testkit

import (
	"testing"
	"time"
)

// ProcessCPU needs getrusage; here it skips the calling test.
func ProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	tb.Skip("testkit: ProcessCPU needs getrusage (unix)")
	return 0
}
