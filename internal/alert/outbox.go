package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// The outbox makes notifications at-least-once and crash-safe: Enqueue
// writes a message to every sink's queue in the store, in one transaction,
// before it returns; a dispatcher goroutine per sink delivers its queue in
// order and removes a message only after the sink confirmed it. A SIGKILL
// at any point loses nothing; a duplicate is possible only when the kill
// falls between the sink's confirmation and the store's commit (the
// after-confirm failpoint, see package failpoint).

// OutboxOptions configures an Outbox. Build them with OutboxOptionsFrom,
// which takes every tunable from the config, then add the store, the sinks
// and the hooks. NewOutbox defaults no tunable (a zero one is an error
// naming it); the fields whose zero value is noted may be left out.
type OutboxOptions struct {
	// Store holds the queues and the dead letters. Required.
	Store *store.Store
	// Sinks are the notifiers to deliver to. Names must be unique and
	// non-empty; each names a queue in the store, so a renamed sink starts
	// an empty queue and its old one waits in the store (see UpdateSinks).
	Sinks []Notifier
	// MinInterval is the least time between two sends to a sink, by sink
	// name: 1s for Slack (1 message per second per channel). Default 0.
	MinInterval map[string]time.Duration
	// BackoffInitial is the wait after a message's first failed attempt;
	// it doubles after each further failure: the config's
	// alerting.outbox.backoff_initial (default 1s). Required.
	BackoffInitial time.Duration
	// BackoffMax caps the backoff; at least BackoffInitial. A sink's
	// Retry-After is honoured even when longer (up to maxRetryAfter): the
	// config's alerting.outbox.backoff_max (default 60s). Required.
	BackoffMax time.Duration
	// Jitter is the fraction of each backoff drawn at random: a wait d
	// becomes a random duration in [d·(1−Jitter), d], so that the cap holds
	// and sinks recovering together are not hit all at once. From 0 (none)
	// to 1: config.OutboxJitter (0.2).
	Jitter float64
	// AttemptTimeout bounds one delivery attempt: config.SinkAttemptLimit
	// (10s; config warns about a longer sink timeout). Required.
	AttemptTimeout time.Duration
	// StopGrace is how long an attempt in flight when Run's context ends
	// may go on before it is cancelled: finishing it avoids a duplicate
	// after the restart: config.OutboxStopGrace (5s; a graceful stop has
	// 10s in all). Required.
	StopGrace time.Duration
	// Now is the wall clock: a Message's default CreatedAt and the latency
	// metric. Waits use the runtime's monotonic timers. Default clock.Now.
	Now func() time.Time
	// Logger receives delivery failures (once per distinct error),
	// recoveries and dead letters. Default: no logging.
	Logger *zap.Logger
	// Registerer receives the outbox's metrics. Default: not exported.
	Registerer prometheus.Registerer
	// OnDeadLetter is called after a message was moved to sink's dead
	// letters, with the reason (free of secrets). The daemon raises
	// NotificationsFailing through the manager from it. It runs on the
	// sink's dispatcher goroutine: it may Enqueue, but must not block long.
	OnDeadLetter func(sink string, reason string)
	// Health, when set, registers each sink's dispatcher as the loop
	// "outbox/<sink>" (started and stopped with the sink, reloads
	// included). Default: none.
	Health *health.Registry
	// OnDelivered, when set, is called after a message was delivered and
	// removed from sink's queue, on the sink's dispatcher goroutine.
	OnDelivered func(sink string, m Message)
}

// maxSinkName is the store's bound on a queue's name.
const maxSinkName = 512

// maxRetryAfter bounds a sink's Retry-After: a bogus value of days would
// otherwise stall the sink's queue without a word.
const maxRetryAfter = time.Hour

// OutboxOptionsFrom returns the outbox's tunables as the config says: the
// retry backoff of alerting.outbox, and the outbox's own tuning that no key
// sets (config.OutboxJitter, config.SinkAttemptLimit,
// config.OutboxStopGrace). The caller adds the store, the sinks and the
// hooks.
func OutboxOptionsFrom(cfg config.Outbox) OutboxOptions {
	return OutboxOptions{
		BackoffInitial: cfg.BackoffInitial,
		BackoffMax:     cfg.BackoffMax,
		Jitter:         config.OutboxJitter,
		AttemptTimeout: config.SinkAttemptLimit,
		StopGrace:      config.OutboxStopGrace,
	}
}

