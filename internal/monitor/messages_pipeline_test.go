package monitor_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// The message tests run every rule, check and condition through the path
// production takes: the monitor's tables make the events (the rule engine
// for rules, a target's runner for checks and conditions), the daemon's
// alert manager (an event.Sink, as in the daemon) tracks them, and a real manager
// groups them into the messages the sinks render. They run in a
// testing/synctest bubble: the manager's timers are fake, so an hour of
// alerting takes milliseconds.

// pipeline is a running alert manager fed by the monitor's events. It is
// an event.Sink, as the daemon's alerting is.
type pipeline struct {
	t      *testing.T
	now    func() time.Time
	st     *store.Store
	m      *alert.Manager
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
}

// recorder is an Enqueuer that keeps the messages the manager queues.
type recorder struct {
	mu   sync.Mutex
	msgs []alert.Message
}

func (r *recorder) Enqueue(m alert.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// since returns the messages queued after the first n.
func (r *recorder) since(n int) []alert.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alert.Message(nil), r.msgs[n:]...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// deployedAgo is how long before the tests' base time the deployment of
// every target started.
const deployedAgo = 2 * time.Hour

// startPipeline runs a manager with groupBy in the calling bubble, on a
// clock that starts at testkit.BaseTime. Links come from templates, as the
// config's runbook_url and dashboard_url.
func startPipeline(t *testing.T, groupBy ...string) *pipeline {
	t.Helper()
	base, start := testkit.BaseTime(t), time.Now()
	now := func() time.Time { return base.Add(time.Since(start)) }
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true, Now: now}))
	if err != nil {
		t.Fatal(err)
	}
	s := alert.SettingsFrom(config.Default().Alerting)
	s.GroupBy = groupBy
	s.GroupWait, s.GroupInterval, s.RepeatInterval = time.Second, time.Second, 24*time.Hour
	s.SendResolved, s.GracePeriod = true, 0
	s.RunbookURL = "https://runbooks.example.com/spacetime/{{.Alert}}"
	s.DashboardURL = "https://grafana.example.com/d/spacetime-watch?var-target={{.Target}}"
	dep := &alert.Deployment{ID: "deploy-42", Version: "v2.4.1", StartedAt: base.Add(-deployedAgo)}
	p := &pipeline{t: t, now: now, st: st, rec: &recorder{}, done: make(chan error, 1)}
	p.m, err = alert.NewManager(alert.ManagerOptions{Store: st, Out: p.rec, Settings: s, Now: now,
		Deployment: func(string) *alert.Deployment { return dep }})
	if err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, p.cancel = context.WithCancel(context.Background())
	go func() { p.done <- p.m.Run(ctx) }()
	synctest.Wait()
	return p
}

// Handle hands a monitor event to the manager, as the daemon does.
func (p *pipeline) Handle(ev event.Event) { p.m.Handle(ev) }

// settle lets the manager notify what is due: past group_wait and
// group_interval.
func (p *pipeline) settle() {
	time.Sleep(3 * time.Second)
	synctest.Wait()
}

// stop ends the manager and closes the store.
func (p *pipeline) stop() {
	p.cancel()
	if err := <-p.done; err != nil {
		p.t.Errorf("manager: %v", err)
	}
	if err := p.st.Close(); err != nil {
		p.t.Errorf("store: %v", err)
	}
}

// targetConfig is a target as the config builds it: one failure makes a
// check fail, one pass recovers it, and its token comes from a file.
func targetConfig(name string) *config.Target {
	t := &config.Target{Name: name, TokenFile: "/etc/spacetime-watch/" + name + ".token"}
	t.Checks.FailureThreshold, t.Checks.SuccessThreshold = 1, 1
	t.TLS = config.Default().Defaults.TLS
	return t
}

// episode is one alert's life as the tests drive it: what makes it fire,
// and what makes it resolve.
type episode struct {
	alert         string
	fire, resolve func(d *driver)
}

// driver drives the monitor of one target: a rule engine and a runner.
type driver struct {
	p      *pipeline
	target string
	engine *monitor.RuleEngine
	runner *monitor.ChecksRunner
}

