package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
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
	am     *proc
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
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	r.good = fmt.Sprintf(daemonConfig, hookFile, amURL, "%s", targets)
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
	if r.d != nil && r.d.p != nil && r.d.p.alive() {
		_ = r.d.p.signal(syscall.SIGKILL, true)
	}
	for _, s := range r.sims {
		s.stop()
	}
	if r.am != nil {
		_ = r.am.signal(syscall.SIGTERM, true)
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
		if !r.d.p.alive() {
			r.problemf("the daemon exited by itself at %s: %v (see %s.log)", clock.Now().Format("15:04:05"), r.d.p.err, r.d.p.name)
			if err := r.d.start(ctx); err != nil {
				return err
			}
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
	} else if r.d.p.err != nil {
		r.problemf("the daemon exited with %v on SIGTERM, want 0", r.d.p.err)
	}
	return r.checkLogs()
}

// sample keeps the highest RSS seen.
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

// reconcile builds the ledger's expectations, reconciles and prints.
func (r *runner) reconcile() {
	for i, e := range r.ledger.Episodes {
		overlapsDamage := !r.corrupt.from.IsZero() && e.Start.Before(r.corrupt.to) && e.End.After(r.corrupt.from)
		r.ledger.Episodes[i].MustFire = e.Alert != "sim_restart" && !overlapsDamage && r.d.upFor(e.Start, e.End, mustHold, r.corrupt)
	}
	notices, reviews, problems := readSlack(r.slack.Messages())
	r.problems = append(r.problems, problems...)
	r.ledger.Notices, r.ledger.Reviews = notices, reviews
	r.ledger.NoResolve = []string{"StateRecovered"}
	r.ledger.ReviewsDue = r.reviewsDue()
	v := Reconcile(r.ledger)
	r.saveLedger()
	am := reconcileAM(r.ledger.Episodes, r.hook.all(), r.ledger.NoResolve)
	v.Lost += am.Lost
	v.Problems = append(v.Problems, am.Problems...)
	r.problems = append(r.problems, v.Problems...)
	if g := r.lastGoroutines - r.baseGoroutines; g > goroutineSlack {
		r.problemf("goroutines grew from %v to %v (slack %d)", r.baseGoroutines, r.lastGoroutines, goroutineSlack)
	}
	if f := r.lastFDs - r.baseFDs; f > fdSlack {
		r.problemf("open fds grew from %v to %v (slack %d)", r.baseFDs, r.lastFDs, fdSlack)
	}
	if r.maxRSS > rssBound {
		r.problemf("RSS reached %.0f MiB (bound %d MiB)", r.maxRSS/(1<<20), rssBound>>20)
	}
	must := 0
	for _, e := range r.ledger.Episodes {
		if e.MustFire {
			must++
		}
	}
	w := r.out
	fmt.Fprintf(w, "chaos: figures (seed %d, %s of faults)\n", r.o.seed, r.o.duration)
	rows := [][2]string{
		{"faults held on sims", fmt.Sprintf("%d (%d must fire)", r.faults, must)},
		{"sim restarts", fmt.Sprint(r.simRestarts)},
		{"Slack faults (429/5xx/reset/timeout)", fmt.Sprint(r.slackFaults)},
		{"daemon SIGKILLs", fmt.Sprint(r.kills)},
		{"SIGHUPs good/bad", fmt.Sprintf("%d/%d", r.goodHUPs, r.badHUPs)},
		{"state corruptions", fmt.Sprint(map[bool]int{true: 0, false: 1}[r.corrupt.from.IsZero()])},
		{"Slack notifications (alerts+reviews)", fmt.Sprintf("%d (%d messages, %d requests)", v.Notified, len(r.slack.Messages()), r.slack.Requests())},
		{"Alertmanager notifications", fmt.Sprint(len(r.hook.all()))},
		{"reviews delivered", fmt.Sprint(len(reviews))},
		{"lost", fmt.Sprint(v.Lost)},
		{"duplicates", fmt.Sprint(v.Duplicates)},
		{"flaps (resolved, then firing again in one fault)", fmt.Sprint(v.Flaps)},
		{"goroutines first/last", fmt.Sprintf("%v/%v", r.baseGoroutines, r.lastGoroutines)},
		{"open fds first/last", fmt.Sprintf("%v/%v", r.baseFDs, r.lastFDs)},
		{"max RSS", fmt.Sprintf("%.0f MiB (bound %d MiB)", r.maxRSS/(1<<20), rssBound>>20)},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "  %-50s %s\n", row[0], row[1])
	}
	for _, d := range v.Duplicated {
		fmt.Fprintf(w, "chaos: duplicate: %s\n", d)
	}
	for _, p := range r.problems {
		fmt.Fprintf(w, "chaos: PROBLEM: %s\n", p)
	}
	verdict := "PASS"
	if len(r.problems) > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "chaos: %s: %d lost, %d duplicates, %d problems\n", verdict, v.Lost, v.Duplicates, len(r.problems))
}

