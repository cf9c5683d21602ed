package testkit

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MaxSystemdExposure is the bar for `systemd-analyze security` on the
// daemon's unit, wherever it is installed from.
const MaxSystemdExposure = 2.0

// SystemdAnalyze runs systemd-analyze (Debian package systemd; it reads unit
// files and needs no running systemd) with a 30 s bound and returns its
// combined output. Colours and the pager are off, so that the output parses.
func SystemdAnalyze(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	analyze := Tool(tb, "systemd-analyze")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, analyze, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// SystemdVerify runs `systemd-analyze verify` on the unit file at path and
// returns the lines of its output that name the unit (others are the host's
// business), and the whole output for a failure message. verify exits 0
// even after warnings, so a caller wants no line at all.
func SystemdVerify(tb testing.TB, path string) (about []string, out string, err error) {
	tb.Helper()
	out, err = SystemdAnalyze(tb, "verify", "--man=no", path)
	name := strings.TrimSuffix(path[strings.LastIndex(path, "/")+1:], ".service")
	for line := range strings.Lines(out) {
		if strings.Contains(line, name) {
			about = append(about, strings.TrimSpace(line))
		}
	}
	return about, out, err
}

// SystemdExposure rates the unit file at path with `systemd-analyze
// security --offline=true` and returns the overall exposure level and the
// settings it counts against the unit (the table's ✗ lines). It fails the
// test when the output has no level.
func SystemdExposure(tb testing.TB, path string) (float64, string) {
	tb.Helper()
	out, err := SystemdAnalyze(tb, "security", "--offline=true", "--no-pager", path)
	unit := path[strings.LastIndex(path, "/")+1:]
	m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(unit) + `: ([0-9]+(?:\.[0-9]+)?)`).FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("no overall exposure level in systemd-analyze security's output (%v):\n%s", err, out)
	}
	exposure, perr := strconv.ParseFloat(m[1], 64)
	if perr != nil {
		tb.Fatal(perr)
	}
	var exposed strings.Builder
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "✗") {
			exposed.WriteString(line)
		}
	}
	return exposure, exposed.String()
}
