package daemon

import (
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier speaks systemd's notify protocol: READY=1, WATCHDOG=1,
// STOPPING=1. Outside systemd every call is a no-op.
type Notifier interface {
	// Notify sends one state line.
	Notify(state string)
	// WatchdogInterval is systemd's WatchdogSec, 0 when the watchdog is off.
	WatchdogInterval() time.Duration
}

// SystemdNotifier is the Notifier of a real process, through $NOTIFY_SOCKET.
type SystemdNotifier struct{}

// Notify sends state to systemd when NOTIFY_SOCKET is set.
func (SystemdNotifier) Notify(state string) { _, _ = daemon.SdNotify(false, state) }

// WatchdogInterval reads WATCHDOG_USEC (and WATCHDOG_PID) as systemd sets them.
func (SystemdNotifier) WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
