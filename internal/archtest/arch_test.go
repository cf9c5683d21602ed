// Package archtest holds tests that keep the project's layering honest: the
// rooms of the house import only the rooms below them. config, store and
// labels sit at the bottom and import none of the packages that use them;
// spacetime (the client, which knows the instance's quirks) and sim (a second,
// independent implementation of the wire format) never import each other, and
// spacetime knows nothing of monitoring or alerts; review sits below monitor,
// which feeds it; alert never imports monitor, because the daemon adapts
// monitor's events for it. TestLayering lists each rule with its reason.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/spacetime-vr/spacetime-watch"

// deps lists the packages pkg imports, directly or not (tests excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+"/"+pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func TestLayering(t *testing.T) {
	rules := []struct {
		pkg       string
		forbidden []string
		why       string
	}{
		{"internal/sim", []string{"internal/spacetime"}, "the simulator is a second, independent implementation of the wire format"},
		{"internal/spacetime", []string{"internal/sim", "internal/monitor", "internal/alert"}, "the client knows the instance's quirks and nothing of alerts"},
		{"internal/config", []string{"internal/sim", "internal/spacetime", "internal/monitor", "internal/alert", "internal/store"}, "config sits at the bottom of the house"},
		{"internal/alert", []string{"internal/monitor", "internal/daemon", "internal/sim", "internal/spacetime"}, "alert never imports monitor: the daemon adapts monitor events to event.Event"},
		{"internal/review", []string{"internal/monitor", "internal/alert", "internal/daemon", "internal/sim", "internal/spacetime"}, "reviews sit below the monitor, which feeds them"},
		{"internal/labels", []string{"internal/config", "internal/alert", "internal/monitor", "internal/store", "internal/daemon"}, "matchers mean the same to config, alert and the daemon, so they sit below all three"},
		{"internal/store", []string{"internal/sim", "internal/spacetime", "internal/monitor", "internal/alert", "internal/config"}, "one place owns the schema, and it sits at the bottom of the house"},
	}
	for _, r := range rules {
		t.Run(strings.ReplaceAll(r.pkg, "/", "_"), func(t *testing.T) {
			for _, d := range deps(t, r.pkg) {
				for _, f := range r.forbidden {
					if d == module+"/"+f {
						t.Errorf("%s imports %s: forbidden because %s", r.pkg, f, r.why)
					}
				}
			}
		})
	}
}
