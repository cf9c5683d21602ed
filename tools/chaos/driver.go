package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// Bounds the run holds the daemon to.
const (
	// mustHold is how long a fault must hold, the daemon up, before its
	// alert must have fired: the rule's 3 s for, the 5 s smoothing window
	// and a telemetry reconnect (or two failed 2-s polls), with room.
	mustHold = 15 * time.Second
	// episodeGap separates two faults on one target, so that late
	// notices of one are not taken for the next one's.
	episodeGap = 30 * time.Second
	// goroutineSlack and fdSlack are the growth allowed from the first
	// settled scrape to the last.
	goroutineSlack, fdSlack = 15, 10
	// rssBound is the most resident memory any scrape may show.
	rssBound = 150 << 20
	// reviewDeliverySlack is how long a review due before the state was
	// lost may take to go out (the review service's tick, the outbox).
	reviewDeliverySlack = 15 * time.Second
	// settleMax bounds the wait, after the faults, for the outbox to drain.
	settleMax = 2 * time.Minute
)

// runner holds one chaos run's parts and what it recorded.
type runner struct {
	o   options
	dir string
	out io.Writer
	rng *rand.Rand

	slack  *slackfake.Server
	hook   *amReceiver
	am     *child.Process
	sims   []*simSlot
	d      *daemon
	good   string // the daemon config's text, group interval 2s
	begin  time.Time
	ledger Ledger
	// busy is when each target may take its next fault.
	busy    map[string]time.Time
	open    map[string]*openEpisode
	corrupt interval // the corruption and the safe mode after it

	faults, slackFaults, simRestarts, kills, goodHUPs, badHUPs int

	baseGoroutines, baseFDs, lastGoroutines, lastFDs, maxRSS float64
	problems                                                 []string
}

// openEpisode is a fault being held.
type openEpisode struct {
	kind  faultKind
	start time.Time
	until time.Time
}

func (r *runner) problemf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *runner) run(ctx context.Context) error {
	r.rng = rand.New(rand.NewPCG(r.o.seed, r.o.seed^0x5eed))
	r.busy, r.open = map[string]time.Time{}, map[string]*openEpisode{}
	if err := r.setUp(ctx); err != nil {
		r.tearDown()
		return err
	}
	defer r.tearDown()
	r.begin = clock.Now()
	if err := r.drive(ctx); err != nil {
		return err
	}
	if err := r.settle(ctx); err != nil {
		return err
	}
	r.reconcile()
	return nil
}

// setUp starts the fake Slack, Alertmanager, the sims and the daemon.
func (r *runner) setUp(ctx context.Context) error {
	r.slack = slackfake.New()
	var err error
	if r.hook, err = startAMReceiver(); err != nil {
		return err
	}
	var amURL string
	if r.am, amURL, err = startAlertmanager(ctx, r.dir, r.o.amBin, r.hook.url); err != nil {
		return err
	}
	for i := range r.o.sims {
		tok := fmt.Sprintf("%016x%016x", r.rng.Uint64(), r.rng.Uint64())
		s, err := newSimSlot(ctx, fmt.Sprintf("sim-%d", i), tok)
		if err != nil {
			return err
		}
		r.sims = append(r.sims, s)
	}
	hookFile := filepath.Join(r.dir, "slack-webhook-url")
	if err := os.WriteFile(hookFile, []byte(r.slack.WebhookURL()), 0o600); err != nil {
		return err
	}
	targets, err := targetsYAML(r.dir, r.sims)
	if err != nil {
		return err
	}
	addr, err := child.FreeAddr()
	if err != nil {
		return err
	}
	r.good = fmt.Sprintf(daemonConfig, hookFile, amURL, "%s", targets, offsetsYAML())
	r.d = &daemon{bin: r.o.daemonBin, dir: r.dir, config: filepath.Join(r.dir, "config.yaml"), state: filepath.Join(r.dir, "state"), addr: addr}
	if err := r.writeConfig("2s"); err != nil {
		return err
	}
	if err := r.d.start(ctx); err != nil {
		return err
	}
	// The baseline: every target connected and its first rounds done.
	if err := r.waitConnected(ctx, 30*time.Second); err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	m, err := scrape(r.d.url("/metrics"))
	if err != nil {
		return err
	}
	r.baseGoroutines, r.baseFDs = m["go_goroutines"], m["process_open_fds"]
	return nil
}

func (r *runner) writeConfig(groupInterval string) error {
	return os.WriteFile(r.d.config, fmt.Appendf(nil, r.good, groupInterval), 0o600)
}