// check reports every invalid option at once, naming its field.
func (o OutboxOptions) check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("outbox: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if o.Store == nil {
		bad("Store", "nil: the outbox keeps its queues in the store")
	}
	const build = "build the options with OutboxOptionsFrom"
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"BackoffInitial", o.BackoffInitial}, {"BackoffMax", o.BackoffMax},
		{"AttemptTimeout", o.AttemptTimeout}, {"StopGrace", o.StopGrace},
	} {
		if d.v <= 0 {
			bad(d.name, "must be positive, got %s: %s", d.v, build)
		}
	}
	if o.BackoffMax < o.BackoffInitial {
		bad("BackoffMax", "must be at least BackoffInitial (%s), got %s", o.BackoffInitial, o.BackoffMax)
	}
	if o.Jitter < 0 || o.Jitter > 1 {
		bad("Jitter", "must be from 0 (none) to 1, got %g", o.Jitter)
	}
	if err := checkOutboxSinks(o.Sinks); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// withDefaults fills the optional fields' zero values.
func (o OutboxOptions) withDefaults() OutboxOptions {
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Outbox is the durable, per-sink FIFO of notifications. Create it with
// NewOutbox, start delivery with Run; Enqueue may be called before Run.
// It is safe for concurrent use.
type Outbox struct {
	opts    OutboxOptions
	store   *store.Store
	log     *zap.Logger
	metrics *outboxMetrics

	// updateMu serialises UpdateSinks, which waits for removed sinks'
	// dispatchers without holding mu.
	updateMu sync.Mutex

	mu     sync.Mutex
	queues map[string]*sinkQueue // configured sinks, by name
	names  []string              // configured sink names, in config order
	runCtx context.Context       // Run's context while it runs
	ran    bool
	wg     sync.WaitGroup // the dispatchers

	// held is what the dispatchers read and have not settled, which the
	// store keeps when it replaces a damaged database.
	held heldOutbox
}

// NewOutbox checks opts and registers the metrics. It starts nothing.
func NewOutbox(opts OutboxOptions) (*Outbox, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	o := &Outbox{
		opts:   opts,
		store:  opts.Store,
		log:    opts.Logger.Named("outbox"),
		queues: map[string]*sinkQueue{},
	}
	o.metrics = newOutboxMetrics(o)
	if opts.Registerer != nil {
		if err := o.metrics.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("outbox: register metrics: %w", err)
		}
	}
	for _, n := range opts.Sinks {
		o.addLocked(n, opts.MinInterval[n.Name()])
	}
	return o, nil
}

// checkOutboxSinks refuses nil notifiers and empty, too long or repeated names.
func checkOutboxSinks(sinks []Notifier) error {
	seen := map[string]bool{}
	for i, n := range sinks {
		if n == nil {
			return fmt.Errorf("outbox: sinks[%d] is nil", i)
		}
		name := n.Name()
		switch {
		case name == "":
			return fmt.Errorf("outbox: sinks[%d] has an empty name", i)
		case len(name) > maxSinkName:
			return fmt.Errorf("outbox: sinks[%d]: name %.32q... is longer than %d bytes", i, name, maxSinkName)
		case seen[name]:
			return fmt.Errorf("outbox: sinks[%d]: name %q is used twice: sink names must be unique", i, name)
		}
		seen[name] = true
	}
	return nil
}

// addLocked configures a new sink; o.mu is held (or o is not shared yet).
func (o *Outbox) addLocked(n Notifier, interval time.Duration) *sinkQueue {
	q := newSinkQueue(n, interval)
	o.queues[q.name] = q
	o.names = append(o.names, q.name)
	o.metrics.initSink(q.name)
	o.keepRetryAfter(q)
	return q
}

// retryAfterKey is where a sink's Retry-After deadline (wall clock) is kept,
// so that a restart does not send before the sink allowed it.
func retryAfterKey(sink string) string { return "outbox/retry-after/" + sink }

