package daemon

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// safeModePoll is how often the daemon looks whether the first poll after
// a loss of state has ended.
const safeModePoll = time.Second

// stateGuard is the daemon's one path for state found damaged, at start
// (Open's report) or while running (store.OnRecovered): it counts
// spacetime_watch_state_load_errors_total, logs, raises StateRecovered
// through every sink, and runs the manager in safe mode until every target
// has completed a poll since, so that nothing people may already have been
// told of is announced again.
type stateGuard struct {
	manager *alert.Manager
	own     *ownMetrics
	log     *zap.Logger
	now     func() time.Time
	mon     *monitor.Monitor // set before run
	lost    chan time.Time   // when state was last lost; run takes it
}

func newStateGuard(manager *alert.Manager, own *ownMetrics, log *zap.Logger, now func() time.Time) *stateGuard {
	return &stateGuard{manager: manager, own: own, log: log, now: now, lost: make(chan time.Time, 1)}
}

// recovered handles a report. A clean start resolves a StateRecovered
// left firing by an earlier run. It never blocks: it may run in any
// goroutine that touched the store.
func (g *stateGuard) recovered(rep store.OpenReport) {
	if !rep.Recovered {
		g.manager.RaiseInternal(alert.AlertStateRecovered, alert.SeverityWarning, "", false)
		return
	}
	g.own.stateLoadErrors.Inc()
	g.log.Error("state was damaged and recovered", zap.String("report", rep.String()))
	g.manager.RaiseInternal(alert.AlertStateRecovered, alert.SeverityWarning, "state dir was damaged and recovered: "+rep.String(), true)
	if rep.WhileRunning {
		// The fresh state must hold what the manager still knows, or the
		// next start would announce it all again.
		g.manager.Rewrite()
	}
	if !rep.SafeMode {
		return
	}
	g.manager.SafeMode()
	at := g.now()
	for {
		select {
		case g.lost <- at:
			return
		case <-g.lost: // an earlier loss not yet taken: the later one counts
		}
	}
}

// run ends each safe mode once every target completed a poll after the
// loss, until ctx ends.
func (g *stateGuard) run(ctx context.Context) {
	var (
		since time.Time
		tick  <-chan time.Time
	)
	ticker := time.NewTicker(safeModePoll)
	ticker.Stop()
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case since = <-g.lost:
			ticker.Reset(safeModePoll)
			tick = ticker.C
		case <-tick:
			if !g.polledSince(since) {
				continue
			}
			end := g.now()
			g.manager.EndSafeMode(end)
			g.log.Info("safe mode: the first poll after the loss of state ended; new alerts are notified again", zap.Time("end", end))
			ticker.Stop()
			tick = nil
		}
	}
}

// polledSince reports whether every target completed a poll after since.
func (g *stateGuard) polledSince(since time.Time) bool {
	for _, t := range g.mon.Status() {
		if !t.LastRound.After(since) {
			return false
		}
	}
	return true
}
