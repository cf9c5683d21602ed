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

// Root skips a test that needs root (it installs packages, or runs podman
// with the system's storage) when the user is not root, saying why; under
// E2EEnv, as `make test` runs on CI (as root), it fails instead.
func Root(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(E2EEnv) != "" {
		tb.Fatalf("needs root to %s; %s is set, so this test must run: run make test as root", why, E2EEnv)
	}
	tb.Skipf("needs root to %s; skipped (make test runs it as root)", why)
}
