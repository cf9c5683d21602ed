package slackbot

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
)

// memKV is an in-memory alert.KV; the daemon backs the real one with the
// store. failGet and failPut make it fail on keys with that substring.
type memKV struct {
	mu               sync.Mutex
	m                map[string][]byte
	failGet, failPut string
}

func newKV() *memKV { return &memKV{m: map[string][]byte{}} }

var errKV = errors.New("kv: disk on fire")

func (k *memKV) Get(key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failGet != "" && strings.Contains(key, k.failGet) {
		return nil, false, errKV
	}
	v, ok := k.m[key]
	return v, ok, nil
}

func (k *memKV) Put(key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failPut != "" && strings.Contains(key, k.failPut) {
		return errKV
	}
	k.m[key] = append([]byte(nil), v...)
	return nil
}

func (k *memKV) Delete(key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

// keys lists the keys with prefix.
func (k *memKV) keys(prefix string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for key := range k.m {
		if strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	return out
}

const token = "xoxb-test-token"

// testClient is an http.Client of the test's own: its idle connections
// are closed at the end, so that goleak finds no keep-alive goroutine.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type setup struct {
	fake *slackfake.Server
	kv   *memKV
	logs *observer.ObservedLogs
}

func newSetup(t *testing.T) *setup {
	fake := slackfake.New(slackfake.WithToken(token))
	t.Cleanup(fake.Close)
	return &setup{fake: fake, kv: newKV()}
}

// notifier returns a new Notifier on s's fake and KV: a new one per call,
// as after a daemon restart.
func (s *setup) notifier(t *testing.T) *Notifier {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	s.logs = logs
	n, err := New(Options{Name: "bot", Token: token, Channel: "#oncall", APIURL: s.fake.APIURL(),
		HTTPClient: testClient(t), KV: s.kv, Logger: zap.New(core), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// now is the messages' "built at" time: 12:30 on the suite's base date
// (TestMain sets it).
var now time.Time

func dep(id, version string) *alert.Deployment {
	return &alert.Deployment{ID: id, Version: version, StartedAt: now.Add(-2 * time.Hour)}
}

func firing(name string, d *alert.Deployment) alert.Alert {
	return alert.Alert{
		Fingerprint: "fp-" + name, Target: "main", Name: name, Severity: alert.SeverityCritical, State: alert.StateFiring,
		StartsAt: now.Add(-10 * time.Minute), Summary: name + " on main", Deployment: d,
	}
}

func resolved(a alert.Alert) alert.Alert {
	a.State, a.EndsAt = alert.StateResolved, now.Add(5*time.Minute)
	a.Reason = a.Name + " back within its band"
	return a
}

func msg(d *alert.Deployment, alerts ...alert.Alert) alert.Message {
	return alert.Message{ID: "m", Kind: alert.KindAlerts, GroupLabels: map[string]string{"target": "main"},
		Target: "main", Deployment: d, Alerts: alerts, CreatedAt: now}
}