// keepRetryAfter restores the sink's persisted Retry-After and persists the
// next ones. A damaged or unreadable record only loses the wait.
func (o *Outbox) keepRetryAfter(q *sinkQueue) {
	key := retryAfterKey(q.name)
	if b, ok, err := o.opts.Store.GetMeta(key); err == nil && ok {
		if until, err := time.Parse(time.RFC3339Nano, string(b)); err == nil {
			if wait := until.Sub(o.opts.Now()); wait > 0 {
				q.pace.holdUntil(min(wait, maxRetryAfter))
			}
		}
	}
	q.pace.persist = func(wait time.Duration) {
		until := o.opts.Now().Add(wait).UTC().Format(time.RFC3339Nano)
		if err := o.opts.Store.PutMeta(key, []byte(until)); err != nil {
			o.log.Warn("cannot keep the sink's Retry-After across restarts", zap.String("sink", q.name), zap.Error(err))
		}
	}
}

// Enqueue JSON-encodes m and appends it to every configured sink's queue in
// one store transaction: when it returns nil, m is on disk for all of them
// and will be delivered at least once to each, even across a crash. An
// empty ID is filled with a random one and a zero CreatedAt with Now, so
// that every copy and every retry carries the same values.
func (o *Outbox) Enqueue(m Message) error {
	return o.EnqueueWith(m)
}

// EnqueueWith is Enqueue that also stores meta (the store's key-value
// space, see store.PutMeta) in the same transaction, also when no sink is
// configured: the alert manager's record of what it notified commits with
// the notification, so that a crash can neither queue a notification the
// record misses (queued again after a restart) nor record one never queued.
func (o *Outbox) EnqueueWith(m Message, meta ...store.MetaValue) error {
	m = o.complete(m)
	payload, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("outbox: encode message %s: %w", m.ID, err)
	}
	// Holding mu keeps the set of sinks fixed until every queue is woken.
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.names) == 0 {
		o.log.Debug("no sink configured: message not queued", zap.String("message_id", m.ID))
	}
	seqs, err := o.store.OutboxAppendAll(o.names, payload, meta...)
	if err != nil {
		return fmt.Errorf("outbox: enqueue message %s: %w", m.ID, err)
	}
	for _, name := range o.names {
		o.held.hold(name, []store.OutboxEntry{{Seq: seqs[name], Payload: payload}})
		o.queues[name].wakeUp()
	}
	return nil
}

// complete fills a message's ID and CreatedAt when they are missing.
func (o *Outbox) complete(m Message) Message {
	if m.ID == "" {
		m.ID = newOutboxMessageID()
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = o.opts.Now()
	}
	return m
}

// newOutboxMessageID returns 16 random hex digits.
func newOutboxMessageID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// Run delivers every sink's queue, one dispatcher goroutine per sink, until
// ctx is done. It then lets attempts in flight finish (for at most
// StopGrace), waits for the dispatchers and returns nil; undelivered
// messages stay in the store for the next Run. Run may be called once.
func (o *Outbox) Run(ctx context.Context) error {
	o.mu.Lock()
	if o.ran {
		o.mu.Unlock()
		return errors.New("outbox: Run called twice")
	}
	o.ran, o.runCtx = true, ctx
	o.store.KeepHeld(o.held.snapshot)
	for _, name := range o.names {
		o.startLocked(o.queues[name])
	}
	o.mu.Unlock()

	<-ctx.Done()
	o.mu.Lock()
	o.runCtx = nil
	o.mu.Unlock()
	o.wg.Wait()
	o.store.KeepHeld(nil)
	return nil
}

// startLocked starts q's dispatcher under Run's context; o.mu is held.
func (o *Outbox) startLocked(q *sinkQueue) {
	ctx, cancel := context.WithCancel(o.runCtx)
	done := make(chan struct{})
	q.cancel, q.done = cancel, done
	o.wg.Go(func() {
		defer close(done)
		defer cancel()
		o.dispatch(ctx, q)
	})
}

// ReasonSinkRemoved is the dead-letter reason of the messages a removed
// sink had not delivered (UpdateSinks).
const ReasonSinkRemoved = "sink removed by reload"

