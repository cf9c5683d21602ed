// Package systemd_test checks the bare-metal deployment in this directory:
// spacetime-watch.service and spacetime-watch.default. systemd must accept
// the unit, systemd-analyze must rate its exposure 2.0 or below, the
// hardening must leave the daemon its network, and the command line the
// unit runs must start the real daemon, which must speak the notify
// protocol, honour the exit statuses and read the credentials the unit
// declares.
//
// systemd-analyze (Debian package systemd) runs without a running systemd:
// verify and security --offline read the unit file alone. Under `make test`
// (SPACETIME_WATCH_E2E=1) a missing systemd-analyze is a failure, elsewhere
// a skip (testkit.Tool). No test starts a systemd instance.
package systemd_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

const (
	unitName = "spacetime-watch.service"
	// socketName is the optional socket-activation unit.
	socketName = "spacetime-watch.socket"
	// binPath is where the unit expects the binary; tests substitute a
	// freshly built one.
	binPath = "/usr/local/bin/spacetime-watch"
)

// ---------------------------------------------------------------------------
// Static checks of the unit's contract.

// TestUnitContract pins what the daemon and the README rely on: the notify
// protocol and watchdog, no crash loop on exit 3, 4 or 5, SIGHUP for reload, a
// stop timeout above the daemon's 10 s shutdown, the dynamic user with its
// state and config directories, and the flags file.
func TestUnitContract(t *testing.T) {
	u := readUnit(t, unitName)
	for _, c := range []struct{ key, want string }{
		{"Type", "notify"},
		{"NotifyAccess", "main"},
		{"Restart", "on-failure"},
		{"DynamicUser", "yes"},
		{"StateDirectory", "spacetime-watch"},
		{"StateDirectoryMode", "0700"},
		{"ConfigurationDirectory", "spacetime-watch"},
		{"EnvironmentFile", "-/etc/default/spacetime-watch"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"CapabilityBoundingSet", ""},
		{"AmbientCapabilities", ""},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
	} {
		if got, ok := u.last("Service", c.key); !ok || got != c.want {
			t.Errorf("[Service] %s = %q (set: %v), want %q", c.key, got, ok, c.want)
		}
	}
	for _, c := range []struct {
		key  string
		want time.Duration
		cmp  string // "==" or ">"
	}{
		{"WatchdogSec", 60 * time.Second, "=="},
		{"RestartSec", 5 * time.Second, "=="},
		// reliability scenario 17: the daemon exits within 10 s of SIGTERM; the unit
		// must give it that and more before SIGKILL.
		{"TimeoutStopSec", 10 * time.Second, ">"},
	} {
		got := u.duration(t, "Service", c.key)
		if (c.cmp == "==" && got != c.want) || (c.cmp == ">" && got <= c.want) {
			t.Errorf("[Service] %s = %v, want %s %v", c.key, got, c.cmp, c.want)
		}
	}
	prevent := strings.Fields(strings.Join(u.all("Service", "RestartPreventExitStatus"), " "))
	for _, code := range []int{cli.ExitBadConfig, cli.ExitLocked, cli.ExitCannotRun} {
		if !slices.Contains(prevent, strconv.Itoa(code)) {
			t.Errorf("RestartPreventExitStatus = %v, want it to contain %d (a restart cannot fix it: no crash loop)", prevent, code)
		}
	}

	argv := execStart(t, u)
	if argv[0] != binPath || len(argv) < 2 || argv[1] != "run" {
		t.Errorf("ExecStart = %q, want %s run …", argv, binPath)
	}
	for _, want := range []string{"--config.file=${CONFIGURATION_DIRECTORY}/config.yaml", "--state.dir=${STATE_DIRECTORY}", "$SPACETIME_WATCH_ARGS"} {
		if !slices.Contains(argv, want) {
			t.Errorf("ExecStart = %q, want the word %s", argv, want)
		}
	}
}