func newDriver(t *testing.T, p *pipeline, target string) *driver {
	t.Helper()
	e, err := monitor.NewRuleEngine(monitor.RuleConfigFrom(config.Default().Targets[0]))
	if err != nil {
		t.Fatal(err)
	}
	return &driver{p: p, target: target, engine: e,
		runner: monitor.NewChecksRunner(targetConfig(target), p.st, p, p.now)}
}

// emit hands the rule engine's events, which name no target, to the
// pipeline as the watcher does: with the driver's target.
func (d *driver) emit(evs []event.Event) {
	for _, ev := range evs {
		ev.Target = d.target
		d.p.Handle(ev)
	}
}

// samples feeds a telemetry sample every interval for dur: sample(elapsed)
// with At set to now.
func (d *driver) samples(dur, interval time.Duration, sample func(elapsed time.Duration) monitor.Sample) {
	for elapsed := time.Duration(0); elapsed < dur; elapsed += interval {
		time.Sleep(interval)
		s := sample(elapsed)
		s.At = d.p.now()
		d.emit(d.engine.Observe(s, nil))
	}
	synctest.Wait()
}

// stream reports the telemetry connection's state, then lets dur pass
// with the engine ticking.
func (d *driver) stream(s monitor.StreamState, dur time.Duration) {
	d.emit(d.engine.SetStream(s, d.p.now(), nil))
	for elapsed := time.Duration(0); elapsed < dur; elapsed += 5 * time.Second {
		time.Sleep(5 * time.Second)
		d.emit(d.engine.Tick(d.p.now(), nil))
	}
	synctest.Wait()
}

// round applies one round of check results.
func (d *driver) round(results ...monitor.CheckResult) {
	d.runner.Apply(results, d.p.now())
	synctest.Wait()
}

// run drives e and returns the messages that name its alert: those queued
// while it fired, and those queued while it resolved.
func (p *pipeline) run(d *driver, e episode) (firing, resolved []alert.Message) {
	n := p.rec.count()
	e.fire(d)
	p.settle()
	firing = naming(p.rec.since(n), e.alert)
	n = p.rec.count()
	e.resolve(d)
	p.settle()
	return firing, naming(p.rec.since(n), e.alert)
}