// UpdateSinks applies a reloaded configuration. A sink whose name stays
// keeps its queue, its pacing and its Retry-After and gets the new
// notifier and MinInterval for its next attempt; a new sink starts; a
// removed sink's dispatcher stops after its attempt in flight, and its
// undelivered messages become its dead letters, with the reason
// ReasonSinkRemoved (shown by DeadLetters and `outbox list`). They are not
// a delivery failure: OnDeadLetter is not called. On error nothing changes.
func (o *Outbox) UpdateSinks(sinks []Notifier, minInterval map[string]time.Duration) error {
	if err := checkOutboxSinks(sinks); err != nil {
		return err
	}
	o.updateMu.Lock()
	defer o.updateMu.Unlock()

	keep := map[string]bool{}
	for _, n := range sinks {
		keep[n.Name()] = true
	}
	o.mu.Lock()
	var removed []*sinkQueue
	for _, name := range o.names {
		if !keep[name] {
			q := o.queues[name]
			if q.cancel != nil {
				q.cancel()
			}
			removed = append(removed, q)
			delete(o.queues, name)
		}
	}
	o.names = nil
	for _, n := range sinks {
		name := n.Name()
		if q, ok := o.queues[name]; ok {
			q.pace.configure(n, minInterval[name])
			o.names = append(o.names, name)
			continue
		}
		q := o.addLocked(n, minInterval[name])
		if o.runCtx != nil {
			o.startLocked(q)
		}
	}
	o.mu.Unlock()

	for _, q := range removed {
		if q.done != nil {
			<-q.done
		}
		o.metrics.forgetSink(q.name)
		n, err := o.store.OutboxDeadLetterAll(q.name, ReasonSinkRemoved)
		switch {
		case err != nil:
			o.log.Warn("sink removed from the configuration; its undelivered messages stay queued: cannot move them to the dead letters",
				zap.String("sink", q.name), zap.Error(err))
		case n > 0:
			o.log.Warn("sink removed from the configuration: its undelivered messages are now its dead letters (spacetime-watch outbox list)",
				zap.String("sink", q.name), zap.Int("dead_lettered", n), zap.String("reason", ReasonSinkRemoved))
		default:
			o.log.Info("sink removed from the configuration", zap.String("sink", q.name))
		}
	}
	return nil
}

// Pending returns how many messages wait per sink: every configured sink
// (0 when its queue is empty), and any removed sink whose queue still
// holds messages. For `spacetime-watch outbox list` and /api/v1/outbox.
func (o *Outbox) Pending() (map[string]int, error) {
	pending, err := o.store.OutboxPending()
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	for _, name := range o.sinkNames() {
		pending[name] += 0 // present, 0 when the store has no queue for it
	}
	return pending, nil
}

// DeadLetters returns the dead letters of every configured sink, and of
// every removed sink that has some (ReasonSinkRemoved), oldest first.
// Payload is the JSON-encoded Message (see DecodeOutboxMessage).
func (o *Outbox) DeadLetters() (map[string][]store.DeadLetter, error) {
	counts, err := o.store.DeadLetterCounts()
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	names := o.sinkNames()
	for name := range counts {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	out := map[string][]store.DeadLetter{}
	for _, name := range names {
		dl, err := o.store.DeadLetters(name)
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		out[name] = dl
	}
	return out, nil
}

// DecodeOutboxMessage decodes a queued or dead-lettered payload.
func DecodeOutboxMessage(payload []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return Message{}, fmt.Errorf("outbox payload is not a message: %w", err)
	}
	return m, nil
}

// sinkNames returns the configured sink names, in config order.
func (o *Outbox) sinkNames() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.names)
}

// SendTest delivers m to the named sink directly, bypassing the queue, for
// `spacetime-watch notify test`: the caller learns at once whether it was
// delivered (nil) or the exact reason it was not (a *DeliveryError when
// the sink gave one). It waits for the sink's turn and MinInterval, so a
// test never breaks Slack's rate, and gives up with an error rather than
// send before a Retry-After the sink asked for. The whole call is bounded
// by AttemptTimeout. Nothing is retried, dead-lettered or counted in
// spacetime_watch_notifications_total: a test is not a notification.
func (o *Outbox) SendTest(ctx context.Context, sink string, m Message) error {
	o.mu.Lock()
	q, ok := o.queues[sink]
	o.mu.Unlock()
	if !ok {
		return fmt.Errorf("outbox: no sink named %q (configured: %s)", sink, strings.Join(o.sinkNames(), ", "))
	}
	m = o.complete(m)
	ctx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
	defer cancel()
	n, err := q.pace.acquire(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: test message to %s not sent: %w", sink, err)
	}
	_, err = n.Notify(ctx, m)
	q.pace.release(min(RetryAfter(err), maxRetryAfter))
	return err
}
