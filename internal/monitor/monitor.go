package monitor

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/failpoint"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Options configure a Monitor.
type Options struct {
	// Store keeps deployments, check history and rule state. Required.
	Store *store.Store
	// Metrics receive every series. Required.
	Metrics *Metrics
	// Sink receives rule and check events (firing, resolved). Optional.
	Sink event.Sink
	// Logger is the monitor's logger. Default: no logging.
	Logger *zap.Logger
	// Now is the clock. Default clock.Now.
	Now func() time.Time
	// Wait is how long the wall clock takes for a span of Now's clock to
	// pass: the check schedule's interval and the review feed tick at
	// Wait(their period), so that they keep pace with a scaled Now (the
	// demo's). Default clock.Wait (Now is the wall clock).
	Wait func(time.Duration) time.Duration
	// Reviews, when set, is told of every target added (with its review
	// recorder, which the monitor feeds) and removed, so that the review
	// service follows the config. Calls come from Apply.
	Reviews ReviewRegistry
	// Health, when set, registers Run's loop as "monitor" and each
	// target's telemetry watcher as "watcher/<target>" while it runs
	// (targets added by a reload included). Default: none.
	Health *health.Registry
	// RecorderSettle is how long a review recorder holds a minute open for
	// late observations (review.RecorderOptions.Settle). Default: the
	// recorder's own (1m).
	RecorderSettle time.Duration
	// build turns a target's config into its runtime parts; tests replace it.
	build func(cfg config.Target, m *Monitor) (*target, error)
}

// ReviewRegistry is the review service, as the monitor sees it.
type ReviewRegistry interface {
	// TargetAdded registers (or re-registers) a target and its recorder.
	TargetAdded(cfg config.Target, rec *review.Recorder)
	// TargetRemoved forgets a target removed from the config.
	TargetRemoved(name string)
}

// target is one watched instance at run time: its scheduled runner and its
// telemetry watcher, with what stops them.
type target struct {
	cfg     config.Target
	runner  *targetRunner
	watcher targetWatcher
	// probe probes the API when the telemetry stream drops; nil when the
	// target has no telemetry or telemetry.down_for is 0.
	probe *apiProbe
	// closer releases what build opened (the verify-style probe, ...).
	closer func()
	// recorder aggregates what the reviews need; fedUntil is the last
	// telemetry sample handed to it.
	recorder *review.Recorder
	fedUntil time.Time

	cancel  context.CancelFunc
	done    chan struct{}
	entryID cron.EntryID
	job     cron.Job
}

// targetWatcher is the part of the telemetry watcher the monitor drives.
type targetWatcher interface {
	Run(ctx context.Context) error
}

// Monitor watches every configured target: one telemetry watcher per target
// running all the time, and the scheduled checks driven by one cron
// scheduler. Apply swaps the set of targets (SIGHUP reload): targets added
// start, removed ones stop and their series disappear, changed ones restart.
type Monitor struct {
	opts Options
	log  *zap.Logger
	cron *cron.Cron

	mu      sync.Mutex
	targets map[string]*target
	runCtx  context.Context // nil until Run starts
	wg      sync.WaitGroup

	// kicks asks the main loop for an immediate round of a target.
	kicks chan string
}

// New returns a monitor with no targets; Apply gives it some, Run runs it.
func New(opts Options) *Monitor {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if opts.Wait == nil {
		opts.Wait = clock.Wait
	}
	if opts.build == nil {
		opts.build = buildTarget
	}
	log := opts.Logger.Named("monitor")
	cl := cronLogger{log.Named("cron")}
	return &Monitor{
		opts:    opts,
		log:     log,
		cron:    cron.New(cron.WithLogger(cl), cron.WithChain(cron.Recover(cl))),
		targets: map[string]*target{},
		kicks:   make(chan string, 16),
	}
}

// Apply makes cfg's targets the watched set. Every new or changed target is
// built before anything is swapped, so a target that cannot be built leaves
// the running set untouched and Apply returns why.
func (m *Monitor) Apply(cfg *config.Config) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	wanted := map[string]config.Target{}
	for _, t := range cfg.Targets {
		wanted[t.Name] = t
	}
	built := map[string]*target{}
	var errs []error
	for name, tc := range wanted {
		if old, ok := m.targets[name]; ok && reflect.DeepEqual(old.cfg, tc) {
			continue
		}
		t, err := m.opts.build(tc, m)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", name, err))
			continue
		}
		built[name] = t
	}
	if len(errs) > 0 {
		for _, t := range built {
			if t.closer != nil {
				t.closer()
			}
		}
		return errors.Join(errs...)
	}

	for name, old := range m.targets {
		if _, keep := wanted[name]; keep && built[name] == nil {
			continue
		}
		m.stopLocked(old)
		delete(m.targets, name)
		if _, keep := wanted[name]; !keep {
			m.opts.Metrics.ForgetTarget(name)
			if m.opts.Reviews != nil {
				m.opts.Reviews.TargetRemoved(name)
			}
			m.log.Info("target removed", zap.String("target", name))
		}
	}
	for name, t := range built {
		m.targets[name] = t
		m.opts.Metrics.InitTarget(name)
		if m.opts.Reviews != nil && t.recorder != nil {
			m.opts.Reviews.TargetAdded(t.cfg, t.recorder)
		}
		t.runner.ensureConfiguredDeployment()
		if m.runCtx != nil {
			if err := m.startLocked(t, len(built)); err != nil {
				return err
			}
		}
		m.log.Info("target watched", zap.String("target", name), zap.String("api_url", t.cfg.APIURL.String()), zap.String("schedule", scheduleSpec(t.cfg.Schedule)))
	}
	return nil
}

