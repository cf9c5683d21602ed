package alert_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackbot"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// The acceptance scenarios (docs/reliability.md 1, 3–7, 19) run the real
// pipeline: a Manager feeding a real Outbox on a real store in a temp dir,
// delivering through the real Slack sinks (incoming webhook, and the bot
// where it matters) to an in-memory fake Slack. Everything runs inside a
// testing/synctest bubble, so that an hour of alerting takes milliseconds
// and every time measured is exact. A "restart" cancels the Manager's and
// the Outbox's Run (SIGTERM), closes the store and builds everything anew
// on the same state dir and the same fake Slack, as the daemon does.
//
// Every scenario runs with a sentinel webhook URL and a sentinel bot token,
// and ends with a sweep for them (docs/reliability.md 19): logs, sink errors,
// Slack message bodies, dead letters, /metrics, /api/v1/alerts and the
// state dir's bytes.

// Sink names, as the config would name them.
const (
	sinkWebhook = "oncall"
	sinkBot     = "bot"
)

// The sentinels. needle is what the sweep looks for, case-insensitively:
// it is in the webhook URL's secret path and in the token, and in any
// encoding of them that keeps letters.
const (
	sentinelWebhookPath = "/services/T0SENTINEL/B0SENTINEL/SENTINELwebhookSecret7f3a9c"
	sentinelToken       = "xoxb-SENTINEL-bot-9d2e41b7"
	sentinelNeedle      = "sentinel"
	botChannel          = "#spacetime-oncall"
)

// scenario configures a world.
type scenario struct {
	// settings are the manager's; nil means alert.SettingsFrom(config.Default().Alerting).
	settings *alert.Settings
	// sinks are the sinks to configure, by name (sinkWebhook, sinkBot);
	// nil means the webhook only.
	sinks []string
	// minInterval per sink; 0 means Slack's 1 s.
	minInterval time.Duration
	// backoffInitial and backoffMax of the outbox; 0 means the config's
	// (alerting.outbox: 1 s, 60 s).
	backoffInitial, backoffMax time.Duration
	// fakeOpts configure the fake Slack (WithMinInterval, ...).
	fakeOpts []slackfake.Option
	// deployment is every target's current deployment; nil: none.
	deployment *alert.Deployment
}

// world is one scenario's pipeline and everything that outlives a restart:
// the state dir, the fake Slack, the logs and the evidence for the sweep.
type world struct {
	t     *testing.T
	sc    scenario
	dir   string
	fake  *slackfake.Server
	net   *faultyNet
	start time.Time
	logs  *syncBuffer
	log   *zap.Logger

	mu          sync.Mutex
	attempts    map[string][]attempt // by sink
	deadLetters []string             // OnDeadLetter calls: "sink: reason"
	evidence    []string             // texts collected before each stop: dead letters, alerts, metrics

	gen *generation // the running pipeline; nil when stopped
}

// generation is one run of the daemon's alerting: from start to SIGTERM.
type generation struct {
	st     *store.Store
	mgr    *alert.Manager
	ob     *alert.Outbox
	reg    *prometheus.Registry
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// attempt is one delivery attempt as the outbox made it.
type attempt struct {
	at  time.Duration // since the world's start
	id  string        // the message's ID
	err error
}

// newWorld starts a scenario's pipeline; call it inside a synctest bubble.
// The pipeline is stopped, and the sentinel sweep run, when the test ends.
func newWorld(t *testing.T, sc scenario) *world {
	t.Helper()
	if sc.sinks == nil {
		sc.sinks = []string{sinkWebhook}
	}
	if sc.minInterval == 0 {
		sc.minInterval = time.Second
	}
	logs := &syncBuffer{}
	enc := zap.NewProductionEncoderConfig()
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(logs), zapcore.DebugLevel)
	w := &world{
		t:        t,
		sc:       sc,
		dir:      t.TempDir(),
		fake:     slackfake.NewInMemory(append([]slackfake.Option{slackfake.WithToken(sentinelToken)}, sc.fakeOpts...)...),
		start:    time.Now(),
		logs:     logs,
		log:      zap.New(core),
		attempts: map[string][]attempt{},
	}
	w.net = &faultyNet{fake: w.fake}
	t.Cleanup(w.finish)
	w.startGen()
	return w
}

