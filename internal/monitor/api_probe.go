package monitor

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// When the telemetry stream drops, the scheduled checks may not run for
// minutes: left to them, a crashed instance (API and stream gone together)
// would raise telemetry_down after telemetry.down_for and
// check_instance_up only failure_threshold rounds later, two alerts for one
// cause. So the stream's state drives probes of the API between the
// scheduled rounds:
//
//   - the stream drops (disconnected or silent) while instance_up is not
//     failing: instance_up alone runs at once, then every probe spacing,
//     until its hysteresis decides: a pass (the API answers, so the stream
//     is a problem of its own) or failing (check_instance_up fires, and
//     inhibits telemetry_down). The spacing fits failure_threshold probes
//     in the first half of down_for, so the decision comes before
//     telemetry_down could fire;
//   - data flows again while instance_up is failing: a full round runs at
//     once, so that the instance's recovery resolves check_instance_up and
//     the checks it inhibited together, rather than at the next scheduled
//     round (after the release time, those would be notified on their own).
//
// A flapping stream cannot make it hammer the instance: probes (and rounds)
// are at least one spacing apart, whatever the number of changes, and a
// change that asks for nothing new starts nothing.

// Bounds of the probe spacing.
const (
	// minProbeSpacing keeps a tiny down_for with a large failure_threshold
	// from probing in a tight loop.
	minProbeSpacing = 100 * time.Millisecond
)

// probeSpacing is the time between two probes of one target: half of
// down_for shared among failure_threshold probes, at least minProbeSpacing
// and at most the schedule's interval (probing slower than the schedule
// adds nothing). 0 (no probing) when down_for is 0: without telemetry_down
// there is nothing to be ahead of.
func probeSpacing(t *config.Target) time.Duration {
	downFor := t.Telemetry.DownFor
	if downFor <= 0 || len(t.TelemetryURLs) == 0 {
		return 0
	}
	d := downFor / time.Duration(2*max(1, t.Checks.FailureThreshold))
	if iv := t.Schedule.Interval; iv > 0 {
		d = min(d, iv)
	}
	return max(d, minProbeSpacing)
}

// probeWant is what the stream's state asks of the probe loop.
type probeWant uint8

const (
	wantNothing    probeWant = iota
	wantInstanceUp           // the stream dropped: is the API still there?
	wantRound                // the stream is back: does the instance answer again?
)

// apiProbe turns a target's stream changes into probes. The watcher calls
// streamChanged; a goroutine of the probe's own does the probing, started
// by a change that asks for it and ended once nothing is asked: a fleet of
// healthy streams keeps no goroutine for it.
type apiProbe struct {
	spacing time.Duration
	log     *zap.Logger

	mu      sync.Mutex
	state   StreamState
	pending bool // a change the probing goroutine has not looked at
	running bool // the probing goroutine runs
	// Set by start: the target's context, its runner and its round, which
	// spawnLocked hands to each probing goroutine. stop clears ctx, so that
	// no goroutine starts after it.
	ctx   context.Context
	r     *targetRunner
	round func()
	last  time.Time // when the last probe or round ended (real time)
	wg    sync.WaitGroup
}

func newAPIProbe(spacing time.Duration, log *zap.Logger) *apiProbe {
	return &apiProbe{spacing: spacing, log: log}
}

// start lets stream changes probe the target until ctx ends and stop is
// called; round runs a full round of its checks (its scheduled job, which
// never overlaps another). A change reported before start is acted on now.
func (p *apiProbe) start(ctx context.Context, r *targetRunner, round func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.r, p.round = ctx, r, round
	if p.pending {
		p.spawnLocked()
	}
}

