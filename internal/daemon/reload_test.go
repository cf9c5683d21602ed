package daemon_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestReload walks the SIGHUP path: a bad file leaves the old config
// running (its target still checked) and sets the reload metric to 0; a
// good file adding a target starts it (its series appear); a file removing
// the first target stops it (every series of it disappears); the metric is
// back to 1.
func TestReload(t *testing.T) {
	t.Parallel()
	alpha, beta, dir, cfg := reloadSetup(t)
	d := startDaemon(t, cfg, daemonSetup{})
	isAlpha := map[string]string{"target": "alpha"}
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", isAlpha, 1)
	reloadOK := func(v float64) {
		t.Helper()
		waitValue(t, d.reg, 5*time.Second, "spacetime_watch_config_last_reload_successful", nil, v)
	}

	t.Run("a bad file leaves the old config running", func(t *testing.T) {
		// The acceptance file's three problems, on top of a valid target.
		testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha})+"    colour: blue\n")
		sent := time.Now()
		d.sendReload()
		reloadOK(0)
		// Rounds go on with the old config: a round after the reload.
		testkit.Eventually(t, 5*time.Second, "a round of alpha after the failed reload", func() (bool, string) {
			st := d.status()
			if len(st.Targets) != 1 {
				return false, fmt.Sprint(st.Targets)
			}
			return st.Targets[0].LastRound.After(sent), st.Targets[0].LastRound.String()
		})
		if v, _ := value(gather(t, d.reg), "spacetime_up", isAlpha); v != 1 {
			t.Errorf("spacetime_up{target=alpha} = %v after the failed reload, want 1", v)
		}
	})

	t.Run("a second target starts", func(t *testing.T) {
		testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}, simTarget{"beta", beta}))
		d.sendReload()
		reloadOK(1)
		waitValue(t, d.reg, 10*time.Second, "spacetime_up", map[string]string{"target": "beta"}, 1)
		waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", map[string]string{"target": "beta"}, 1)
		if names := targetNames(d.status()); names != "alpha,beta" {
			t.Errorf("status targets %s, want alpha,beta", names)
		}
	})

	t.Run("a removed target's series disappear", func(t *testing.T) {
		if n := seriesOf(gather(t, d.reg), "alpha"); n == 0 {
			t.Fatal("alpha has no series before its removal: the test would prove nothing")
		}
		testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"beta", beta}))
		d.sendReload()
		reloadOK(1)
		testkit.Eventually(t, 5*time.Second, "no series with target=alpha", func() (bool, string) {
			n := seriesOf(gather(t, d.reg), "alpha")
			return n == 0, fmt.Sprintf("%d series", n)
		})
		// Removed for good: a later round of beta does not bring alpha back.
		removed := time.Now()
		testkit.Eventually(t, 5*time.Second, "a round of beta after alpha's removal", func() (bool, string) {
			st := d.status()
			return len(st.Targets) == 1 && st.Targets[0].LastRound.After(removed), targetNames(st)
		})
		_, body := d.get("/metrics")
		if strings.Contains(body, `target="alpha"`) {
			t.Errorf("/metrics still carries alpha after its removal")
		}
		if names := targetNames(d.status()); names != "beta" {
			t.Errorf("status targets %s, want beta", names)
		}
	})
}

// targetNames lists the status's targets, comma-separated.
func targetNames(st daemon.StatusResponse) string {
	names := make([]string, 0, len(st.Targets))
	for _, tg := range st.Targets {
		names = append(names, tg.Name)
	}
	return strings.Join(names, ",")
}

// reloadSetup starts two simulated instances and writes a config watching
// the first, alpha, in a new dir; it returns both and the config's path.
func reloadSetup(t *testing.T) (alpha, beta *sim.Sim, dir, cfg string) {
	t.Helper()
	alpha = simtest.Start(t, sim.Options{})
	beta = simtest.Start(t, sim.Options{})
	dir = t.TempDir()
	cfg = filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}))
	return alpha, beta, dir, cfg
}
