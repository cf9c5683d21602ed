package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pollEvery is how often Eventually asks again.
const pollEvery = 20 * time.Millisecond

// Eventually polls cond every 20 ms until it holds, and fails the test
// when timeout passes first, naming what was awaited and what cond last
// saw. It is for conditions outside the test's control (a daemon's
// loops, a socket); a test that drives a clock waits on the clock.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last seen: %s", what, timeout, seen)
		}
		time.Sleep(pollEvery)
	}
}

// WriteFile writes content to path (mode 0600, as secrets are), failing
// the test on error, and returns path.
func WriteFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteFileIn writes content to name under dir, and returns the path.
func WriteFileIn(t testing.TB, dir, name, content string) string {
	t.Helper()
	return WriteFile(t, filepath.Join(dir, name), content)
}
