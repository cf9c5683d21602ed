package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// E2EEnv, set by `make test`, turns a missing external tool into a failure
// instead of a skip: make test installs every tool the tests need
// (scripts/install-test-deps.sh), so under it a missing one is a bug.
const E2EEnv = "SPACETIME_WATCH_E2E"

// Tool finds the external program name on PATH; when it is missing, the
// test fails under E2EEnv and is skipped elsewhere, saying how to get it.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(E2EEnv) != "" {
		tb.Fatalf("%s not found: `make test` installs it (scripts/install-test-deps.sh)", name)
	}
	tb.Skipf("%s not found; run `make test` to install it (scripts/install-test-deps.sh)", name)
	return ""
}
