package disttest_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

const (
	pkgName       = "spacetime-watch"
	installedUnit = "/lib/systemd/system/spacetime-watch.service"
	installedConf = "/etc/spacetime-watch/config.yaml"
)

// TestDebPackage builds the .deb with `make package`, lints it, installs it
// with dpkg, checks what it installed, and purges it: nothing may remain,
// not even the state and credentials a user would have added.
func TestDebPackage(t *testing.T) {
	testkit.Root(t, "install the .deb with dpkg")
	for _, tool := range []string{"dpkg", "lintian", "systemd-analyze", "bash"} {
		testkit.Tool(t, tool)
	}
	refuseExistingInstall(t)

	dist := makeTarget(t, "package")
	deb := filepath.Join(dist, pkgName+"_"+release(t)+"_"+strings.TrimSpace(mustRun(t, "dpkg", "--print-architecture"))+".deb")
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("make package did not write %s: %v", deb, err)
	}

	t.Run("lintian", func(t *testing.T) { checkLintian(t, deb) })

	mustRun(t, "dpkg", "-i", deb)
	t.Cleanup(func() { // a failed test must not leave the package behind
		if installed(t) {
			_, _ = run(t, 2*time.Minute, "dpkg", "-P", pkgName)
		}
	})
	files := installedFiles(t)
	for _, want := range []string{
		"/usr/bin/spacetime-watch", "/usr/bin/spacetime-sim", installedUnit, "/lib/systemd/system/spacetime-watch.socket", installedConf, "/etc/default/spacetime-watch",
		"/usr/share/bash-completion/completions/spacetime-watch", "/usr/share/zsh/vendor-completions/_spacetime-watch",
		"/usr/share/man/man1/spacetime-watch.1.gz", "/usr/share/doc/spacetime-watch/copyright", "/usr/share/doc/spacetime-watch/changelog.gz",
	} {
		if !slices.Contains(files, want) {
			t.Errorf("the package does not install %s; it installs %q", want, files)
		}
	}
	conffiles := mustRun(t, "dpkg-query", "-W", "-f=${Conffiles}", pkgName)
	for _, want := range []string{installedConf, "/etc/default/spacetime-watch"} {
		if !strings.Contains(conffiles, " "+want+" ") {
			t.Errorf("%s is not a conffile (an upgrade would overwrite the user's edits); conffiles:\n%s", want, conffiles)
		}
	}

	t.Run("version", func(t *testing.T) {
		checkVersionReport(t, mustRun(t, "/usr/bin/spacetime-watch", "--version"))
	})
	t.Run("unit", func(t *testing.T) {
		about, out, err := testkit.SystemdVerify(t, installedUnit)
		if err != nil || len(about) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", installedUnit, err, out)
		}
		exposure, exposed := testkit.SystemdExposure(t, installedUnit)
		if exposure > testkit.MaxSystemdExposure {
			t.Errorf("installed unit's exposure %.1f > %.1f:\n%s", exposure, testkit.MaxSystemdExposure, exposed)
		}
		unit, err := os.ReadFile(installedUnit)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(unit), "\nExecStart=/usr/bin/spacetime-watch run ") {
			t.Errorf("the installed unit does not run /usr/bin/spacetime-watch:\n%s", unit)
		}
	})
	t.Run("check-config", func(t *testing.T) {
		out := mustRun(t, "/usr/bin/spacetime-watch", "check-config", "--config.file="+installedConf)
		if !strings.Contains(out, installedConf+": OK") {
			t.Errorf("check-config on the installed config:\n%s", out)
		}
	})
	t.Run("completion", func(t *testing.T) {
		for _, c := range []struct {
			line []string
			want string
		}{
			{[]string{"spacetime-watch", ""}, "silence"},
			{[]string{"spacetime-watch", "silence", "add", "--"}, "--daemon.url"},
			{[]string{"spacetime-watch", "--log.level", ""}, "debug"},
		} {
			if got := bashComplete(t, c.line); !slices.Contains(got, c.want) {
				t.Errorf("bash completion of %q offers %q, not %s", c.line, got, c.want)
			}
		}
	})
	t.Run("man", func(t *testing.T) {
		testkit.Tool(t, "man")
		out, err := run(t, 2*time.Minute, "man", "--warnings", "-l", "/usr/share/man/man1/spacetime-watch.1.gz")
		if err != nil || strings.Contains(out, "warning") {
			t.Errorf("man spacetime-watch: %v\n%s", err, out)
		}
		for _, want := range []string{"spacetime-watch - watch SpaceTime VR deployments", "silence add", "--daemon.url", "check-config"} {
			if !strings.Contains(out, want) {
				t.Errorf("the man page lacks %q", want)
			}
		}
	})

	// What a user adds: state (systemd creates it for the service,
	// DynamicUser's layout), a secret, an edit to the config.
	for _, dir := range []string{"/var/lib/private/spacetime-watch", "/etc/spacetime-watch/credentials"} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("private/spacetime-watch", "/var/lib/spacetime-watch"); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{
		"/var/lib/private/spacetime-watch/state.db":  "state",
		"/etc/spacetime-watch/credentials/api-token": "token\n",
		installedConf: "# edited\nalerting:\n  sinks:\n    - {name: journal, type: console}\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	mustRun(t, "dpkg", "-P", pkgName)
	if installed(t) {
		t.Errorf("dpkg -P left %s installed", pkgName)
	}
	var left []string
	for _, p := range append(files, "/etc/spacetime-watch", "/usr/share/doc/spacetime-watch", "/var/lib/spacetime-watch", "/var/lib/private/spacetime-watch") {
		if _, err := os.Lstat(p); err == nil && !sharedDir(p) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("dpkg -P left behind: %q", left)
	}
}