// settings returns the manager's settings.
func (w *world) settings() alert.Settings {
	if w.sc.settings != nil {
		return *w.sc.settings
	}
	return alert.SettingsFrom(config.Default().Alerting)
}

// startGen builds and starts the sinks, the outbox and the manager on the
// state dir, as the daemon does at start-up.
func (w *world) startGen() {
	t := w.t
	t.Helper()
	st, err := store.Open(w.dir, storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	g := &generation{st: st, reg: prometheus.NewRegistry()}
	client := &http.Client{Transport: w.net}
	var sinks []alert.Notifier
	minInterval := map[string]time.Duration{}
	for _, name := range w.sc.sinks {
		var n alert.Notifier
		switch name {
		case sinkWebhook:
			n, err = slack.New(slack.Options{Name: sinkWebhook, WebhookURL: w.fake.URL() + sentinelWebhookPath, HTTPClient: client})
		case sinkBot:
			n, err = slackbot.New(slackbot.Options{Name: sinkBot, Token: sentinelToken, Channel: botChannel,
				APIURL: w.fake.APIURL(), HTTPClient: client, Logger: w.log.Named(sinkBot),
				KV: storeKV{st: st, prefix: "sink/" + sinkBot + "/"}})
		default:
			t.Fatalf("unknown sink %q", name)
		}
		if err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, &recordingNotifier{Notifier: n, w: w})
		minInterval[name] = w.sc.minInterval
	}
	opts := alert.OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.Store, opts.Sinks, opts.MinInterval = st, sinks, minInterval
	opts.BackoffInitial = cmp.Or(w.sc.backoffInitial, opts.BackoffInitial)
	opts.BackoffMax = cmp.Or(w.sc.backoffMax, opts.BackoffMax)
	opts.Logger, opts.Registerer = w.log, g.reg // the outbox names its logger
	opts.OnDeadLetter = func(sink, reason string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.deadLetters = append(w.deadLetters, sink+": "+reason)
	}
	g.ob, err = alert.NewOutbox(opts)
	if err != nil {
		t.Fatal(err)
	}
	g.mgr, err = alert.NewManager(alert.ManagerOptions{
		Store: st, Out: g.ob, Settings: w.settings(), Logger: w.log.Named("alert"), Registerer: g.reg,
		Deployment: func(string) *alert.Deployment { return w.sc.deployment },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.wg.Go(func() {
		if err := g.mgr.Run(ctx); err != nil {
			t.Errorf("Manager.Run: %v", err)
		}
	})
	g.wg.Go(func() {
		if err := g.ob.Run(ctx); err != nil {
			t.Errorf("Outbox.Run: %v", err)
		}
	})
	w.gen = g
	synctest.Wait()
}

// stopGen is SIGTERM: it cancels the manager's and the outbox's Run, waits
// for them, keeps what the sweep needs and closes the store.
func (w *world) stopGen() {
	g := w.gen
	if g == nil {
		return
	}
	g.cancel()
	g.wg.Wait()
	w.collectEvidence(g)
	if err := g.st.Close(); err != nil {
		w.t.Errorf("close the store: %v", err)
	}
	w.gen = nil
}

// restart stops the pipeline and starts a new one on the same state dir
// and fake Slack.
func (w *world) restart() {
	w.t.Helper()
	w.stopGen()
	w.startGen()
}

// finish stops the pipeline and sweeps for the sentinels.
func (w *world) finish() {
	w.stopGen()
	w.fake.Close()
	w.assertNoSecrets()
}

func (w *world) mgr() *alert.Manager { return w.gen.mgr }

// now is the time since the world's start.
func (w *world) now() time.Duration { return time.Since(w.start) }

// at advances the fake clock to the world's start + d (when that is still
// ahead) and lets the pipeline do all it can.
func (w *world) at(d time.Duration) {
	if left := d - w.now(); left > 0 {
		time.Sleep(left)
	}
	synctest.Wait()
}

// handle hands events to the manager and waits until the pipeline is idle.
func (w *world) handle(evs ...event.Event) {
	for _, ev := range evs {
		w.gen.mgr.Handle(ev)
	}
	synctest.Wait()
}

// firing is a firing event at the fake now; since is when the condition
// began (zero: now).
func firing(target, name string, sev alert.Severity, since time.Time) event.Event {
	now := time.Now()
	if since.IsZero() {
		since = now
	}
	return event.Event{Target: target, Name: name, Severity: sev, State: event.StateFiring, At: now, Since: since,
		Reason: name + " breached on " + target, Observed: "61.2 fps", Expected: "at least 85 fps"}
}

// resolved is a resolved event at the fake now.
func resolved(target, name string, sev alert.Severity) event.Event {
	return event.Event{Target: target, Name: name, Severity: sev, At: time.Now(), Reason: name + " back to normal"}
}

// attemptsOf returns the delivery attempts made to sink.
func (w *world) attemptsOf(sink string) []attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.attempts[sink])
}

