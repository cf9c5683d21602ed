// Package disttest checks what `make package` and `make image` produce, as
// a user receives it: the Debian package installed with dpkg on this
// machine, linted, run, verified by systemd-analyze and purged; the
// container image inspected with podman and its binary run from the
// exported filesystem.
//
// Both install or build system-wide (dpkg's database, podman's root
// storage), so they need root: elsewhere they skip, saying so, and under
// `make test` (SPACETIME_WATCH_E2E=1, as root on CI) they must run. The
// tools (lintian, podman) come from scripts/install-test-deps.sh. The tests
// run one after the other: they share one `make build` output.
package disttest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the module root, where the Makefile is.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// outDir holds make's BIN and DIST for this test binary; TestMain removes it.
var outDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spacetime-watch-disttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// makeTarget runs `make target` in the module root, writing the binaries
// and artefacts under outDir instead of bin/ and dist/, and returns the
// DIST directory.
func makeTarget(t *testing.T, target string, vars ...string) string {
	t.Helper()
	dist := filepath.Join(outDir, "dist")
	args := append([]string{"-C", repoRoot, target, "BIN=" + filepath.Join(outDir, "bin"), "DIST=" + dist}, vars...)
	out, err := run(t, 8*time.Minute, "make", args...)
	if err != nil {
		t.Fatalf("make %s: %v\n%s", target, err, out)
	}
	return dist
}

// run runs a command with a bound and returns its combined output.
func run(t *testing.T, bound time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// mustRun is run for commands that must succeed.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, 2*time.Minute, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// release is the version in VERSION, which both artefacts must carry.
func release(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// headRevision is the commit make build stamps (git rev-parse HEAD), or ""
// outside a git checkout.
func headRevision(t *testing.T) string {
	t.Helper()
	out, err := run(t, 30*time.Second, "git", "-C", repoRoot, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// checkVersionReport checks the first line of a --version report: the
// release from VERSION and the git revision, stamped by make build.
func checkVersionReport(t *testing.T, out string) {
	t.Helper()
	first, _, _ := strings.Cut(out, "\n")
	want := "spacetime-watch, version " + release(t) + " (branch: "
	if !strings.HasPrefix(first, want) {
		t.Errorf("--version's first line = %q, want it to start with %q", first, want)
	}
	if rev := headRevision(t); rev != "" && !strings.Contains(first, "revision: "+rev) {
		t.Errorf("--version's first line = %q, want revision %s (git HEAD)", first, rev)
	}
	for _, field := range []string{"build user:", "build date:"} {
		if !strings.Contains(out, field) || strings.Contains(out, field+"       \n") {
			t.Errorf("--version has no %s value:\n%s", field, out)
		}
	}
}
