package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// runnerDeps are what a target's runner calls out to; tests replace them.
type runnerDeps struct {
	// checks runs one scheduled round of checks.
	checks func(ctx context.Context) []CheckResult
	// status fetches /status, for restart and deployment detection.
	status func(ctx context.Context) (*spacetime.Status, error)
	// instanceUp runs check 1 alone: the probe of the API when the
	// telemetry stream drops.
	instanceUp func(ctx context.Context) CheckResult
	// peerCert is the certificate chain the API presented last (https
	// only); nil, or false, when there is none to watch.
	peerCert func() (spacetime.PeerCert, bool)
}

// runnerSettings are the parts of a target's config the runner applies.
type runnerSettings struct {
	failureThreshold int
	successThreshold int
	timeout          time.Duration
	autoDetect       bool
	// tokenHint says how to fix a refused token, for the target's source.
	tokenHint string
	// certWarning and certCritical are how long before its certificate's
	// expiry tls_cert_expiring is a warning, and critical.
	certWarning, certCritical time.Duration
	// configured is the deployment the config file declares, if any.
	configured *store.Deployment
}

func settingsFromConfig(t *config.Target) runnerSettings {
	s := runnerSettings{
		failureThreshold: t.Checks.FailureThreshold,
		successThreshold: t.Checks.SuccessThreshold,
		timeout:          t.Schedule.Timeout,
		autoDetect:       t.Deployment.AutoDetect,
		tokenHint:        tokenHint(t),
		certWarning:      t.TLS.ExpiryWarning,
		certCritical:     t.TLS.ExpiryCritical,
	}
	if !t.Deployment.StartedAt.IsZero() {
		s.configured = &store.Deployment{Target: t.Name, Version: t.Deployment.Version, StartedAt: t.Deployment.StartedAt, Source: store.SourceConfig}
	}
	return s
}

// targetRunner owns the scheduled side of one target: each round of checks,
// the hysteresis that turns results into failing/recovered conditions,
// restart and deployment detection, and what the store keeps of them.
// Rounds never overlap (the scheduler skips a tick while one runs), but the
// status API reads its state concurrently, hence the mutex.
type targetRunner struct {
	name     string
	settings runnerSettings
	deps     runnerDeps
	metrics  *Metrics
	store    *store.Store
	sink     event.Sink
	log      *zap.Logger
	now      func() time.Time
	// saveRules persists the telemetry rules' state after each round; nil
	// when the target has no telemetry.
	saveRules func()
	// recorder, when set, receives what the reviews need of each round.
	recorder *review.Recorder

	// deployMu serialises deployment decisions: a deployment declared
	// through the API must not be overtaken by an auto-detected one whose
	// decision read the store before it.
	deployMu sync.Mutex

	mu         sync.Mutex
	hysteresis map[config.CheckName]*checkHysteresis
	// savedHysteresis is the hysteresis as the store holds it (encoded),
	// so that a round that changes nothing writes nothing.
	savedHysteresis []byte
	// cert is where the target's TLS certificate stands (tls_cert_expiring).
	cert      certState
	last      []CheckResult
	lastRound time.Time
	tokenExp  time.Time
}

func newTargetRunner(name string, settings runnerSettings, deps runnerDeps, m *Metrics, st *store.Store, sink event.Sink, log *zap.Logger, now func() time.Time) *targetRunner {
	r := &targetRunner{
		name: name, settings: settings, deps: deps, metrics: m, store: st, sink: sink,
		log: log, now: now, hysteresis: map[config.CheckName]*checkHysteresis{},
	}
	r.restoreHysteresis()
	return r
}

// hysteresisKey is the rule-state key under which check hysteresis is kept.
const hysteresisKey = "checks"

