package cli

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// TestExitFor: the daemon's errors map to the documented exit statuses,
// through any wrapping.
func TestExitFor(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"stopped cleanly", nil, ExitOK},
		{"bad config", &daemon.ConfigError{Err: errors.New("targets[0].colour: unknown field")}, ExitBadConfig},
		{"wrapped bad config", fmt.Errorf("start: %w", &daemon.ConfigError{Err: errors.New("x")}), ExitBadConfig},
		{"state dir locked", &store.LockedError{Dir: "/var/lib/spacetime-watch", PID: 42}, ExitLocked},
		{"wrapped lock", fmt.Errorf("store: open: %w", &store.LockedError{Dir: "/d"}), ExitLocked},
		{"state dir not writable", fmt.Errorf("store: %w", store.ErrNotWritable), ExitCannotRun},
		{"listen refused for privilege", &daemon.ListenError{Addr: ":80", Err: &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)}}, ExitCannotRun},
		{"vsock on a host without it", &daemon.ListenError{Addr: "vsock://:9850", Err: fmt.Errorf("listen vsock: %w", os.NewSyscallError("socket", syscall.EAFNOSUPPORT))}, ExitCannotRun},
		{"listen address in use", &daemon.ListenError{Addr: ":9850", Err: &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}}, ExitError},
		{"permission denied elsewhere", fmt.Errorf("monitor: %w", syscall.EACCES), ExitError},
		{"anything else", errors.New("web server: closed"), ExitError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitFor(tc.err, zap.NewNop()); got != tc.want {
				t.Errorf("exitFor(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}