// TestUnitKeepsNetwork guards the daemon's network against hardening zeal:
// it must reach its instances (loopback or LAN) and Slack or Alertmanager
// (the internet), so no private network, no blanket IP deny list, and
// AF_INET/AF_INET6 in an allow list of address families.
func TestUnitKeepsNetwork(t *testing.T) {
	u := readUnit(t, unitName)
	if v, ok := u.last("Service", "PrivateNetwork"); ok && isTrue(v) {
		t.Errorf("PrivateNetwork=%s cuts the daemon off its instances and Slack", v)
	}
	for _, key := range []string{"NetworkNamespacePath", "JoinsNamespaceOf", "RestrictNetworkInterfaces"} {
		for _, section := range []string{"Unit", "Service"} {
			if v, ok := u.last(section, key); ok && v != "" {
				t.Errorf("[%s] %s=%s confines the daemon's network", section, key, v)
			}
		}
	}
	for _, v := range effective(u.all("Service", "IPAddressDeny")) {
		for _, f := range strings.Fields(v) {
			if f == "any" || f == "0.0.0.0/0" || f == "::/0" {
				t.Errorf("IPAddressDeny=%s blocks egress to Slack and Alertmanager; deny specific ranges only", v)
			}
		}
	}
	families := effective(u.all("Service", "RestrictAddressFamilies"))
	var allowed []string
	for _, v := range families {
		if strings.HasPrefix(v, "~") {
			t.Errorf("RestrictAddressFamilies=%s: want an allow list", v)
			continue
		}
		allowed = append(allowed, strings.Fields(v)...)
	}
	if len(families) == 0 {
		t.Error("RestrictAddressFamilies is not set; want AF_INET AF_INET6 AF_UNIX")
	}
	for _, f := range []string{"AF_INET", "AF_INET6", "AF_UNIX"} { // AF_UNIX: sd_notify and the journal
		if !slices.Contains(allowed, f) {
			t.Errorf("RestrictAddressFamilies allows %v, want %s among them", allowed, f)
		}
	}
}

