package alert

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Enqueuer takes a notification for delivery. The outbox implements it:
// when Enqueue returns nil the message is durable (in the store) and will
// be delivered at least once to every sink. An error means it is not, and
// the manager tries again later.
type Enqueuer interface {
	Enqueue(Message) error
}

// EnqueuerFunc adapts a function to Enqueuer (tests, the demo).
type EnqueuerFunc func(Message) error

// Enqueue calls f.
func (f EnqueuerFunc) Enqueue(m Message) error { return f(m) }

// InternalTarget is the target of the daemon's own alerts (RaiseInternal).
const InternalTarget = "spacetime-watch"

// The daemon's own alerts, on InternalTarget.
const (
	// AlertNotificationsFailing: a sink gave a notification up (dead letter).
	AlertNotificationsFailing = "NotificationsFailing"
	// AlertStateRecovered: the state dir was damaged and recovered at start.
	AlertStateRecovered = "StateRecovered"
	// AlertStateUnreadable: a stored alert state document could not be read.
	AlertStateUnreadable = "AlertStateUnreadable"
)

// InternalAlertNames lists the daemon's own alerts.
func InternalAlertNames() []string {
	return []string{AlertNotificationsFailing, AlertStateRecovered, AlertStateUnreadable}
}

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	// Store keeps the alert states, group pacing and silences across
	// restarts (keys "alert/state" and "alert/silences"). Nil: in memory
	// only (tests, demo).
	Store *store.Store
	// Out takes the notifications; required.
	Out Enqueuer
	// Settings are the lifecycle's knobs; build them with SettingsFrom.
	Settings Settings
	// Now is the wall clock. Default clock.Now. Timers run on the runtime
	// clock, which testing/synctest fakes.
	Now func() time.Time
	// Wait is how long the wall clock takes for a span of Now's clock to
	// pass: Run sleeps Wait(until the next step) so that group_wait and
	// friends keep pace with a scaled Now (the demo's). Default clock.Wait.
	Wait func(time.Duration) time.Duration
	// Logger logs notifications and failures. Default: no logs.
	Logger *zap.Logger
	// Registerer gets the manager's metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// Health, when set, registers Run's loop as "alert-manager". Default: none.
	Health *health.Registry
	// Deployment returns the target's current deployment, or nil when
	// unknown: the grace period counts from its StartedAt and messages
	// carry it. Called from the manager's goroutine; it must be safe for
	// concurrent use and quick (an in-memory or store lookup). Default:
	// always nil (no grace).
	Deployment func(target string) *Deployment
}

// Manager is the alert lifecycle: it turns condition events into grouped,
// paced notifications for the outbox. Handle, RaiseInternal, Alerts,
// Silences, AddSilence, ExpireSilence and UpdateSettings are safe from any
// goroutine; the alert state itself is owned by Run's goroutine, which
// applies events in the order they were handled.
type Manager struct {
	log  *zap.Logger
	now  func() time.Time
	wait func(time.Duration) time.Duration // Now's pace: the real sleep for a span of it
	out  Enqueuer
	st   *store.Store
	// atomicOut is out when it is the outbox on st: the state is then
	// written with each message it queues (see enqueue).
	atomicOut *Outbox
	depOf     func(string) *Deployment
	metrics   *managerMetrics
	health    *health.Registry

	silences silences

	inboxMu      sync.Mutex
	inbox        []event.Event // events not yet applied
	nextSettings *compiled     // settings not yet applied
	wake         chan struct{}

	// safe is set in safe mode; safeEnd is when its first poll ended (Unix
	// ns), 0 while it runs (manager_safe.go).
	safe    atomic.Bool
	safeEnd atomic.Int64
	// rewrite asks the next step to write the alert state (Rewrite).
	rewrite atomic.Bool

	running atomic.Bool
	view    atomic.Pointer[[]Alert] // published by the owner after each step

	// Owned by Run's goroutine (by NewManager before Run starts).
	settings   *compiled
	alerts     map[string]*alertState // by fingerprint
	groups     map[string]*groupState // by group key
	exported   map[string]series      // spacetime_alerts_firing series by fingerprint
	dirty      bool                   // alerts or groups changed since the last write
	persistAt  time.Time              // after a failed write, the next attempt
	lastWarned string                 // last persist error logged, to log a failure once
}