// persistedHysteresis is checkHysteresis as the store keeps it.
type persistedHysteresis struct {
	Failures int        `json:"failures"`
	Passes   int        `json:"passes"`
	Failing  bool       `json:"failing"`
	Since    time.Time  `json:"since"`
	Rule     string     `json:"rule,omitempty"`
	Severity Severity   `json:"severity,omitempty"`
	Kind     event.Kind `json:"kind,omitempty"`
	Cause    string     `json:"cause,omitempty"`
	// Fired is the firing event while the check fails (absent in state
	// written before it was kept: nothing is re-announced then).
	Fired *event.Event `json:"fired,omitempty"`
}

// reannounceChecks hands the sink the firing event of each check restored
// failing, at now: an alert manager killed before it wrote the original
// down learns of it; one that did already tracks the alert. Rules restored
// firing are re-announced by the watcher (RuleEngine.Restored).
func (r *targetRunner) reannounceChecks(now time.Time) {
	if r.sink == nil {
		return
	}
	r.mu.Lock()
	var evs []event.Event
	for _, h := range r.hysteresis {
		if h.failing && h.fired != nil {
			ev := *h.fired
			ev.At = now
			evs = append(evs, ev)
		}
	}
	r.mu.Unlock()
	for _, ev := range evs {
		r.log.Info("check restored failing; re-announced to the alert manager", zap.Object("event", ev))
		r.sink.Handle(ev)
	}
}

func (r *targetRunner) restoreHysteresis() {
	states, err := r.store.RuleStates(r.name)
	if err != nil {
		r.log.Warn("cannot read check state; starting afresh", zap.Error(err))
		return
	}
	r.restoreCert(states)
	b, ok := states[hysteresisKey]
	if !ok {
		return
	}
	r.savedHysteresis = b
	var saved map[config.CheckName]persistedHysteresis
	if err := json.Unmarshal(b, &saved); err != nil {
		r.log.Warn("check state is damaged; starting afresh", zap.Error(err))
		return
	}
	for c, p := range saved {
		r.hysteresis[c] = &checkHysteresis{failures: p.Failures, passes: p.Passes, failing: p.Failing, since: p.Since, rule: p.Rule, severity: p.Severity, kind: p.Kind, cause: p.Cause, fired: p.Fired}
	}
}

// saveHysteresisLocked stores the hysteresis when it differs from what the
// store holds. A round of passing checks usually changes nothing, and the
// write it saves is a synced transaction per target and round.
func (r *targetRunner) saveHysteresisLocked() {
	saved := make(map[config.CheckName]persistedHysteresis, len(r.hysteresis))
	for c, h := range r.hysteresis {
		saved[c] = persistedHysteresis{Failures: h.failures, Passes: h.passes, Failing: h.failing, Since: h.since, Rule: h.rule, Severity: h.severity, Kind: h.kind, Cause: h.cause, Fired: h.fired}
	}
	b, err := json.Marshal(saved) // sorted by check: equal states encode equal
	if err != nil {
		r.log.Warn("cannot save check state", zap.Error(err))
		return
	}
	if bytes.Equal(b, r.savedHysteresis) {
		return
	}
	if err := r.store.PutRuleState(r.name, hysteresisKey, b); err != nil {
		r.log.Warn("cannot save check state", zap.Error(err))
		return
	}
	r.savedHysteresis = b
}

// round runs one scheduled round: detect restarts and deployments, run the
// checks, and apply their results. It ends by the configured timeout.
func (r *targetRunner) round(parent context.Context) {
	ctx := parent
	if r.settings.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, r.settings.timeout)
		defer cancel()
	}
	r.observeInstance(ctx)
	results := r.deps.checks(ctx)
	if parent.Err() != nil {
		// The target was removed or the daemon is stopping: a cut-short
		// round would only record failures that did not happen.
		return
	}
	at := r.now()
	r.apply(results, at)
	if r.recorder != nil {
		r.recorder.ObserveChecks(checkRound(results, at))
	}
	if r.saveRules != nil {
		r.saveRules()
	}
}