// TestCredentials checks that every credential the example config reads
// (${CREDENTIALS_DIRECTORY}/<id>, commented examples included) is one the
// unit loads, from /etc/spacetime-watch/credentials/<id>, and that each has
// a SetCredential= fallback, so that a missing optional file does not fail
// the start.
func TestCredentials(t *testing.T) {
	u := readUnit(t, unitName)
	loaded := credentials(t, u)
	example, err := os.ReadFile(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([A-Za-z0-9_.-]+)`).FindAllSubmatch(example, -1)
	if len(refs) == 0 {
		t.Fatal("deploy/config.example.yaml names no ${CREDENTIALS_DIRECTORY}/… file; the test expects the systemd examples there")
	}
	for _, m := range refs {
		if _, ok := loaded[string(m[1])]; !ok {
			t.Errorf("config.example.yaml reads ${CREDENTIALS_DIRECTORY}/%s, which the unit does not load (LoadCredential=%s:…)", m[1], m[1])
		}
	}
	for _, id := range []string{"api-token", "performance-token", "slack-webhook", "slack-bot-token"} {
		c, ok := loaded[id]
		switch {
		case !ok:
			t.Errorf("the unit does not load credential %s", id)
		case c.path != "/etc/spacetime-watch/credentials/"+id:
			t.Errorf("credential %s comes from %s, want /etc/spacetime-watch/credentials/%s (the README's layout)", id, c.path, id)
		case !c.hasFallback:
			t.Errorf("credential %s has no SetCredential=%s:… fallback: a missing file would fail the start with 243/CREDENTIALS", id, id)
		case strings.TrimSpace(c.fallback) != "":
			t.Errorf("credential %s falls back to %q; want whitespace only, which the daemon reports as empty", id, c.fallback)
		}
	}
}

// ---------------------------------------------------------------------------
// systemd-analyze.

// TestVerify runs systemd-analyze verify on the unit with the binary path
// pointing at a freshly built spacetime-watch. verify exits 0 even after
// warnings, so any line that names the unit fails the test; no such line
// is known to be benign. The broken copies prove the test can fail.
func TestVerify(t *testing.T) {
	testkit.Tool(t, "systemd-analyze")
	bin := buildDaemon(t)
	unit, err := os.ReadFile(unitName)
	if err != nil {
		t.Fatal(err)
	}
	withBin := strings.ReplaceAll(string(unit), binPath, bin)
	for _, c := range []struct {
		name     string
		unit     string
		wantLine string // "" = verify must be silent about the unit
	}{
		{"shipped unit", withBin, ""},
		{"unknown key", strings.Replace(withBin, "\nType=notify", "\nTpye=notify", 1), "Unknown key"},
		{"bad time span", strings.Replace(withBin, "\nWatchdogSec=60", "\nWatchdogSec=sixty", 1), "sixty"},
		{"missing binary", strings.ReplaceAll(string(unit), binPath, "/nonexistent/spacetime-watch"), "not executable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), unitName)
			if err := os.WriteFile(path, []byte(c.unit), 0o644); err != nil {
				t.Fatal(err)
			}
			about, out, runErr := testkit.SystemdVerify(t, path)
			if c.wantLine == "" {
				if runErr != nil || len(about) > 0 {
					t.Errorf("systemd-analyze verify: %v\n%s", runErr, out)
				}
				return
			}
			if !slices.ContainsFunc(about, func(l string) bool { return strings.Contains(l, c.wantLine) }) {
				t.Errorf("systemd-analyze verify said nothing with %q about the broken unit:\n%s", c.wantLine, out)
			}
		})
	}
}

// TestSecurityExposure runs systemd-analyze security --offline=true and
// wants an overall exposure of 2.0 or below. It prints the figure as
// "systemd exposure: N" for `make test` to show.
func TestSecurityExposure(t *testing.T) {
	testkit.Tool(t, "systemd-analyze")
	path := filepath.Join(t.TempDir(), unitName)
	unit, err := os.ReadFile(unitName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	exposure, exposed := testkit.SystemdExposure(t, path)
	t.Logf("systemd exposure: %.1f", exposure)
	fmt.Printf("systemd exposure: %.1f\n", exposure)
	if exposure > testkit.MaxSystemdExposure {
		t.Errorf("exposure %.1f > %.1f; the exposed settings:\n%s", exposure, testkit.MaxSystemdExposure, exposed)
	}
}

// ---------------------------------------------------------------------------
// The unit's command line, run the way systemd would run it.

// TestDefaultFileFlags checks that the flags file's value, and the example
// in its comments, are flags `spacetime-watch run` accepts (kingpin rejects
// an unknown flag before it prints --help).
func TestDefaultFileFlags(t *testing.T) {
	bin := buildDaemon(t)
	active, examples := defaultArgs(t)
	for name, args := range map[string]string{"active value": active, "commented example": examples[0]} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), bin, append(append([]string{"run"}, strings.Fields(args)...), "--help")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("spacetime-watch run %s --help: %v\n%s", args, err, lastLines(string(out), 5))
			}
		})
	}
}

// TestDaemonUnderUnitCommandLine runs the daemon as systemd would run the
// unit: ExecStart expanded with the variables systemd sets and the flags
// file's value, a clean environment, a notify socket, the watchdog on, and
// a credentials directory filled by the unit's LoadCredential= and
// SetCredential= rules. It then plays systemd's part: waits for READY=1 and
// WATCHDOG=1, starts a second copy (exit 4, which the unit does not
// restart), reloads with the unit's ExecReload signal, stops with SIGTERM
// (STOPPING=1, exit 0 within TimeoutStopSec), and sweeps the output, which
// is what the journal and `systemctl status` would show, for the secrets
// (reliability scenario 17, 19).
func TestDaemonUnderUnitCommandLine(t *testing.T) {
	bin := buildDaemon(t)
	u := readUnit(t, unitName)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer slack.Close()
	secrets := map[string]string{
		"api-token":     "sentinel-api-token-7f3a9c",
		"slack-webhook": slack.URL + "/services/T000/B000/sentinel-webhook-1b2c3d",
	}
	h := newHost(t, u, secrets)

	d := h.start(t, bin)
	d.waitNotify(t, "READY=1", 10*time.Second)
	d.waitNotify(t, "WATCHDOG=1", 10*time.Second)

	// A second daemon on the same state dir: exit 4, not restarted.
	second := h.start(t, bin)
	if code := second.wait(t, 10*time.Second); code != 4 {
		t.Errorf("second daemon on the same state dir exited %d, want 4 (locked)\n%s", code, lastLines(second.output(), 5))
	}

	// ExecReload: /bin/kill -HUP $MAINPID.
	mark := len(d.output())
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, mark, "config reloaded", 10*time.Second)

	// systemctl stop: SIGTERM, then SIGKILL after TimeoutStopSec.
	stopTimeout := u.duration(t, "Service", "TimeoutStopSec")
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t, stopTimeout); code != 0 {
		t.Errorf("daemon exited %d after SIGTERM, want 0\n%s", code, lastLines(d.output(), 10))
	}
	d.waitNotify(t, "STOPPING=1", time.Second)

	for _, p := range []*process{d, second} {
		for id, secret := range secrets {
			if strings.Contains(p.output(), secret) || strings.Contains(p.output(), secret[strings.LastIndex(secret, "/")+1:]) {
				t.Errorf("the daemon's output (the journal) shows the %s credential", id)
			}
		}
	}
}

// TestMissingCredentialStartsUnhealthy starts the daemon with a Slack sink
// whose credential file does not exist: systemd hands the daemon the
// unit's SetCredential= fallback (an empty file). The daemon must start
// anyway (a restart would not create the file, and in a sidecar a crash
// loop holds the game pod back), with that sink unhealthy and the journal
// naming the file to fill; it reads the file again at each attempt.
func TestMissingCredentialStartsUnhealthy(t *testing.T) {
	bin := buildDaemon(t)
	u := readUnit(t, unitName)
	h := newHost(t, u, map[string]string{"api-token": "sentinel-api-token-7f3a9c"})
	d := h.start(t, bin)
	d.waitNotify(t, "READY=1", 10*time.Second)
	file := filepath.Join(h.credentials, "slack-webhook")
	d.waitFor(t, "the journal naming the empty credential file", func() bool {
		out := d.output()
		return strings.Contains(out, file) && strings.Contains(out, "empty")
	}, 10*time.Second)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t, u.duration(t, "Service", "TimeoutStopSec")); code != 0 {
		t.Errorf("daemon exited %d after SIGTERM, want 0\n%s", code, lastLines(d.output(), 10))
	}
}

// TestUnwritableStateDirNotRestarted: a state dir the daemon cannot write
// (here a file where StateDirectory= should be: the tests run as root, whom
// permissions do not stop) makes it exit with a status the unit's
// RestartPreventExitStatus lists, so systemd does not restart it every
// RestartSec, and the journal names the dir.
func TestUnwritableStateDirNotRestarted(t *testing.T) {
	bin := buildDaemon(t)
	u := readUnit(t, unitName)
	h := newHost(t, u, map[string]string{"api-token": "sentinel-api-token-7f3a9c", "slack-webhook": "https://hooks.slack.com/services/T000/B000/sentinel"})
	stateDir := filepath.Join(h.root, "var", "lib", "spacetime-watch")
	if err := os.Remove(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := h.start(t, bin)
	code := d.wait(t, 10*time.Second)
	prevent := strings.Fields(strings.Join(u.all("Service", "RestartPreventExitStatus"), " "))
	if code != cli.ExitCannotRun || !slices.Contains(prevent, strconv.Itoa(code)) {
		t.Errorf("daemon exited %d with an unwritable state dir, want %d, which RestartPreventExitStatus (%v) lists\n%s", code, cli.ExitCannotRun, prevent, lastLines(d.output(), 10))
	}
	if out := d.output(); !strings.Contains(out, stateDir) || !strings.Contains(out, "not writable") {
		t.Errorf("the journal does not say that %s is not writable:\n%s", stateDir, lastLines(out, 10))
	}
	if d.notified("READY=1") {
		t.Error("daemon sent READY=1 without a state dir")
	}
}

// host is a stand-in for what systemd prepares before ExecStart: the
// configuration, state and credentials directories, and the environment.
type host struct {
	root        string
	argv        []string // ExecStart expanded, binary not yet substituted
	env         []string // without NOTIFY_SOCKET, which is per process
	credentials string
	started     int
}

// newHost prepares the directories the unit asks for under a temporary
// root, writes a config that reads two credentials, and fills the
// credentials directory as systemd does: each LoadCredential= file that
// exists (given in secrets by id), else the SetCredential= fallback.
func newHost(t *testing.T, u unit, secrets map[string]string) *host {
	t.Helper()
	root := t.TempDir()
	confDir := filepath.Join(root, "etc", "spacetime-watch")
	stateDir := filepath.Join(root, "var", "lib", "spacetime-watch")
	credDir := filepath.Join(root, "run", "credentials", unitName)
	for _, dir := range []string{confDir, stateDir, credDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for id, c := range credentials(t, u) {
		data, ok := secrets[id]
		if !ok {
			if !c.hasFallback {
				t.Fatalf("credential %s is missing and has no fallback: systemd would not start the unit", id)
			}
			data = c.fallback
		}
		if err := os.WriteFile(filepath.Join(credDir, id), []byte(data), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(credDir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(credDir, 0o700) }) // let TempDir remove it

	// The target's API is a closed loopback port: its checks fail, which is
	// fine; nothing here waits on them.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := l.Addr().String()
	l.Close()
	config := fmt.Sprintf(`targets:
  - name: main
    api_url: http://%s
    telemetry_urls: []
    token_file: ${CREDENTIALS_DIRECTORY}/api-token
alerting:
  sinks:
    - name: oncall
      type: slack_webhook
      webhook_url_file: ${CREDENTIALS_DIRECTORY}/slack-webhook
`, api)
	if err := os.WriteFile(filepath.Join(confDir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	active, _ := defaultArgs(t)
	vars := map[string]string{
		"CONFIGURATION_DIRECTORY": confDir,
		"STATE_DIRECTORY":         stateDir,
		"CREDENTIALS_DIRECTORY":   credDir,
		// The flags file's value, plus a free port instead of :9850.
		"SPACETIME_WATCH_ARGS": strings.TrimSpace(active + " --web.listen-address=127.0.0.1:0"),
	}
	h := &host{root: root, credentials: credDir, argv: expand(t, execStart(t, u), vars)}
	h.env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		// WatchdogSec=60 would ping every 30 s; a 1 s watchdog shows that
		// the daemon reads WATCHDOG_USEC without making the test wait.
		"WATCHDOG_USEC=1000000",
	}
	for k, v := range vars {
		h.env = append(h.env, k+"="+v)
	}
	return h
}

// process is one daemon started from the unit's command line, with its own
// notify socket so that its messages are its own.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the daemon exited and its output is read
	code    int           // exit status, set before done is closed
	changed chan struct{} // a token when output or a notify message arrived

	mu    sync.Mutex
	out   bytes.Buffer
	notes []string
}

func (h *host) start(t *testing.T, bin string) *process {
	t.Helper()
	return h.startWith(t, bin, nil, h.argv)
}

// startWith starts bin with argv (argv[0] replaced by bin). With socket
// set it plays systemd's socket activation: the socket is the child's
// fd 3, LISTEN_FDS=1, and LISTEN_PID is the child's pid, which only exists
// once it runs, so a shell sets it and execs the daemon in its place.
func (h *host) startWith(t *testing.T, bin string, socket *os.File, argv []string) *process {
	t.Helper()
	h.started++
	sock := filepath.Join(h.root, fmt.Sprintf("notify-%d", h.started))
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	argv = slices.Clone(argv)
	argv[0] = bin
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(slices.Clone(h.env), "NOTIFY_SOCKET="+sock)
	if socket != nil {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`}, argv...)...)
		cmd.Env = append(slices.Clone(h.env), "NOTIFY_SOCKET="+sock, "LISTEN_FDS=1", "LISTEN_FDNAMES="+socketName)
		cmd.ExtraFiles = []*os.File{socket}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr // one stream, as in the journal
	p := &process{cmd: cmd, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	if err := cmd.Start(); err != nil {
		conn.Close()
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Go(func() { // the notify socket, until closed at cleanup
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			p.mu.Lock()
			for line := range strings.Lines(string(buf[:n])) {
				p.notes = append(p.notes, strings.TrimSpace(line))
			}
			p.mu.Unlock()
			p.poke()
		}
	})
	wg.Go(func() { // the output, then the exit status
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.poke()
		}
		var exit *exec.ExitError
		switch err := cmd.Wait(); {
		case err == nil:
		case errors.As(err, &exit):
			p.code = exit.ExitCode()
		default:
			p.code = -1
		}
	})
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
		}
		conn.Close()
		wg.Wait()
	})
	return p
}