// saveLedger writes the ledger and Alertmanager's notices to the run's
// dir as JSON, to read after a failed run.
func (r *runner) saveLedger() {
	data, err := json.MarshalIndent(struct {
		Ledger       Ledger
		Alertmanager []Notice
	}{r.ledger, r.hook.all()}, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(r.dir, "ledger.json"), data, 0o600)
	}
	if err != nil {
		r.problemf("writing the ledger: %v", err)
	}
}

// reviewsDue lists the reviews due by the end of the run, less a minute:
// per target, those of the deployment the daemon saw first, dated from
// its sim's first start, that fell due before the state was lost (with a
// margin for their delivery); and after the loss, every one of the
// deployment the daemon opens then, dated from the sim's start at that
// time (the lost one's reviews are forgotten with it).
func (r *runner) reviewsDue() []ReviewDue {
	offsets := []struct {
		name string
		d    time.Duration
	}{{"second-90", 90 * time.Second}, {"minute-3", 3 * time.Minute}, {"minute-5", 5 * time.Minute}}
	last := clock.Now().Add(-time.Minute)
	var due []ReviewDue
	for _, s := range r.sims {
		type dep struct{ start, by time.Time }
		deps := []dep{{s.starts[0], last}}
		if !r.corrupt.from.IsZero() {
			deps[0].by = minTime(last, r.corrupt.from.Add(-reviewDeliverySlack))
			deps = append(deps, dep{s.startedBy(r.corrupt.from), last})
		}
		for _, off := range offsets {
			n := 0
			for _, d := range deps {
				if !d.start.Add(off.d).After(d.by) {
					n++
				}
			}
			if n > 0 {
				due = append(due, ReviewDue{Target: s.name, Review: off.name, Deployments: n})
			}
		}
	}
	return due
}

// reconcileAM checks what Alertmanager notified: each must-fire fault
// firing at least once, and every alert it notified firing resolved last.
// Its duplicates are its own (it re-notifies a group on every change).
func reconcileAM(eps []Episode, notices []Notice, noResolve []string) Verdict {
	var v Verdict
	last := map[[2]string]Notice{}
	for _, n := range notices {
		last[[2]string{n.Target, n.Alert}] = n
	}
	for _, e := range eps {
		if !e.MustFire {
			continue
		}
		found := false
		for _, n := range notices {
			if n.Target == e.Target && n.Alert == e.Alert && n.State == stateFiring && !n.At.Before(e.Start) {
				found = true
				break
			}
		}
		if !found {
			v.Lost++
			v.Problems = append(v.Problems, fmt.Sprintf("lost: Alertmanager never notified %s on %s firing (fault at %s)", e.Alert, e.Target, e.Start.Format("15:04:05")))
		}
	}
	for k, n := range last {
		if n.State != stateResolved && !containsString(noResolve, n.Alert) {
			v.Lost++
			v.Problems = append(v.Problems, fmt.Sprintf("lost: Alertmanager's last word on %s on %s is %s", k[1], k[0], n.State))
		}
	}
	return v
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