// Retry delays after a failed enqueue or state write: short, since both
// are local (the store), and a notification is waiting.
const (
	enqueueRetry = 10 * time.Second
	persistRetry = 10 * time.Second
)

// NewManager checks the settings and restores the alert states, group
// pacing and silences from the store. An unreadable state document does
// not stop the daemon: it is kept aside under "alert/state.damaged", the
// manager starts empty and raises AlertStateUnreadable, since a daemon
// that cannot start alerts nobody.
func NewManager(opts ManagerOptions) (*Manager, error) {
	if opts.Out == nil {
		return nil, errors.New("alert: ManagerOptions.Out is nil: the manager needs an Enqueuer (the outbox)")
	}
	c, err := compileSettings(opts.Settings)
	if err != nil {
		return nil, fmt.Errorf("alert: %w", err)
	}
	m := &Manager{
		log:      opts.Logger,
		now:      opts.Now,
		wait:     opts.Wait,
		out:      opts.Out,
		st:       opts.Store,
		depOf:    opts.Deployment,
		health:   opts.Health,
		wake:     make(chan struct{}, 1),
		settings: c,
		alerts:   map[string]*alertState{},
		groups:   map[string]*groupState{},
		exported: map[string]series{},
	}
	if ob, ok := opts.Out.(*Outbox); ok && m.st != nil && ob.store == m.st {
		m.atomicOut = ob
	}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	if m.now == nil {
		m.now = clock.Now
	}
	if m.wait == nil {
		m.wait = clock.Wait
	}
	if m.depOf == nil {
		m.depOf = func(string) *Deployment { return nil }
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if err := m.restore(); err != nil {
		return nil, err
	}
	m.metrics = newManagerMetrics(reg, func() float64 { return float64(m.silences.activeCount(m.now())) })
	for _, a := range m.alerts {
		m.renderLinks(a)
	}
	now := m.now()
	m.refresh(now, m.silences.snapshot())
	m.metrics.syncFiring(m.alerts, m.exported)
	m.publish()
	return m, nil
}

// restore loads the state documents from the store.
// Now is the manager's clock: what silences and alert times are measured
// against.
func (m *Manager) Now() time.Time { return m.now() }

func (m *Manager) restore() error {
	if m.st == nil {
		return nil
	}
	b, ok, err := m.st.GetMeta(metaKeyState)
	if err != nil {
		return fmt.Errorf("alert: read the alert state from the store: %w", err)
	}
	if ok {
		alerts, groups, err := decodeState(b)
		if err != nil {
			m.damaged(metaKeyState, b, err)
		} else {
			m.alerts, m.groups = alerts, groups
		}
	}
	b, ok, err = m.st.GetMeta(metaKeySilences)
	if err != nil {
		return fmt.Errorf("alert: read the silences from the store: %w", err)
	}
	if ok {
		list, err := decodeSilences(b)
		if err != nil {
			m.damaged(metaKeySilences, b, err)
		} else {
			sortSilences(list)
			m.silences.list = list
		}
	}
	return nil
}

// damaged handles an unreadable state document: keep it for a
// post-mortem, start without it, and tell people through an alert.
func (m *Manager) damaged(key string, b []byte, err error) {
	m.log.Error("alert state unreadable: starting without it; alerts firing now may be notified again",
		zap.String("key", key), zap.Error(err))
	if perr := m.st.PutMeta(metaKeyDamaged, b); perr != nil {
		m.log.Error("could not keep the unreadable alert state aside", zap.String("key", metaKeyDamaged), zap.Error(perr))
	}
	m.RaiseInternal(AlertStateUnreadable, SeverityWarning,
		fmt.Sprintf("the stored %s could not be read (%v); alerts may be notified again", key, err), true)
}

// Handle takes a condition's transition. It never blocks on the manager's
// goroutine: events queue (without bound: Run must be running) until Run
// applies them, in order. Applying is idempotent, so the daemon may replay
// the monitor's current states after a start: a firing event for an alert
// already notified only refreshes its annotations, and a resolved event
// for an alert not tracked is ignored. Events without Target or Alert are
// dropped with a warning.
func (m *Manager) Handle(ev event.Event) {
	m.inboxMu.Lock()
	m.inbox = append(m.inbox, ev)
	m.inboxMu.Unlock()
	m.poke()
}

// RaiseInternal raises (firing) or clears a daemon-level alert such as
// NotificationsFailing, on target InternalTarget.
func (m *Manager) RaiseInternal(name string, severity Severity, reason string, firing bool) {
	now := m.now()
	m.Handle(event.Event{
		Target: InternalTarget, Name: name, Kind: event.KindCondition, Severity: severity, State: event.StateOf(firing),
		At: now, Since: now, Reason: reason,
	})
}

// UpdateSettings checks s and, when valid, has Run use it from its next
// step; on error the current settings stay. Alerts are regrouped under
// the new group_by; held alerts keep the grace they were given.
func (m *Manager) UpdateSettings(s Settings) error {
	c, err := compileSettings(s)
	if err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	m.inboxMu.Lock()
	m.nextSettings = c
	m.inboxMu.Unlock()
	m.poke()
	return nil
}

// Alerts returns every tracked alert, including pending (held by grace or
// waiting for their first notification), silenced ones, and resolved ones
// whose resolution is not yet notified: firing first, then pending, then
// resolved, each most severe first. It reflects Run's last step.
func (m *Manager) Alerts() []Alert {
	return slices.Clone(*m.view.Load())
}

// Silences returns the silences, pending (starting later), active, and
// those that ended within the last 24 hours, by start time, each with its
// State.
func (m *Manager) Silences() []Silence {
	now := m.now()
	list := pruneSilences(m.silences.snapshot(), now)
	for i := range list {
		list[i].State = list[i].StateAt(now)
	}
	return list
}

// AddSilence checks s, gives it an ID, and stores it; the returned silence
// is on disk. Errors name the field: at least one matcher and a comment are
// required, ends_at must be in the future and after starts_at (a zero or
// past starts_at means now), id must be empty. Whether a matcher names a
// target or an alert that exists is the caller's business (the daemon
// knows them).
func (m *Manager) AddSilence(s Silence) (Silence, error) {
	now := m.now()
	var added Silence
	err := m.silences.update(now, func(list []Silence) ([]Silence, error) {
		var err error
		added, list, err = addSilence(list, s, now)
		return list, err
	}, m.saveSilences)
	if err != nil {
		return Silence{}, err
	}
	m.log.Info("silence added", zap.String("silence_id", added.ID), zap.Stringer("matchers", added.Matchers),
		zap.Time("starts_at", added.StartsAt), zap.Time("ends_at", added.EndsAt), zap.String("created_by", added.CreatedBy))
	m.poke()
	added.State = added.StateAt(now)
	return added, nil
}

// ExpireSilence ends now the silence ref names: its ID, or a prefix of it
// in any case (of several silences it starts, the one not yet ended). It
// returns that silence. Errors
// match ErrSilenceNotFound, ErrSilenceAmbiguous (naming the candidates) or
// ErrSilenceEnded. Alerts it muted and that still fire are notified.
func (m *Manager) ExpireSilence(ref string) (Silence, error) {
	now := m.now()
	var expired Silence
	err := m.silences.update(now, func(list []Silence) ([]Silence, error) {
		var err error
		expired, list, err = expireSilence(list, ref, now)
		return list, err
	}, m.saveSilences)
	if err != nil {
		return Silence{}, err
	}
	m.log.Info("silence expired", zap.String("silence_id", expired.ID), zap.Stringer("matchers", expired.Matchers))
	m.poke()
	expired.State = SilenceExpired
	return expired, nil
}

func (m *Manager) saveSilences(list []Silence) error {
	if m.st == nil {
		return nil
	}
	b, err := encodeSilences(list)
	if err == nil {
		err = m.st.PutMeta(metaKeySilences, b)
	}
	if err != nil {
		return fmt.Errorf("silence: save to the store: %w", err)
	}
	return nil
}

// poke wakes Run without blocking: one pending wake is enough, since a
// step takes everything queued.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// takeInbox returns and clears the queued events and settings.
func (m *Manager) takeInbox() ([]event.Event, *compiled) {
	m.inboxMu.Lock()
	defer m.inboxMu.Unlock()
	events, c := m.inbox, m.nextSettings
	m.inbox, m.nextSettings = nil, nil
	return events, c
}