func (p *process) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// wait returns the exit status, failing the test after timeout.
func (p *process) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("daemon still running after %v\n%s", timeout, lastLines(p.output(), 10))
		return 0
	}
}

// waitFor waits until cond holds. A daemon that exits first gets a short
// grace for the messages already on their way, then fails the test.
func (p *process) waitFor(t *testing.T, what string, cond func() bool, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	done := p.done
	exited := false
	for !cond() {
		select {
		case <-p.changed:
		case <-done:
			done, exited = nil, true
			deadline.Reset(500 * time.Millisecond)
		case <-deadline.C:
			if exited {
				t.Fatalf("daemon exited %d before %s\n%s", p.code, what, lastLines(p.output(), 10))
			}
			t.Fatalf("no %s within %v\n%s", what, timeout, lastLines(p.output(), 10))
		}
	}
}

// waitNotify waits for one notify message, such as READY=1.
func (p *process) waitNotify(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, want, func() bool { return p.notified(want) }, timeout)
}

// waitLog waits for msg in the output written after mark (a length of
// output()).
func (p *process) waitLog(t *testing.T, mark int, msg string, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%q in the log", msg), func() bool { return strings.Contains(p.output()[mark:], msg) }, timeout)
}

func (p *process) notified(want string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.notes, want)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// ---------------------------------------------------------------------------
// Reading the unit.

