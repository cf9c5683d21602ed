package systemd_test

import (
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/cli"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSocketUnitContract pins the optional socket unit: the daemon's
// default port, enabled through sockets.target, activating the service
// of the same name; systemd-analyze verify accepts it next to the service.
func TestSocketUnitContract(t *testing.T) {
	u := readUnit(t, socketName)
	if got := u.all("Socket", "ListenStream"); !slices.Equal(got, []string{"9850"}) {
		t.Errorf("[Socket] ListenStream = %q, want 9850, the port of --web.listen-address's default :9850", got)
	}
	if v, ok := u.last("Socket", "Service"); ok && v != unitName {
		t.Errorf("[Socket] Service=%s, want the default, %s", v, unitName)
	}
	if v, _ := u.last("Install", "WantedBy"); v != "sockets.target" {
		t.Errorf("[Install] WantedBy=%s, want sockets.target", v)
	}

	testkit.Tool(t, "systemd-analyze")
	bin := buildDaemon(t)
	dir := t.TempDir()
	service, err := os.ReadFile(unitName)
	if err != nil {
		t.Fatal(err)
	}
	socket, err := os.ReadFile(socketName)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WriteFileIn(t, dir, unitName, strings.ReplaceAll(string(service), binPath, bin))
	for _, c := range []struct{ name, unit, wantLine string }{
		{"shipped", string(socket), ""},
		{"unknown key", strings.Replace(string(socket), "\nListenStream=9850", "\nListenStraem=9850", 1), "Unknown key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := testkit.WriteFileIn(t, dir, socketName, c.unit)
			about, out, runErr := testkit.SystemdVerify(t, path)
			if c.wantLine == "" && (runErr != nil || len(about) > 0) {
				t.Errorf("systemd-analyze verify: %v\n%s", runErr, out)
			}
			if c.wantLine != "" && !slices.ContainsFunc(about, func(l string) bool { return strings.Contains(l, c.wantLine) }) {
				t.Errorf("systemd-analyze verify said nothing with %q about the broken socket unit:\n%s", c.wantLine, out)
			}
		})
	}
}

// TestSocketActivation runs the real daemon from the unit's command line
// with --web.systemd-socket, the way spacetime-watch.socket starts it: the
// listening socket arrives as fd 3 with LISTEN_FDS and LISTEN_PID. The
// daemon serves on it and says READY=1. Across a restart the socket stays
// open: a request made while no daemon runs is answered by the next one
// instead of refused. The daemon's STATUS= line reaches the notify socket.
// Without a passed socket the flag is a bad start
// (exit 3, not restarted) whose log names the socket unit.
func TestSocketActivation(t *testing.T) {
	bin := buildDaemon(t)
	h := newHost(t, readUnit(t, unitName), map[string]string{"api-token": "sentinel-api-token-7f3a9c"})
	i := slices.Index(h.argv, "--web.listen-address=127.0.0.1:0")
	if i < 0 {
		t.Fatalf("the host's command line has no --web.listen-address to replace: %q", h.argv)
	}
	argv := slices.Clone(h.argv)
	argv[i] = "--web.systemd-socket"

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	socket, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer socket.Close()
	url := "http://" + l.Addr().String() + "/-/ready"
	get := func() (int, string, error) { return testkit.Get(url, 20*time.Second) }

	d := h.startWith(t, bin, socket, argv)
	d.waitNotify(t, "READY=1", 10*time.Second)
	// systemctl status's "Status:" line, through the real notify socket.
	d.waitNotify(t, "STATUS=watching 1 target; 0 alerts firing; outbox 0 pending", 10*time.Second)
	if code, body, err := get(); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s on the activated socket: %d %q %v", url, code, body, err)
	}

	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("daemon exited %d, want 0\n%s", code, lastLines(d.output(), 10))
	}
	type answer struct {
		code int
		err  error
	}
	during := make(chan answer, 1)
	go func() { // while no daemon runs: the kernel queues the connection
		code, _, err := get()
		during <- answer{code, err}
	}()
	next := h.startWith(t, bin, socket, argv)
	next.waitNotify(t, "READY=1", 10*time.Second)
	if a := <-during; a.err != nil || a.code != http.StatusOK {
		t.Errorf("a request made during the restart got %d, %v; want 200 from the next daemon", a.code, a.err)
	}

	if err := next.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	next.wait(t, 15*time.Second)
	without := h.startWith(t, bin, nil, argv)
	if code := without.wait(t, 10*time.Second); code != cli.ExitBadConfig {
		t.Errorf("--web.systemd-socket without a socket: exit %d, want %d\n%s", code, cli.ExitBadConfig, lastLines(without.output(), 10))
	}
	if out := without.output(); !strings.Contains(out, "--web.systemd-socket") || !strings.Contains(out, socketName) {
		t.Errorf("the log does not name the flag and %s:\n%s", socketName, lastLines(out, 10))
	}
}