// naming keeps the messages with an alert named name.
func naming(msgs []alert.Message, name string) []alert.Message {
	var out []alert.Message
	for _, m := range msgs {
		for _, a := range m.Alerts {
			if a.Name == name {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// steady is telemetry at fps and memory MB for dur, a sample a second.
func steady(fps, memoryMB float64, dur time.Duration) func(*driver) {
	return func(d *driver) {
		d.samples(dur, time.Second, func(time.Duration) monitor.Sample {
			return monitor.Sample{FPS: fps, HasFPS: true, MemoryMB: memoryMB, HasMemory: true}
		})
	}
}

// ruleEpisodes make each rule of the rule table fire and resolve on the
// default thresholds. A rule added to the table needs its episode here.
var ruleEpisodes = map[string]episode{
	monitor.RuleFPSCritical: {fire: steady(30, 300, 2*time.Minute), resolve: steady(90, 300, 2*time.Minute)},
	monitor.RuleFPSLow:      {fire: steady(60, 300, 2*time.Minute), resolve: steady(90, 300, 2*time.Minute)},
	monitor.RuleFPSHigh:     {fire: steady(120, 300, 2*time.Minute), resolve: steady(90, 300, 2*time.Minute)},
	monitor.RuleMemoryHigh:  {fire: steady(90, 480, 2*time.Minute), resolve: steady(90, 300, 2*time.Minute)},
	monitor.RuleMemoryGrowth: {
		fire: func(d *driver) { // 12 MB/min from 100 MB, for 20 minutes
			d.samples(20*time.Minute, 2*time.Second, func(el time.Duration) monitor.Sample {
				return monitor.Sample{FPS: 90, HasFPS: true, MemoryMB: 100 + 12*el.Minutes(), HasMemory: true}
			})
		},
		resolve: steady(90, 340, 20*time.Minute),
	},
	monitor.RuleTelemetryDown: {
		fire: func(d *driver) {
			steady(90, 300, 10*time.Second)(d)
			d.stream(monitor.StreamDisconnected, 3*time.Minute)
		},
		resolve: func(d *driver) { d.stream(monitor.StreamConnected, 0); steady(90, 300, 2*time.Minute)(d) },
	},
	monitor.RuleTelemetrySilent: {
		fire:    func(d *driver) { steady(90, 300, 10*time.Second)(d); d.stream(monitor.StreamSilent, 3*time.Minute) },
		resolve: func(d *driver) { d.stream(monitor.StreamConnected, 0); steady(90, 300, 2*time.Minute)(d) },
	},
	monitor.RuleMemoryUnwatched: {
		fire: func(d *driver) { // the binary encoding: FPS only
			d.samples(2*time.Minute, time.Second, func(time.Duration) monitor.Sample {
				return monitor.Sample{FPS: 90, HasFPS: true}
			})
		},
		resolve: steady(90, 300, 2*time.Minute),
	},
}

// upAnd is a round in which the instance answers and results follow.
func upAnd(results ...monitor.CheckResult) []monitor.CheckResult {
	return append([]monitor.CheckResult{passing(config.CheckInstanceUp)}, results...)
}

// checkEpisode makes check c fail with its failing result, then pass.
func checkEpisode(c config.CheckName) episode {
	return episode{
		alert: "check_" + string(c),
		fire: func(d *driver) {
			if c == config.CheckInstanceUp {
				d.round(failing(c))
				return
			}
			d.round(upAnd(failing(c))...)
		},
		resolve: func(d *driver) { d.round(upAnd(passing(c))...) },
	}
}

// conditionCauses are the causes that raise each token condition: checks
// failing with them make the condition fire.
var conditionCauses = map[string]struct{ cause, observed, reason string }{
	monitor.ConditionTokenExpired:  {monitor.CauseTokenExpired, "HTTP 401", "token expired: the instance must be restarted"},
	monitor.ConditionTokenRejected: {monitor.CauseTokenRejected, "HTTP 401", "GET /scene refused the token with HTTP 401 (wrong token?)"},
}

// conditionEpisode makes the checks that need the token fail with the
// condition's cause, then pass.
func conditionEpisode(name string) episode {
	cc := conditionCauses[name]
	refused := func(c config.CheckName) monitor.CheckResult {
		r := failing(c)
		r.Cause, r.Observed, r.Reason = cc.cause, cc.observed, strings.Replace(cc.reason, "/scene", "/"+string(c), 1)
		return r
	}
	return episode{
		alert:   name,
		fire:    func(d *driver) { d.round(upAnd(refused(config.CheckScene), refused(config.CheckAuth))...) },
		resolve: func(d *driver) { d.round(upAnd(passing(config.CheckScene), passing(config.CheckAuth))...) },
	}
}

// certEpisode serves a certificate 10 days from expiry (a warning), then
// a renewed one.
var certEpisode = episode{
	fire: func(d *driver) {
		d.runner.ApplyCert(spacetime.PeerCert{NotAfter: d.p.now().Add(10 * 24 * time.Hour), Subject: "vr.example.com"}, d.p.now())
		synctest.Wait()
	},
	resolve: func(d *driver) {
		d.runner.ApplyCert(spacetime.PeerCert{NotAfter: d.p.now().Add(90 * 24 * time.Hour), Subject: "vr.example.com"}, d.p.now())
		synctest.Wait()
	},
}

// episodes are one per alert the monitor raises (monitor.ConditionNames),
// in that order; the test fails for a name it cannot drive.
func episodes(t *testing.T) []episode {
	var out []episode
	for _, name := range monitor.ConditionNames() {
		var e episode
		if r, ok := ruleEpisodes[name]; ok {
			e = r
		} else if c, ok := strings.CutPrefix(name, "check_"); ok && config.CheckName(c).Valid() {
			e = checkEpisode(config.CheckName(c))
		} else if _, ok := conditionCauses[name]; ok {
			e = conditionEpisode(name)
		} else if name == monitor.ConditionTLSCertExpiring {
			e = certEpisode
		} else {
			t.Errorf("no episode drives %s: add one (rule, check or condition)", name)
			continue
		}
		e.alert = name
		out = append(out, e)
	}
	return out
}
