//go:build unix

package daemon_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// wedgeWatchdog is the child's WATCHDOG_USEC: short, so that a wedge shows
// within seconds.
const wedgeWatchdog = 2 * time.Second

// TestWedgedLoopStopsTheWatchdog wedges each long-running loop in turn in
// a daemon built with the failpoints tag, with systemd's watchdog at 2 s:
// within the watchdog interval /-/healthy answers 503 naming the loop and
// WATCHDOG=1 stops. The daemon is then killed, as systemd would, and
// restarted on the same state: the alert that was firing reaches Slack
// at most once across both runs, and exactly once where it is owed.
func TestWedgedLoopStopsTheWatchdog(t *testing.T) {
	bin := testkit.BuildWithFailpoints(t, "github.com/spacetime-vr/spacetime-watch/cmd/spacetime-watch")
	for _, c := range []struct {
		failpoint, loop string
		// owed: the firing alert must reach Slack.
		owed bool
	}{
		{"wedge-monitor", "monitor", true},
		{"wedge-watcher", "watcher/main", true},
		{"wedge-alert-manager", "alert-manager", true},
		{"wedge-outbox", "outbox/oncall", true},
		{"wedge-reviews", "reviews", true},
		{"wedge-daemon", "daemon", true},
	} {
		t.Run(c.loop, func(t *testing.T) {
			// Each case waits on its child's watchdog most of the time:
			// two at once (-parallel, GOMAXPROCS) halve the wall time.
			t.Parallel()
			slack := slackfaketest.Start(t)
			configFile := fpsLowSetup(t, slack, "")
			stateDir := filepath.Join(t.TempDir(), "state")

			wedged := startChild(t, bin, configFile, stateDir, c.failpoint)
			at := wedged.waitWedged(t, c.failpoint)
			testkit.Eventually(t, wedgeWatchdog, "/-/healthy 503 naming "+c.loop, func() (bool, string) {
				code, body, err := tryGet(wedged.url + "/-/healthy")
				return err == nil && code == 503 && strings.Contains(body, c.loop+": "), fmt.Sprintf("%d %q %v", code, body, err)
			})
			// Watch one more interval: no WATCHDOG=1 later than an
			// interval after the wedge, so systemd's timer runs out.
			wedged.notify.waitUntil(at.Add(2 * wedgeWatchdog))
			if last := wedged.notify.last("WATCHDOG=1"); last.After(at.Add(wedgeWatchdog)) {
				t.Errorf("WATCHDOG=1 sent %s after the wedge, want none after %s", last.Sub(at), wedgeWatchdog)
			}
			wedged.kill(t)

			restarted := startChild(t, bin, configFile, stateDir, "")
			testkit.Eventually(t, 20*time.Second, "fps_low in Slack and the outbox drained", func() (bool, string) {
				code, body, err := tryGet(restarted.url + "/api/v1/outbox")
				var out daemon.OutboxResponse
				if err != nil || code != 200 || json.Unmarshal([]byte(body), &out) != nil {
					return false, fmt.Sprintf("outbox: %d %v", code, err)
				}
				return (!c.owed || slackMentions(slack, "fps_low") >= 1) && out.Pending["oncall"] == 0,
					fmt.Sprintf("%d messages, %d pending", len(slack.Messages()), out.Pending["oncall"])
			})
			if n := slackMentions(slack, "fps_low"); n > 1 || (c.owed && n != 1) {
				t.Errorf("%d Slack messages mention fps_low across the wedge and the restart, want 1 (owed: %v)", n, c.owed)
			}
			if code, body, _ := tryGet(restarted.url + "/-/healthy"); code != 200 {
				t.Errorf("restarted daemon /-/healthy: %d %s", code, body)
			}
			restarted.kill(t)
		})
	}
}

// child is a daemon process under a fake systemd.
type child struct {
	cmd    *exec.Cmd
	url    string
	notify *notifySocket
	stderr chan string // the child's stderr, line by line
	done   chan struct{}
}

// startChild runs bin with failpoint set (none when ""), NOTIFY_SOCKET
// and WATCHDOG_USEC as systemd sets them, and waits for READY=1.
func startChild(t *testing.T, bin, configFile, stateDir, failpoint string) *child {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the child listens there; a port just freed on loopback is not handed out again at once
	ns := listenNotify(t)
	cmd := exec.Command(bin, "run", "--config.file", configFile, "--state.dir", stateDir, "--web.listen-address", addr)
	cmd.Env = []string{
		"SPACETIME_WATCH_FAILPOINT=" + failpoint,
		"NOTIFY_SOCKET=" + ns.path,
		fmt.Sprintf("WATCHDOG_USEC=%d", wedgeWatchdog.Microseconds()),
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, url: "http://" + addr, notify: ns, stderr: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case c.stderr <- sc.Text():
			default: // nobody reads the logs: drop them
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() { c.kill(t) })
	if !ns.waitFor("READY=1", 20*time.Second) {
		c.kill(t)
		t.Fatalf("no READY=1 within 20s (failpoint %q)", failpoint)
	}
	return c
}

// waitWedged returns when the child says its failpoint wedged a loop.
func (c *child) waitWedged(t *testing.T, failpoint string) time.Time {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line := <-c.stderr:
			if line == "failpoint "+failpoint+": wedged" {
				return time.Now()
			}
		case <-c.done:
			t.Fatalf("the daemon exited before %s wedged it", failpoint)
		case <-timeout:
			t.Fatalf("%s did not wedge the daemon within 20s", failpoint)
		}
	}
}

// kill SIGKILLs the child, as systemd does after the watchdog's timeout
// (SIGABRT, then SIGKILL), and waits for it. Safe to call twice.
func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon did not end within 10s of SIGKILL")
	}
}

// notifySocket is systemd's end of the notify protocol: a datagram socket
// recording each state line with when it came.
type notifySocket struct {
	path string

	mu   sync.Mutex
	got  []notification
	cond *sync.Cond
}

type notification struct {
	state string
	at    time.Time
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	dir, err := os.MkdirTemp("", "notify") // short: a socket path has at most 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ns := &notifySocket{path: filepath.Join(dir, "sock")}
	ns.cond = sync.NewCond(&ns.mu)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				ns.mu.Lock()
				ns.got = append(ns.got, notification{state: "closed", at: time.Now()})
				ns.cond.Broadcast()
				ns.mu.Unlock()
				return
			}
			ns.mu.Lock()
			for _, line := range strings.Split(strings.TrimSpace(string(buf[:n])), "\n") {
				ns.got = append(ns.got, notification{state: line, at: time.Now()})
			}
			ns.cond.Broadcast()
			ns.mu.Unlock()
		}
	}()
	return ns
}

// waitFor reports whether state came within timeout.
func (ns *notifySocket) waitFor(state string, timeout time.Duration) bool {
	stop := time.AfterFunc(timeout, func() { ns.mu.Lock(); ns.cond.Broadcast(); ns.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(timeout)
	ns.mu.Lock()
	defer ns.mu.Unlock()
	for {
		for _, n := range ns.got {
			if n.state == state {
				return true
			}
		}
		if !time.Now().Before(deadline) {
			return false
		}
		ns.cond.Wait()
	}
}

// waitUntil listens until t: watching that nothing comes is the point.
func (ns *notifySocket) waitUntil(t time.Time) {
	<-time.After(time.Until(t))
}

// last is when state last came (zero: never).
func (ns *notifySocket) last(state string) time.Time {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var at time.Time
	for _, n := range ns.got {
		if n.state == state {
			at = n.at
		}
	}
	return at
}
