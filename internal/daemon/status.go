package daemon

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
)

// statusReporter sends systemd the daemon's one-line status (STATUS=),
// which `systemctl status` shows: how many targets it watches, how many
// alerts fire, how many notifications wait in the outbox. It sends a line
// only when it differs from the last one sent.
type statusReporter struct {
	notifier Notifier
	mon      *monitor.Monitor
	alerts   *alerting
	log      *zap.Logger
	last     string
}

// update sends the current line if it changed.
func (s *statusReporter) update() {
	line := s.line()
	if line == s.last {
		return
	}
	s.last = line
	s.notifier.Notify("STATUS=" + line)
}

// line is the status now, e.g. "watching 3 targets; 1 alert firing;
// outbox 0 pending". It runs every StatusInterval, so it reads counts
// only: a full Monitor.Status reads every target's deployment from the
// store, which at a thousand targets was a thousand read transactions
// and most of the daemon's steady allocation.
func (s *statusReporter) line() string {
	firing := 0
	for _, a := range s.alerts.manager.Alerts() {
		if a.State == alert.StateFiring {
			firing++
		}
	}
	outbox := "outbox unreadable"
	if pending, err := s.alerts.outbox.Pending(); err != nil {
		s.log.Debug("cannot count the outbox for systemd's status", zap.Error(err))
	} else {
		n := 0
		for _, c := range pending {
			n += c
		}
		outbox = fmt.Sprintf("outbox %d pending", n)
	}
	return fmt.Sprintf("watching %s; %s firing; %s", plural(s.mon.TargetCount(), "target"), plural(firing, "alert"), outbox)
}

// plural is "1 target", "0 targets", "3 targets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