// unit is a parsed unit file: section → key → values in file order. Enough
// of systemd's syntax for this unit: comments, sections, key=value; the
// unit uses no line continuations (readUnit refuses them).
type unit map[string]map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
			continue
		case strings.HasSuffix(line, `\`):
			t.Fatalf("%s:%d: line continuation; the test's parser does not follow them", path, i+1)
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: %q is not key=value in a section", path, i+1, line)
		}
		key = strings.TrimSpace(key)
		u[section][key] = append(u[section][key], strings.TrimSpace(value))
	}
	return u
}

// all returns every assignment of key in section, in file order.
func (u unit) all(section, key string) []string { return u[section][key] }

// last returns the value that wins for a single-valued setting.
func (u unit) last(section, key string) (string, bool) {
	v := u[section][key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// duration parses a time span setting: a bare number is seconds.
func (u unit) duration(t *testing.T, section, key string) time.Duration {
	t.Helper()
	v, ok := u.last(section, key)
	if !ok {
		t.Fatalf("[%s] %s is not set", section, key)
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(strings.ReplaceAll(strings.ReplaceAll(v, "min", "m"), " ", ""))
	if err != nil {
		t.Fatalf("[%s] %s=%s: not a time span this test reads (write seconds, or 90s, 1min)", section, key, v)
	}
	return d
}

// effective drops the assignments up to the last empty one: in systemd an
// empty assignment resets a list setting.
func effective(values []string) []string {
	for i := len(values) - 1; i >= 0; i-- {
		if values[i] == "" {
			return values[i+1:]
		}
	}
	return values
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}

// credential is one LoadCredential= and its SetCredential= fallback.
type credential struct {
	path        string
	hasFallback bool
	fallback    string // unescaped, as systemd writes it
}

func credentials(t *testing.T, u unit) map[string]credential {
	t.Helper()
	creds := map[string]credential{}
	for _, v := range u.all("Service", "LoadCredential") {
		id, path, _ := strings.Cut(v, ":")
		creds[id] = credential{path: path}
	}
	for _, v := range u.all("Service", "SetCredential") {
		id, raw, _ := strings.Cut(v, ":")
		c, ok := creds[id]
		if !ok {
			t.Errorf("SetCredential=%s:… has no LoadCredential= of the same id; it would hand the daemon a literal value", id)
			continue
		}
		value, err := strconv.Unquote(`"` + raw + `"`) // C-style escapes, as systemd's cunescape
		if err != nil {
			t.Fatalf("SetCredential=%s: cannot unescape %q: %v", id, raw, err)
		}
		c.hasFallback, c.fallback = true, value
		creds[id] = c
	}
	return creds
}

// execStart returns ExecStart's words. The unit's command line uses no
// quotes, escapes or prefixes, so splitting at spaces is exactly systemd's
// reading of it; the test refuses anything else rather than misread it.
func execStart(t *testing.T, u unit) []string {
	t.Helper()
	v, ok := u.last("Service", "ExecStart")
	if !ok || v == "" || strings.ContainsAny(v, `"'\`) || strings.ContainsAny(v[:1], "-@+!:") {
		t.Fatalf("ExecStart=%s: want one plain command line (no quotes, escapes or prefixes)", v)
	}
	return strings.Fields(v)
}