// deadLetterCalls returns the OnDeadLetter calls, "sink: reason".
func (w *world) deadLetterCalls() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.deadLetters)
}

// metric returns the value of the series name{labels} in the running
// generation's registry, and whether it exists.
func (w *world) metric(name string, labels map[string]string) (float64, bool) {
	w.t.Helper()
	mfs, err := w.gen.reg.Gather()
	if err != nil {
		w.t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// notifications returns spacetime_watch_notifications_total{sink,result}.
func (w *world) notifications(sink, result string) float64 {
	v, _ := w.metric("spacetime_watch_notifications_total", map[string]string{"sink": sink, "result": result})
	return v
}

// pending returns the outbox's queue length of sink.
func (w *world) pending(sink string) int {
	w.t.Helper()
	p, err := w.gen.ob.Pending()
	if err != nil {
		w.t.Fatal(err)
	}
	return p[sink]
}

// deadLettersOf returns the outbox's dead letters of sink.
func (w *world) deadLettersOf(sink string) []store.DeadLetter {
	w.t.Helper()
	dl, err := w.gen.ob.DeadLetters()
	if err != nil {
		w.t.Fatal(err)
	}
	return dl[sink]
}

// stateDoc returns the manager's stored state document ("alert/state"),
// decoded: what a restart restores.
func (w *world) stateDoc() any {
	w.t.Helper()
	b, ok, err := w.gen.st.GetMeta("alert/state")
	if err != nil || !ok {
		w.t.Fatalf("read alert/state: found %v, %v", ok, err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		w.t.Fatalf("alert/state: %v", err)
	}
	return doc
}

// collectEvidence keeps, before the store closes, the texts that must be
// free of secrets: dead letters, /api/v1/alerts and /metrics.
func (w *world) collectEvidence(g *generation) {
	var texts []string
	if dl, err := g.ob.DeadLetters(); err != nil {
		w.t.Errorf("dead letters: %v", err)
	} else {
		for sink, list := range dl {
			for _, d := range list {
				texts = append(texts, fmt.Sprintf("dead letter %s/%d: %s: %s", sink, d.Seq, d.Reason, d.Payload))
			}
		}
	}
	if b, err := json.Marshal(g.mgr.Alerts()); err == nil {
		texts = append(texts, "/api/v1/alerts: "+string(b))
	}
	if mfs, err := g.reg.Gather(); err != nil {
		w.t.Errorf("gather: %v", err)
	} else {
		for _, mf := range mfs {
			texts = append(texts, "/metrics: "+mf.String())
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evidence = append(w.evidence, texts...)
}

// assertNoSecrets is docs/reliability.md scenario 19: the sentinels appear in no
// log line, sink error, Slack message, dead letter, /metrics, alert list or
// byte of the state dir. It first checks that they were really in use, so
// that the sweep cannot pass for want of a secret.
func (w *world) assertNoSecrets() {
	t := w.t
	t.Helper()
	if slices.Contains(w.sc.sinks, sinkWebhook) && w.net.hits(sinkWebhook) > 0 && w.net.secretPathsCount() == 0 {
		t.Error("sweep: no webhook request went to the sentinel URL: the sweep proves nothing")
	}
	check := func(where, text string) {
		t.Helper()
		lower := strings.ToLower(text)
		if i := strings.Index(lower, sentinelNeedle); i >= 0 {
			t.Errorf("sweep: %s contains a secret: …%s…", where, lower[max(0, i-80):min(len(lower), i+80)])
		}
	}
	check("the logs", w.logs.String())
	w.mu.Lock()
	for sink, list := range w.attempts {
		for _, a := range list {
			for e := a.err; e != nil; e = errors.Unwrap(e) {
				for _, verb := range []string{"%v", "%+v", "%#v", "%q"} {
					check(fmt.Sprintf("an error of sink %s (%T as %s)", sink, e, verb), fmt.Sprintf(verb, e))
				}
			}
		}
	}
	for _, text := range w.evidence {
		check(strings.SplitN(text, ":", 2)[0], text)
	}
	for _, d := range w.deadLetters {
		check("an OnDeadLetter reason", d)
	}
	w.mu.Unlock()
	for i, m := range w.fake.Messages() {
		check(fmt.Sprintf("Slack message %d", i), m.Text+string(m.Blocks))
	}
	err := filepath.WalkDir(w.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(bytes.ToLower(b), []byte(sentinelNeedle)) {
			t.Errorf("sweep: state file %s contains a secret", filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Errorf("sweep the state dir: %v", err)
	}
}

// recordingNotifier records each delivery attempt of the sink it wraps.
type recordingNotifier struct {
	alert.Notifier
	w *world
}

func (r *recordingNotifier) Notify(ctx context.Context, m alert.Message) (bool, error) {
	retry, err := r.Notifier.Notify(ctx, m)
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	name := r.Name()
	r.w.attempts[name] = append(r.w.attempts[name], attempt{at: r.w.now(), id: m.ID, err: err})
	return retry, err
}

// faultyNet is the sinks' transport to the fake Slack. It counts requests
// per sink and, while an outage is on, makes each request fail with the
// next of the outage's faults, injected into the fake just before the
// request reaches it, so that the fake logs and answers it as any fault.
type faultyNet struct {
	fake *slackfake.Server

	mu          sync.Mutex
	from, until time.Time
	faults      []slackfake.Fault
	used        int
	count       map[string]int
	secretPaths int
}

// outage makes every request in [from, until) fail with faults, in turn.
func (n *faultyNet) outage(from, until time.Time, faults ...slackfake.Fault) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.from, n.until, n.faults, n.used = from, until, faults, 0
}

func (n *faultyNet) hits(sink string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.count[sink]
}

func (n *faultyNet) secretPathsCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.secretPaths
}

func (n *faultyNet) RoundTrip(req *http.Request) (*http.Response, error) {
	ep, sink := slackfake.Webhook, sinkWebhook
	if p, ok := strings.CutPrefix(req.URL.Path, "/api/"); ok {
		ep, sink = slackfake.Endpoint(p), sinkBot
	}
	n.mu.Lock()
	if n.count == nil {
		n.count = map[string]int{}
	}
	n.count[sink]++
	if req.URL.Path == sentinelWebhookPath {
		n.secretPaths++
	}
	if now := time.Now(); len(n.faults) > 0 && !now.Before(n.from) && now.Before(n.until) {
		// One dispatcher per sink: nobody else takes this fault first.
		n.fake.Inject(ep, n.faults[n.used%len(n.faults)])
		n.used++
	}
	n.mu.Unlock()
	return n.fake.Transport().RoundTrip(req)
}

// storeKV is the bot's key-value space in the store, as the daemon gives it.
type storeKV struct {
	st     *store.Store
	prefix string
}

func (k storeKV) Get(key string) ([]byte, bool, error) { return k.st.GetMeta(k.prefix + key) }
func (k storeKV) Put(key string, v []byte) error       { return k.st.PutMeta(k.prefix+key, v) }
func (k storeKV) Delete(key string) error              { return k.st.DeleteMeta(k.prefix + key) }

// syncBuffer is the log sink: a buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Sync() error { return nil }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// slackMsg is a message the fake Slack accepted, read back: its header,
// its text, and its size by Slack's measures.
type slackMsg struct {
	slackfake.Message
	at       time.Duration // received, since the world's start
	header   string
	text     string // every block's text, one block a line
	blocks   int
	sections []int // characters per section (and context) block
	chars    int   // characters of all blocks
}

func (m slackMsg) isFiring() bool   { return strings.Contains(m.header, "FIRING") }
func (m slackMsg) isResolved() bool { return strings.Contains(m.header, "RESOLVED") }
func (m slackMsg) isParent() bool   { return strings.Contains(m.header, "Deployment") }

func (m slackMsg) String() string {
	return fmt.Sprintf("%v %s %s %q (thread %s)", m.at, m.Kind, m.TS, m.header, m.ThreadTS)
}

// messages returns the messages the fake accepted of kind ("" for all).
func (w *world) messages(kind slackfake.Endpoint) []slackMsg {
	w.t.Helper()
	var out []slackMsg
	for _, m := range w.fake.Messages() {
		if kind != "" && m.Kind != kind {
			continue
		}
		out = append(out, w.read(m))
	}
	return out
}

func (w *world) read(m slackfake.Message) slackMsg {
	w.t.Helper()
	blocks, err := m.DecodeBlocks()
	if err != nil {
		w.t.Fatal(err)
	}
	out := slackMsg{Message: m, at: m.Received.Sub(w.start), blocks: len(blocks)}
	var lines []string
	for _, b := range blocks {
		text := strings.Join(b.Texts, "")
		n := len([]rune(text))
		out.chars += n
		if b.Type == "header" && out.header == "" {
			out.header = text
		} else {
			out.sections = append(out.sections, n)
		}
		lines = append(lines, text)
	}
	out.text = strings.Join(lines, "\n")
	return out
}

// summaries renders messages for failure output.
func summaries(ms []slackMsg) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString("\n\t" + m.String())
	}
	return b.String()
}

// requestsTo returns the requests the fake received at ep, with their
// times since the world's start.
func (w *world) requestsTo(ep slackfake.Endpoint) []timedRequest {
	var out []timedRequest
	for _, r := range w.fake.RequestLog() {
		if r.Endpoint == ep {
			out = append(out, timedRequest{Request: r, at: r.Received.Sub(w.start)})
		}
	}
	return out
}

type timedRequest struct {
	slackfake.Request
	at time.Duration
}

func (r timedRequest) String() string {
	return fmt.Sprintf("%v %d %s", r.at, r.Code, r.Error)
}

// moreLine reads the "… N more alerts" line of a cut message.
var moreLine = regexp.MustCompile(`\*… (\d+) more alerts?\*`)

// accounting reads how a message accounts for its alerts: the header's
// firing count, the distinct alert names it shows (matching name), and the
// "… N more" it adds.
func accounting(m slackMsg, name *regexp.Regexp) (header int, shown map[string]bool, more int) {
	if h := regexp.MustCompile(`FIRING (\d+)`).FindStringSubmatch(m.header); h != nil {
		header, _ = strconv.Atoi(h[1])
	}
	shown = map[string]bool{}
	for _, n := range name.FindAllString(m.text, -1) {
		shown[n] = true
	}
	if mm := moreLine.FindStringSubmatch(m.text); mm != nil {
		more, _ = strconv.Atoi(mm[1])
	}
	return header, shown, more
}

// checkLimits fails the test for a message beyond Slack's limits and the
// budget spacetime-watch keeps to (docs/reliability.md 6).
func checkLimits(t *testing.T, m slackMsg) {
	t.Helper()
	if m.blocks > slack.MaxBlocks {
		t.Errorf("%s: %d blocks, want at most %d", m, m.blocks, slack.MaxBlocks)
	}
	for i, n := range m.sections {
		if n > slack.MaxSectionChars {
			t.Errorf("%s: block %d has %d characters, want at most %d", m, i+1, n, slack.MaxSectionChars)
		}
	}
	if m.chars >= slack.MaxTotalChars {
		t.Errorf("%s: %d characters in all, want fewer than %d", m, m.chars, slack.MaxTotalChars)
	}
}

// checkAllAccepted fails the test for any request the fake answered with
// an error other than the ones the scenario injected (allowed, by word).
func checkAllAccepted(t *testing.T, w *world, allowed ...string) {
	t.Helper()
	for _, r := range w.fake.RequestLog() {
		if r.Error != "" && !slices.Contains(allowed, r.Error) {
			t.Errorf("the fake Slack answered %s at %v with %d %s", r.Endpoint, r.Received.Sub(w.start), r.Code, r.Error)
		}
	}
}

// gaps returns the time between consecutive instants.
func gaps(ats []time.Duration) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(ats); i++ {
		out = append(out, ats[i]-ats[i-1])
	}
	return out
}