// apply records a round's results: metrics, history, hysteresis and events.
func (r *targetRunner) apply(results []CheckResult, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	passed := 0
	records := make([]store.CheckRecord, 0, len(results))
	for _, res := range results {
		r.exportResult(res)
		if res.Status == CheckPass {
			passed++
		}
		records = append(records, checkRecord(res, at))
		r.stepLocked(res, at)
	}
	for _, c := range tokenConditions {
		r.stepLocked(conditionResult(c, results), at)
	}
	if r.deps.peerCert != nil {
		if pc, ok := r.deps.peerCert(); ok {
			r.applyCertLocked(pc, at)
		}
	}
	r.metrics.VerifyChecksPassed.WithLabelValues(r.name).Set(float64(passed))
	r.last, r.lastRound = results, at
	if err := r.store.RecordCheck(r.name, records...); err != nil {
		r.log.Warn("cannot record check results", zap.Error(err))
	}
	r.saveHysteresisLocked()
}

// exportResult sets a check result's series: duration (when it ran),
// success or skipped (one of the two), and spacetime_up for instance_up.
func (r *targetRunner) exportResult(res CheckResult) {
	name := string(res.Check)
	if res.Duration > 0 { // a check not run (skipped, not attempted) has none: its last run's stays
		r.metrics.CheckDuration.WithLabelValues(r.name, name).Set(res.Duration.Seconds())
	}
	if res.Status == CheckSkipped {
		r.metrics.CheckSkipped.WithLabelValues(r.name, name).Set(1)
		r.metrics.CheckSuccess.DeleteLabelValues(r.name, name)
		return
	}
	ok := 0.0
	if res.Status == CheckPass {
		ok = 1
	}
	r.metrics.CheckSkipped.DeleteLabelValues(r.name, name)
	r.metrics.CheckSuccess.WithLabelValues(r.name, name).Set(ok)
	if res.Check == config.CheckInstanceUp {
		r.metrics.Up.WithLabelValues(r.name).Set(ok)
	}
}

// checkRecord is a result as the store's history keeps it.
func checkRecord(res CheckResult, at time.Time) store.CheckRecord {
	return store.CheckRecord{
		Check: string(res.Check), At: at, Result: string(res.Status),
		Observed: res.Observed, Expected: res.Expected, Reason: res.Reason, Duration: res.Duration,
	}
}

func (r *targetRunner) stepLocked(res CheckResult, at time.Time) {
	h := r.hysteresis[res.Check]
	if h == nil {
		h = &checkHysteresis{}
		r.hysteresis[res.Check] = h
	}
	since := h.since
	transition := h.step(res, r.settings.failureThreshold, r.settings.successThreshold, at)
	if transition == 0 {
		return
	}
	ev := h.event(res, transition, since, r.settings.failureThreshold, r.settings.successThreshold, r.settings.tokenHint)
	ev.Target = r.name
	h.fired = nil
	if transition > 0 {
		h.fired = &ev
		r.log.Warn("check failing", zap.String("check", string(res.Check)), zap.Object("event", ev))
	} else {
		r.log.Info("check recovered", zap.String("check", string(res.Check)), zap.Object("event", ev))
	}
	if r.sink != nil {
		r.sink.Handle(ev)
	}
}

// runnerStatus is a target runner's state for /api/v1/status.
type runnerStatus struct {
	LastRound   time.Time          `json:"last_round,omitzero"`
	Checks      []CheckResult      `json:"checks"`
	Failing     []config.CheckName `json:"failing"`
	TokenExpiry time.Time          `json:"token_expiry,omitzero"`
}

func (r *targetRunner) status() runnerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := runnerStatus{LastRound: r.lastRound, Checks: append([]CheckResult(nil), r.last...), TokenExpiry: r.tokenExp, Failing: []config.CheckName{}}
	for _, c := range config.AllChecks() {
		if h := r.hysteresis[c]; h != nil && h.failing {
			s.Failing = append(s.Failing, c)
		}
	}
	return s
}
