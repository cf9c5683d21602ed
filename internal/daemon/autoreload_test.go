package daemon_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestAutoReload: with --config.auto-reload, writing the file reloads it,
// and so does a ConfigMap update, which swaps the ..data symlink to a new
// directory and never writes the file the config path names.
func TestAutoReload(t *testing.T) {
	t.Parallel()
	alpha, beta, dir, _ := reloadSetup(t)

	t.Run("a write", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}))
		d := startDaemon(t, cfg, daemonSetup{autoReload: true})
		testkit.WriteFile(t, cfg, configYAML(t, dir, simTarget{"alpha", alpha}, simTarget{"beta", beta}))
		testkit.Eventually(t, 5*time.Second, "beta watched after the write", func() (bool, string) {
			names := targetNames(d.status())
			return names == "alpha,beta", names
		})
	})

	t.Run("a ConfigMap symlink swap", func(t *testing.T) {
		// The kubelet's layout: config.yaml -> ..data/config.yaml,
		// ..data -> ..<timestamp>; an update writes a new ..<timestamp>
		// and renames a new ..data over the old one.
		mount := t.TempDir()
		version := func(name, content string) {
			if err := os.Mkdir(filepath.Join(mount, name), 0o700); err != nil {
				t.Fatal(err)
			}
			testkit.WriteFileIn(t, filepath.Join(mount, name), "config.yaml", content)
			tmp := filepath.Join(mount, "..data_tmp")
			if err := os.Symlink(name, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(mount, "..data")); err != nil {
				t.Fatal(err)
			}
		}
		version("..2026_01_01_00_00_00.1", configYAML(t, dir, simTarget{"alpha", alpha}))
		cfg := filepath.Join(mount, "config.yaml")
		if err := os.Symlink(filepath.Join("..data", "config.yaml"), cfg); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, cfg, daemonSetup{autoReload: true})
		version("..2026_01_01_00_00_00.2", configYAML(t, dir, simTarget{"beta", beta}))
		testkit.Eventually(t, 5*time.Second, "beta alone watched after the swap", func() (bool, string) {
			names := targetNames(d.status())
			return names == "beta", names
		})
	})
}
