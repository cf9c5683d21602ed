package version

import (
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	common "github.com/prometheus/common/version"
)

// TestVersionFileMatchesChangelog keeps the two places that name a release
// in step: VERSION, which make build stamps into the binaries and packages,
// and the top released entry of CHANGELOG.md (Keep a Changelog's
// "## [x.y.z] - date"; [Unreleased] is not a release). A Debian version must
// start with a digit, so a "v" prefix is refused.
func TestVersionFileMatchesChangelog(t *testing.T) {
	raw, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(raw))
	if !regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$`).MatchString(v) || string(raw) != v+"\n" {
		t.Fatalf("VERSION = %q, want one line x.y.z (semantic version, starting with a digit)", raw)
	}
	changelog, err := os.ReadFile("../../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	var top string
	for _, m := range regexp.MustCompile(`(?m)^## \[([^\]]+)\](.*)$`).FindAllStringSubmatch(string(changelog), -1) {
		if m[1] == "Unreleased" {
			continue
		}
		if !regexp.MustCompile(`^ - [0-9]{4}-[0-9]{2}-[0-9]{2}$`).MatchString(m[2]) {
			t.Errorf("CHANGELOG.md: %q: want \"## [%s] - YYYY-MM-DD\"", m[0], m[1])
		}
		top = m[1]
		break
	}
	if top != v {
		t.Errorf("CHANGELOG.md's top release is %q, VERSION says %q: add the release's entry, or bump VERSION", top, v)
	}
}

// TestBuildInfo checks that spacetime_watch_build_info carries the
// Prometheus projects' labels, with the values --version prints.
func TestBuildInfo(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "spacetime_watch_build_info" || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gathered %v, want one spacetime_watch_build_info sample", mfs)
	}
	m := mfs[0].GetMetric()[0]
	if m.GetGauge().GetValue() != 1 {
		t.Errorf("value %v, want 1", m.GetGauge().GetValue())
	}
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	want := map[string]string{
		"version":   Version(),
		"revision":  common.GetRevision(),
		"branch":    common.Branch,
		"goversion": runtime.Version(),
		"goos":      runtime.GOOS,
		"goarch":    runtime.GOARCH,
		"tags":      common.GetTags(),
	}
	if len(got) != len(want) {
		t.Errorf("labels %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if Version() == "" {
		t.Error("version label is empty; an unstamped build must still say what it is")
	}
}

// TestPrint checks the Prometheus format of --version, line by line.
func TestPrint(t *testing.T) {
	out := Print("spacetime-watch")
	lines := strings.Split(out, "\n")
	wantPrefixes := []string{
		"spacetime-watch, version " + Version() + " (branch: " + common.Branch + ", revision: " + common.GetRevision() + ")",
		"  build user:       " + common.BuildUser,
		"  build date:       " + common.BuildDate,
		"  go version:       " + runtime.Version(),
		"  platform:         " + runtime.GOOS + "/" + runtime.GOARCH,
		"  tags:             ",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("Print has %d lines, want %d:\n%s", len(lines), len(wantPrefixes), out)
	}
	for i, w := range wantPrefixes {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], w)
		}
	}
}

// TestFallback: an unstamped build names the go command's module version,
// or "dev" when there is none.
func TestFallback(t *testing.T) {
	for _, c := range []struct {
		main string
		ok   bool
		want string
	}{
		{"v0.0.0-20261207080813-b241497abcde+dirty", true, "v0.0.0-20261207080813-b241497abcde+dirty"},
		{"(devel)", true, "dev"},
		{"", true, "dev"},
		{"v1.2.3", false, "dev"},
	} {
		info := &debug.BuildInfo{Main: debug.Module{Version: c.main}}
		if got := fallback(info, c.ok); got != c.want {
			t.Errorf("fallback(%q, %v) = %q, want %q", c.main, c.ok, got, c.want)
		}
	}
}