// refuseExistingInstall stops the test where it would disturb a real
// installation: the test installs and purges a package of the same name.
func refuseExistingInstall(t *testing.T) {
	t.Helper()
	if installed(t) {
		t.Fatalf("a %s package is installed on this machine; the test installs and purges its own: remove it first (dpkg -P %s)", pkgName, pkgName)
	}
	for _, p := range []string{"/etc/spacetime-watch", "/usr/bin/spacetime-watch", "/var/lib/spacetime-watch", "/var/lib/private/spacetime-watch"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("%s exists: spacetime-watch is installed here by hand; the test installs and purges the package, which would take it: run the test elsewhere", p)
		}
	}
}

// installed says whether dpkg knows the package as installed.
func installed(t *testing.T) bool {
	t.Helper()
	out, err := run(t, 2*time.Minute, "dpkg-query", "-W", "-f=${Status}", pkgName)
	return err == nil && strings.Contains(out, "installed") && !strings.Contains(out, "not-installed")
}

// installedFiles is dpkg -L's list, without the directories other packages
// share (/usr, /usr/bin, ...).
func installedFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, p := range strings.Fields(mustRun(t, "dpkg", "-L", pkgName)) {
		if !sharedDir(p) {
			files = append(files, p)
		}
	}
	return files
}

// sharedDir tells the directories the package puts files in but does not own.
func sharedDir(p string) bool {
	if !strings.HasPrefix(p, "/") || p == "/." {
		return true
	}
	fi, err := os.Stat(p) // follows /lib -> usr/lib on a merged /usr
	return err == nil && fi.IsDir() && !strings.Contains(p, "spacetime-watch")
}

// checkLintian runs lintian on the .deb: no error, and the package's
// overrides hide nothing but the static Go binaries.
func checkLintian(t *testing.T, deb string) {
	out, _ := run(t, 2*time.Minute, "lintian", "--tag-display-limit", "0", deb) // exits non-zero on errors; the lines say which
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "E: ") {
			t.Errorf("lintian: %s", strings.TrimSpace(line))
		}
	}
	t.Logf("lintian:\n%s", out)
	overrides, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "deb", "lintian-overrides"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(overrides)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, pkgName+": statically-linked-binary ") {
			t.Errorf("deploy/deb/lintian-overrides hides %q; fix what lintian reports instead", line)
		}
	}
}

// bashComplete runs the installed bash completion for a command line whose
// last word is the one being completed, as bash does on TAB.
func bashComplete(t *testing.T, line []string) []string {
	t.Helper()
	quoted := make([]string, len(line))
	for i, w := range line {
		quoted[i] = "'" + w + "'"
	}
	script := "source /usr/share/bash-completion/completions/spacetime-watch\n" +
		"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
		"COMP_CWORD=" + strconv.Itoa(len(line)-1) + "\n" +
		"_spacetime-watch_bash_autocomplete\n" +
		`printf '%s\n' "${COMPREPLY[@]}"` + "\n"
	return strings.Fields(mustRun(t, "bash", "--norc", "--noprofile", "-c", script))
}