// waitConnected waits until the daemon's telemetry to every sim is up.
func (r *runner) waitConnected(ctx context.Context, timeout time.Duration) error {
	deadline := clock.Deadline(timeout)
	for {
		m, err := scrape(r.d.url("/metrics"))
		if err == nil {
			n := 0
			for _, s := range r.sims {
				if m[`spacetime_telemetry_connected{target="`+s.name+`"}`] == 1 {
					n++
				}
			}
			if n == len(r.sims) {
				return nil
			}
		}
		if clock.Now().After(deadline) {
			return fmt.Errorf("the daemon's telemetry to the sims not all connected within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *runner) tearDown() {
	if r.d != nil && r.d.p != nil && r.d.p.Alive() == nil {
		_ = r.d.p.SignalWait(syscall.SIGKILL, killGrace)
	}
	for _, s := range r.sims {
		s.stop()
	}
	if r.am != nil {
		_ = r.am.SignalWait(syscall.SIGTERM, killGrace)
	}
	if r.hook != nil {
		r.hook.close()
	}
	if r.slack != nil {
		r.slack.Close()
	}
}

// drive injects faults until the duration is over, one action at a time.
func (r *runner) drive(ctx context.Context) error {
	end := r.begin.Add(r.o.duration)
	corruptAt := r.begin.Add(time.Duration(float64(r.o.duration) * (0.25 + 0.25*r.rng.Float64())))
	lastKill := r.begin
	for clock.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1000+r.rng.IntN(2000)) * time.Millisecond):
		}
		if err := r.d.p.Alive(); err != nil {
			r.problemf("the daemon exited by itself at %s: %v", clock.Now().Format("15:04:05"), err)
			if err := r.d.start(ctx); err != nil {
				return err
			}
		}
		// Resident memory is bounded through the faults, not only once
		// they are over.
		if m, err := scrape(r.d.url("/metrics")); err == nil {
			r.sample(m)
		}
		r.endEpisodes(clock.Now())
		if r.corrupt.from.IsZero() && clock.Now().After(corruptAt) {
			if err := r.corruptOnce(); err != nil {
				return err
			}
			continue
		}
		var err error
		switch p := r.rng.IntN(100); {
		case p < 40:
			r.startEpisode()
		case p < 55:
			r.injectSlackFaults()
		case p < 65:
			err = r.restartSim(ctx)
		case p < 80 && clock.Now().Sub(lastKill) > 20*time.Second:
			err = r.killDaemon(ctx)
			lastKill = clock.Now()
		case p < 88:
			err = r.hup(true)
		case p < 94:
			err = r.hup(false)
		}
		if err != nil {
			return err
		}
	}
	r.endEpisodes(time.Time{})
	return nil
}

// startEpisode breaks a target that is free: a fault kind and how long,
// both at random.
func (r *runner) startEpisode() {
	s := r.sims[r.rng.IntN(len(r.sims))]
	now := clock.Now()
	if r.open[s.name] != nil || now.Before(r.busy[s.name]) || s.inst == nil {
		return
	}
	k := faultKinds[r.rng.IntN(len(faultKinds))]
	if err := s.patch(k.set); err != nil {
		r.problemf("fault %s on %s: %v", k.alert, s.name, err)
		return
	}
	r.faults++
	r.open[s.name] = &openEpisode{kind: k, start: now, until: now.Add(time.Duration(5+r.rng.IntN(40)) * time.Second)}
}

// endEpisodes clears the faults whose time is up (every one when now is zero).
func (r *runner) endEpisodes(now time.Time) {
	names := make([]string, 0, len(r.open))
	for n := range r.open {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		e := r.open[name]
		if !now.IsZero() && now.Before(e.until) {
			continue
		}
		s := r.slot(name)
		if err := s.patch(e.kind.clear); err != nil {
			r.problemf("clearing %s on %s: %v", e.kind.alert, name, err)
		}
		at := clock.Now()
		r.ledger.Episodes = append(r.ledger.Episodes, Episode{Target: name, Alert: e.kind.alert, Start: e.start, End: at})
		r.busy[name] = at.Add(episodeGap)
		delete(r.open, name)
	}
}

func (r *runner) slot(name string) *simSlot {
	for _, s := range r.sims {
		if s.name == name {
			return s
		}
	}
	return nil
}

// injectSlackFaults queues one to four failures for the webhook's next requests.
// Nothing is queued while earlier faults wait, so that an outage stays
// shorter than the gap between two faults on a target.
func (r *runner) injectSlackFaults() {
	if r.slack.PendingFaults(slackfake.Webhook) > 0 {
		return
	}
	n := 1 + r.rng.IntN(4)
	for range n {
		var f slackfake.Fault
		switch r.rng.IntN(4) {
		case 0:
			f = slackfake.RateLimited(time.Duration(1+r.rng.IntN(4)) * time.Second)
		case 1:
			f = slackfake.ServerError([]int{500, 502, 503}[r.rng.IntN(3)])
		case 2:
			f = slackfake.Hang()
		default:
			f = slackfake.Reset()
		}
		r.slack.Inject(slackfake.Webhook, f)
	}
	r.slackFaults += n
}