// startLocked starts a target's watcher, its API probe, its cron entry and
// a first round right away, so that results appear without waiting for the
// first tick. When it is one of more than config.SpreadStartsAbove targets
// started at once (batch), its first round and first dial wait their
// startOffsets instead, and its ticks follow its first round.
func (m *Monitor) startLocked(t *target, batch int) error {
	ctx, cancel := context.WithCancel(m.runCtx)
	t.job = cron.NewChain(cron.SkipIfStillRunning(cronLogger{m.log.Named("cron")})).Then(cron.FuncJob(func() {
		t.runner.round(ctx)
	}))
	every, isInterval := scheduleInterval(t.cfg.Schedule)
	if !isInterval {
		id, err := m.cron.AddJob(scheduleSpec(t.cfg.Schedule), t.job)
		if err != nil {
			cancel()
			return fmt.Errorf("target %s: schedule %q: %w", t.cfg.Name, scheduleSpec(t.cfg.Schedule), err)
		}
		t.entryID = id
	}
	t.cancel, t.done = cancel, make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(t.done)
		// The first round, right away, the interval's ticks and the API
		// probe (on the stream's changes) run beside the watcher.
		var side sync.WaitGroup
		t.runner.reannounceChecks(m.opts.Now())
		roundWait, dialWait := startOffsets(t.cfg.Name, t.cfg.Schedule, batch)
		var period time.Duration
		if isInterval {
			period = m.opts.Wait(every)
		}
		rounds := startRoundTimer(m.opts.Wait(roundWait), period, &side, t.job.Run)
		if t.probe != nil {
			t.probe.start(ctx, t.runner, t.job.Run)
		}
		if t.watcher != nil && clock.Sleep(ctx, dialWait) {
			if err := t.watcher.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				m.log.Warn("telemetry watcher stopped", zap.String("target", t.cfg.Name), zap.Error(err))
			}
		}
		<-ctx.Done()
		rounds.stop()
		if t.probe != nil {
			t.probe.stop()
		}
		side.Wait()
	}()
	return nil
}

// stopLocked stops a target's schedule and watcher and waits for them.
func (m *Monitor) stopLocked(t *target) {
	if t.entryID != 0 {
		m.cron.Remove(t.entryID)
	}
	if t.cancel != nil {
		t.cancel()
		<-t.done
	}
	if t.closer != nil {
		t.closer()
	}
}

// Run starts every target and the scheduler, and returns when ctx is done,
// after the scheduled rounds in flight finished and every watcher stopped.
func (m *Monitor) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errors.New("monitor: Run called twice")
	}
	m.runCtx = ctx
	names := make([]string, 0, len(m.targets))
	for name := range m.targets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := m.startLocked(m.targets[name], len(names)); err != nil {
			m.mu.Unlock()
			return err
		}
	}
	m.cron.Start()
	m.mu.Unlock()

	hl := m.opts.Health.Register("monitor")
	defer hl.Unregister()
	feedEvery := m.opts.Wait(config.ReviewFeedInterval)
	feed := time.NewTicker(feedEvery)
	defer feed.Stop()
	for {
		hl.Busy()
		failpoint.Wedge(fpWedgeMonitor)
		hl.For(feedEvery)
		select {
		case <-feed.C:
			// fedUntil belongs to this loop; the lock only guards the map.
			now := m.opts.Now()
			m.mu.Lock()
			targets := make([]*target, 0, len(m.targets))
			for _, t := range m.targets {
				targets = append(targets, t)
			}
			m.mu.Unlock()
			for _, t := range targets {
				t.feedSamples(ctx, now)
			}
		case <-ctx.Done():
			<-m.cron.Stop().Done()
			m.mu.Lock()
			for _, t := range m.targets {
				m.stopLocked(t)
			}
			m.mu.Unlock()
			m.wg.Wait()
			return nil
		case name := <-m.kicks:
			m.mu.Lock()
			if t, ok := m.targets[name]; ok && t.job != nil {
				// SkipIfStillRunning keeps it from overlapping a scheduled round.
				m.wg.Go(t.job.Run)
			}
			m.mu.Unlock()
		}
	}
}

// fpWedgeMonitor wedges Run at the top of its loop (the liveness tests).
var fpWedgeMonitor = failpoint.Declare("wedge-monitor")

// kick asks for an immediate round of the named target (a restart was
// seen on its telemetry). It never blocks: a kick already queued is enough.
func (m *Monitor) kick(name string) {
	select {
	case m.kicks <- name:
	default:
	}
}

// StartDeployment records a deployment that an operator or a CI job
// declares (POST /api/v1/deployments), with their note.
func (m *Monitor) StartDeployment(targetName, version, note string, at time.Time) (store.Deployment, error) {
	m.mu.Lock()
	t, ok := m.targets[targetName]
	m.mu.Unlock()
	if !ok {
		return store.Deployment{}, fmt.Errorf("%w: %q (configured: %s)", ErrUnknownTarget, targetName, m.targetNames())
	}
	return t.runner.startDeployment(store.Deployment{Target: targetName, Version: version, StartedAt: at, Source: store.SourceAPI, Note: note})
}

// ErrUnknownTarget is returned for a target name that is not configured.
var ErrUnknownTarget = errors.New("unknown target")

func (m *Monitor) targetNames() string { return fmt.Sprint(m.TargetNames()) }

// TargetCount is how many targets are configured: what TargetNames lists,
// without building the list.
func (m *Monitor) TargetCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.targets)
}

// TargetNames lists the configured targets, sorted.
func (m *Monitor) TargetNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.targets))
	for n := range m.targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// cronLogger adapts zap to robfig/cron's logger.
type cronLogger struct{ log *zap.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug(msg, zap.Any("details", kv))
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, zap.Error(err), zap.Any("details", kv))
}
