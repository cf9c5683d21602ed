package child

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestStartStop: a child runs with its output in the log, Stop ends it
// with SIGTERM, and Alive and Err then say how it ended; one that ignores
// SIGTERM is killed after the grace, and SignalWait says so.
func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "sh.log")
	p, _, err := Start("sh", log, false, "/bin/sh", "-c", "echo started; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Alive(); err != nil {
		t.Fatalf("Alive right after Start: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, "the child's output in its log", func() (bool, string) {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "started"), string(b)
	})
	p.Stop(5 * time.Second)
	if err := p.Alive(); err == nil || !strings.Contains(err.Error(), "sh exited") {
		t.Errorf("Alive after Stop = %v, want it to say sh exited", err)
	}
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("Err after SIGTERM = %v, want the signal", err)
	}

	stubborn, _, err := Start("stubborn", log, false, "/bin/sh", "-c", "trap '' TERM; echo trapped; exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	// The trap is set before the shell writes to its log.
	testkit.Eventually(t, 5*time.Second, "the stubborn child's trap", func() (bool, string) {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), "trapped"), string(b)
	})
	if err := stubborn.SignalWait(syscall.SIGTERM, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not exit within") {
		t.Errorf("SignalWait on a child ignoring SIGTERM = %v, want it killed and said so", err)
	}
	if stubborn.Alive() == nil {
		t.Error("the stubborn child still runs after SignalWait")
	}
}

// TestFreeAddr: the address is on loopback with a port.
func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Errorf("FreeAddr = %q, %v", addr, err)
	}
}