// restartSim stops a free sim for 1 to 5 s and starts it again: an episode
// with no alert of its own that must fire.
func (r *runner) restartSim(ctx context.Context) error {
	s := r.sims[r.rng.IntN(len(r.sims))]
	now := clock.Now()
	if r.open[s.name] != nil || now.Before(r.busy[s.name]) {
		return nil
	}
	s.stop()
	time.Sleep(time.Duration(1000+r.rng.IntN(4000)) * time.Millisecond)
	if err := s.start(ctx); err != nil {
		return err
	}
	r.simRestarts++
	at := clock.Now()
	r.ledger.Episodes = append(r.ledger.Episodes, Episode{Target: s.name, Alert: "sim_restart", Start: now, End: at})
	r.busy[s.name] = at.Add(episodeGap)
	return nil
}

// killDaemon SIGKILLs the daemon and starts it again 0.5 to 8 s later.
func (r *runner) killDaemon(ctx context.Context) error {
	if err := r.d.stop(syscall.SIGKILL); err != nil {
		return err
	}
	r.kills++
	r.ledger.Disruptions = append(r.ledger.Disruptions, clock.Now())
	time.Sleep(time.Duration(500+r.rng.IntN(7500)) * time.Millisecond)
	return r.d.start(ctx)
}

// hup reloads the daemon: a good config (another group interval) must be
// taken; a bad one refused, the old one kept, and the good file put back.
func (r *runner) hup(good bool) error {
	if good {
		r.goodHUPs++
		if err := r.writeConfig([]string{"2s", "3s"}[r.goodHUPs%2]); err != nil {
			return err
		}
		if err := r.d.reload(true); err != nil {
			r.problemf("%v", err)
		}
		return nil
	}
	r.badHUPs++
	if err := os.WriteFile(r.d.config, []byte(badConfig), 0o600); err != nil {
		return err
	}
	if err := r.d.reload(false); err != nil {
		r.problemf("%v", err)
	}
	if err := r.writeConfig("2s"); err != nil {
		return err
	}
	if err := r.d.reload(true); err != nil {
		r.problemf("after a bad config: %v", err)
	}
	return nil
}

// corruptOnce damages state.db under the running daemon. The store sets
// it aside and the daemon goes on in safe mode: alerts whose condition
// began before its next poll are tracked silently, so the faults that
// overlap the damage need not fire. A new deployment starts per target,
// dated from its instance's start.
func (r *runner) corruptOnce() error {
	at := clock.Now()
	if err := corruptState(filepath.Join(r.d.state, "state.db"), r.rng.Uint32); err != nil {
		return fmt.Errorf("corrupting the state: %w", err)
	}
	r.corrupt = interval{at, at.Add(10 * time.Second)}
	r.ledger.Disruptions = append(r.ledger.Disruptions, at)
	fmt.Fprintf(r.out, "chaos: state corrupted at %s\n", at.Format("15:04:05"))
	return nil
}

// settle clears every fault, waits for the outbox to drain and the
// resolutions to go out, then stops the daemon as systemd would.
func (r *runner) settle(ctx context.Context) error {
	if err := r.waitConnected(ctx, time.Minute); err != nil {
		r.problemf("settling: %v", err)
	}
	deadline := clock.Deadline(settleMax)
	quiet := 0
	for clock.Now().Before(deadline) && quiet < 10 {
		time.Sleep(2 * time.Second)
		m, err := scrape(r.d.url("/metrics"))
		if err != nil {
			quiet = 0
			continue
		}
		r.sample(m)
		if sumOf(m, "spacetime_watch_outbox_pending") == 0 && r.slack.PendingFaults(slackfake.Webhook) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	if quiet < 10 {
		r.problemf("the outbox did not drain within %s of the last fault", settleMax)
	}
	m, err := scrape(r.d.url("/metrics"))
	if err != nil {
		return err
	}
	r.sample(m)
	r.lastGoroutines, r.lastFDs = m["go_goroutines"], m["process_open_fds"]
	if n := sumOf(m, "spacetime_watch_outbox_dead_letters"); n > 0 {
		r.problemf("lost: %v notifications dead-lettered (injected faults are all retryable)", n)
	}
	if err := r.d.stop(syscall.SIGTERM); err != nil {
		r.problemf("%v", err)
	} else if err := r.d.p.Err(); err != nil {
		r.problemf("the daemon exited with %v on SIGTERM, want 0", err)
	}
	return r.checkLogs()
}

// sample keeps the highest RSS seen, at every step of the drive and of
// the settling.
func (r *runner) sample(m map[string]float64) {
	if v := m["process_resident_memory_bytes"]; v > r.maxRSS {
		r.maxRSS = v
	}
}

// checkLogs looks for a panic or a fatal error in every process's log.
func (r *runner) checkLogs() error {
	logs, err := filepath.Glob(filepath.Join(r.dir, "*.log"))
	if err != nil {
		return err
	}
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, bad := range []string{"panic:", `"level":"panic"`, `"level":"fatal"`, "fatal error:", "DATA RACE"} {
			if i := bytes.Index(data, []byte(bad)); i >= 0 {
				r.problemf("%s: %q at byte %d", filepath.Base(f), bad, i)
			}
		}
	}
	return nil
}