// expand substitutes variables as systemd does on a command line: ${VAR}
// inside a word, $VAR as a whole word split at whitespace.
func expand(t *testing.T, argv []string, vars map[string]string) []string {
	t.Helper()
	braced := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	var out []string
	for _, w := range argv {
		if name, ok := strings.CutPrefix(w, "$"); ok && !strings.HasPrefix(name, "{") {
			v, ok := vars[name]
			if !ok {
				t.Fatalf("ExecStart uses $%s, which this test does not set", name)
			}
			out = append(out, strings.Fields(v)...)
			continue
		}
		out = append(out, braced.ReplaceAllStringFunc(w, func(m string) string {
			name := braced.FindStringSubmatch(m)[1]
			v, ok := vars[name]
			if !ok {
				t.Fatalf("ExecStart uses ${%s}, which this test does not set", name)
			}
			return v
		}))
	}
	return out
}

// defaultArgs reads spacetime-watch.default: the SPACETIME_WATCH_ARGS value
// it sets, and the values of its commented examples (at least one).
func defaultArgs(t *testing.T) (active string, examples []string) {
	t.Helper()
	data, err := os.ReadFile("spacetime-watch.default")
	if err != nil {
		t.Fatal(err)
	}
	set := 0
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		commented := strings.HasPrefix(line, "#")
		rest, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(line, "#")), "SPACETIME_WATCH_ARGS=")
		if !ok {
			continue
		}
		value := strings.Trim(rest, `"`) // EnvironmentFile= strips the quotes
		if commented {
			examples = append(examples, value)
			continue
		}
		active, set = value, set+1
	}
	if set != 1 || len(examples) == 0 {
		t.Fatalf("spacetime-watch.default: want one SPACETIME_WATCH_ARGS= line and a commented example, got %d and %d", set, len(examples))
	}
	return active, examples
}

// ---------------------------------------------------------------------------
// Tools.

// builtDir holds the binary buildDaemon built; TestMain removes it.
var builtDir string

var build = sync.OnceValues(func() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the tests build spacetime-watch with the go command: %w", err)
	}
	dir, err := os.MkdirTemp("", "spacetime-watch-systemd-")
	if err != nil {
		return "", err
	}
	builtDir = dir
	bin := filepath.Join(dir, "spacetime-watch")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/spacetime-watch")
	cmd.Dir = filepath.Join("..", "..") // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/spacetime-watch: %w\n%s", err, out)
	}
	return bin, nil
})

// buildDaemon builds spacetime-watch once per test binary run: the unit
// must point at a real executable, and its command line must start it.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
