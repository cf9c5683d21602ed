package testkit

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BuildWithFailpoints builds the command pkg (an import path or a path
// relative to the test's package) with the failpoints build tag into a
// temporary directory and returns the binary's path. make test does not
// build the tests with the tag, so a test that breaks a process on purpose
// (package failpoint) builds its child this way.
func BuildWithFailpoints(tb testing.TB, pkg string) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("building %s with -tags failpoints needs the go command: %v", pkg, err)
	}
	bin := filepath.Join(tb.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(tb.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-tags", "failpoints", "-o", bin, pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build -tags failpoints %s: %v\n%s", pkg, err, out)
	}
	return bin
}
