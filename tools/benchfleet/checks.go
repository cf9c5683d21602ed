package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// checkSeries is a series every target has once it ran a check round (one
// per check that was not skipped), and targetSeries one every watched
// target has from its start.
const (
	checkSeries  = "spacetime_check_success"
	targetSeries = "spacetime_telemetry_frames_total"
)

// withoutChecks lists, sorted, the targets of e (those with targetSeries)
// that have no checkSeries yet: those that have not run a check round.
func withoutChecks(e exposition) []string {
	checked := e.Targets(checkSeries)
	var out []string
	for t := range e.Targets(targetSeries) {
		if !checked[t] {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// checksMissing says which of n targets have not run a check round in e,
// naming a few; nil when every one has.
func checksMissing(e exposition, n int) error {
	missing := withoutChecks(e)
	known := len(e.Targets(targetSeries))
	switch {
	case known < n:
		return fmt.Errorf("/metrics lists %d of the %d targets (by %s)", known, n, targetSeries)
	case len(missing) == 0:
		return nil
	}
	const named = 5
	some := strings.Join(missing[:min(named, len(missing))], ", ")
	if len(missing) > named {
		some += ", …"
	}
	return fmt.Errorf("%d of %d targets have no %s series yet (no check round done): %s", len(missing), n, checkSeries, some)
}

// burstConfig is config with every target's checks every interval, and
// each request's timeout and the waits of checks 4 and 10
// (telemetry_timeout, threshold_window) a third of it, so that a round
// fits in its interval (at 15s: 5s each, the default request_timeout).
func burstConfig(config string, interval time.Duration) string {
	w := interval / 3
	return config + fmt.Sprintf("defaults:\n  schedule: {interval: %s, timeout: %s}\n  checks: {request_timeout: %s, telemetry_timeout: %s, threshold_window: %s}\n",
		interval, interval, w, w, w)
}

// bringInChecks makes sure every target ran a check round before the timed
// scrapes, so that they meet every series the steady state exports. Above
// config.SpreadStartsAbove targets the daemon spreads the first rounds
// over the 5-minute interval: when some target has not run one yet, the
// daemon is reloaded (POST /-/reload) with checks every h.burstInterval,
// the tool waits until every target has checkSeries, and reloads the
// daemon's own config (config) again. A reload that changes a target's
// schedule restarts the target, its telemetry stream included; its series
// stay (only a target that leaves the config loses them). So it waits for
// every stream again, and h.settle more, and then resets the daemon's
// peak RSS, which the burst would otherwise hold. It returns the peak RSS
// from before the burst, 0 when there was none. --checks.burst-always
// has it reload even when every target ran a round.
func (h *harness) bringInChecks(ctx context.Context, d *daemon, config string, n int, watch []*child.Process, row *Row) (uint64, error) {
	e, err := d.scrape(ctx)
	if err != nil {
		return 0, err
	}
	row.TargetsWithoutChecks = len(withoutChecks(e))
	if h.burstInterval == 0 || (checksMissing(e, n) == nil && !h.burstAlways) {
		return 0, nil
	}
	before, err := readRSS(d.proc.Pid())
	if err != nil {
		return 0, err
	}
	start := clock.Now()
	if err := d.reload(ctx, burstConfig(config, h.burstInterval)); err != nil {
		return 0, err
	}
	// One interval spreads the first rounds (and dials), one more holds
	// the last of them; a minute more for a loaded machine.
	err = waitFor(ctx, "every target's first check round", 2*h.burstInterval+time.Minute, time.Second, watch, func() (bool, error) {
		e, err := d.scrape(ctx)
		if err != nil {
			return false, err
		}
		err = checksMissing(e, n)
		return err == nil, err
	})
	if err != nil {
		return 0, err
	}
	if err := d.reload(ctx, config); err != nil {
		return 0, err
	}
	if err := d.waitConnected(ctx, n, watch, row); err != nil {
		return 0, err
	}
	if !clock.Sleep(ctx, h.settle) {
		return 0, ctx.Err()
	}
	row.ChecksBurst = clock.Now().Sub(start).Seconds()
	e, err = d.scrape(ctx)
	if err != nil {
		return 0, err
	}
	if err := checksMissing(e, n); err != nil {
		return 0, fmt.Errorf("after reloading the daemon's own config: %w", err)
	}
	if err := d.collectGarbage(ctx); err != nil {
		return 0, err
	}
	return before.peak, resetPeakRSS(d.proc.Pid())
}

// collectGarbage has the daemon collect its garbage and waits while its
// anonymous memory shrinks (the runtime returning freed pages), for up to
// 20 s. The reloads rebuilt every target: the old watchers are garbage
// the collector has no reason to reclaim soon, since little is allocated
// once the streams run, and they would count in the scrapes' peak, which a
// daemon never rebuilt does not carry. The collection is pprof's heap
// profile with gc=1.
func (d *daemon) collectGarbage(ctx context.Context) error {
	if _, err := get(ctx, d.base+"/debug/pprof/heap?gc=1"); err != nil {
		return fmt.Errorf("collecting the daemon's garbage: %w", err)
	}
	last, err := readRSS(d.proc.Pid())
	if err != nil {
		return err
	}
	for deadline := clock.Deadline(20 * time.Second); clock.Now().Before(deadline); {
		if !clock.Sleep(ctx, time.Second) {
			return ctx.Err()
		}
		m, err := readRSS(d.proc.Pid())
		if err != nil {
			return err
		}
		if last.anon < m.anon+256<<10 { // less than 256 KiB returned in a second: settled
			return nil
		}
		last = m
	}
	return nil
}

// reload writes config as the daemon's config file and has it reload
// (POST /-/reload: 200 once the new config runs).
func (d *daemon) reload(ctx context.Context, config string) error {
	if err := os.WriteFile(d.config, []byte(config), 0o600); err != nil {
		return err
	}
	if err := post(ctx, d.base+"/-/reload", ""); err != nil {
		return fmt.Errorf("reloading %s: %w", d.config, err)
	}
	return nil
}