// stop waits for the probing goroutine, if any; start's ctx must have
// ended. No change starts another until the next start.
func (p *apiProbe) stop() {
	p.mu.Lock()
	p.ctx = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// streamChanged records the stream's new state and starts the probing
// goroutine if it is not running. It never blocks (the watcher calls it
// while handling a frame or a tick).
func (p *apiProbe) streamChanged(s StreamState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.pending = s, true
	p.spawnLocked()
}

// spawnLocked starts the probing goroutine unless it runs or the probe is
// not started; p.mu is held, so stop's Wait comes after any Add.
func (p *apiProbe) spawnLocked() {
	if p.running || p.ctx == nil || p.ctx.Err() != nil {
		return
	}
	p.running = true
	p.wg.Add(1)
	go p.run(p.ctx, p.r, p.round)
}

func (p *apiProbe) stream() StreamState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// want is what the current state asks for.
func (p *apiProbe) want(r *targetRunner) probeWant {
	failing := r.instanceUpFailing()
	switch s := p.stream(); {
	case (s == StreamDisconnected || s == StreamSilent) && !failing:
		return wantInstanceUp
	case s == StreamConnected && failing:
		return wantRound
	}
	return wantNothing
}

// run probes as the stream's changes ask, one spacing apart at least,
// and returns once nothing is asked (or ctx ends). The spacing is kept by
// the real clock: the injected one stamps the results, and a test's frozen
// clock must not stop the loop.
func (p *apiProbe) run(ctx context.Context, r *targetRunner, round func()) {
	defer p.wg.Done()
	want := wantNothing
	for {
		p.mu.Lock()
		changed := p.pending
		p.pending = false
		if !changed && want == wantNothing {
			p.running = false
			p.mu.Unlock()
			return
		}
		wait := p.last.Add(p.spacing).Sub(clock.Now())
		p.mu.Unlock()
		if changed {
			next := p.want(r)
			if next == wantInstanceUp && want != wantInstanceUp {
				p.log.Info("telemetry stream down: probing the API", zap.Duration("every", p.spacing))
			}
			want = next
			continue // a change may come with another: read them all first
		}
		if wait > 0 {
			if !clock.Sleep(ctx, wait) {
				p.quit()
				return
			}
			continue // changes that came while waiting decide what to do
		}
		switch want {
		case wantInstanceUp:
			if r.probeInstanceUp(ctx) {
				want = wantNothing
			}
		case wantRound:
			p.log.Info("telemetry flows again while the instance was unreachable: running the checks now")
			round()
			want = wantNothing
		}
		p.mu.Lock()
		p.last = clock.Now()
		p.mu.Unlock()
		if ctx.Err() != nil {
			p.quit()
			return
		}
	}
}

// quit marks the probing goroutine gone, as ctx ended.
func (p *apiProbe) quit() {
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
}

// instanceUpFailing reports whether check_instance_up counts as failing.
func (r *targetRunner) instanceUpFailing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hysteresis[config.CheckInstanceUp]
	return h != nil && h.failing
}

// probeInstanceUp runs instance_up alone and applies its result like a
// round's (metrics, history, hysteresis, events; the token conditions and
// the reviews' round count are left to the rounds). It reports whether the
// hysteresis has decided: the API answered, or the check counts as failing.
func (r *targetRunner) probeInstanceUp(parent context.Context) (decided bool) {
	ctx := parent
	if r.settings.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, r.settings.timeout)
		defer cancel()
	}
	res := r.deps.instanceUp(ctx)
	if parent.Err() != nil {
		return true // stopping: nothing to decide
	}
	at := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exportResult(res)
	r.stepLocked(res, at)
	if i := slices.IndexFunc(r.last, func(c CheckResult) bool { return c.Check == res.Check }); i >= 0 {
		r.last = slices.Clone(r.last) // the round that applied it may still read its results
		r.last[i] = res
	}
	if err := r.store.RecordCheck(r.name, checkRecord(res, at)); err != nil {
		r.log.Warn("cannot record check results", zap.Error(err))
	}
	r.saveHysteresisLocked()
	r.log.Debug("API probed", zap.String("status", string(res.Status)), zap.String("reason", res.Reason))
	return res.Status == CheckPass || r.hysteresis[config.CheckInstanceUp].failing
}
