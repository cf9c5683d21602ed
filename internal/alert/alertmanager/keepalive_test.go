package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// TestKeepAliveCadence follows five minutes of fake time with two
// Alertmanagers, the second down from 2m15s to 3m30s: the heartbeat at
// start and every minute; a firing alert re-sent every minute with endsAt
// always 4 minutes ahead; its resolution, with its own end, re-sent only
// until the Alertmanager that missed it has accepted it; and a test
// alert posted once, ending TestAlertLifetime later, never re-sent.
func TestKeepAliveCadence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &memTransport{}
		start := time.Now()
		n, err := New(Options{Name: "am", URLs: []string{"http://am-0:9093", "http://am-1:9093"},
			HTTPClient: &http.Client{Transport: tr}, Heartbeat: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()

		fps := firingAlert()
		fps.StartsAt = start.Add(20 * time.Second)
		sleepUntil := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
		sleepUntil(30 * time.Second)
		if retry, err := n.Notify(ctx, alertsMessage(fps)); retry || err != nil {
			t.Fatalf("Notify firing = %v, %v", retry, err)
		}
		sleepUntil(45 * time.Second)
		test := alert.Message{ID: "test-1", Kind: alert.KindTest, Title: "spacetime-watch test notification", Target: "main"}
		if retry, err := n.Notify(ctx, test); retry || err != nil {
			t.Fatalf("Notify test = %v, %v", retry, err)
		}
		sleepUntil(135 * time.Second)
		tr.setDown("am-1:9093", true)
		sleepUntil(150 * time.Second)
		fps.State, fps.EndsAt = alert.StateResolved, start.Add(145*time.Second)
		if retry, err := n.Notify(ctx, alertsMessage(fps)); retry || err != nil {
			t.Fatalf("Notify resolved with one of two Alertmanagers down = %v, %v; want delivered", retry, err)
		}
		sleepUntil(210 * time.Second)
		tr.setDown("am-1:9093", false)
		sleepUntil(310 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}

		want := map[string][]string{
			"am-0:9093": {
				"0s: SpacetimeWatchHeartbeat 0s–4m0s",                     // Run starts
				"30s: fps_low 20s–4m30s",                                  // Notify firing
				"45s: SpacetimeWatchTest 45s–5m45s",                       // notify test: posted once
				"1m0s: SpacetimeWatchHeartbeat 0s–5m0s, fps_low 20s–5m0s", // keep-alive
				"2m0s: SpacetimeWatchHeartbeat 0s–6m0s, fps_low 20s–6m0s",
				"2m30s: fps_low 20s–2m25s",                                 // Notify resolved: its own end
				"3m0s: SpacetimeWatchHeartbeat 0s–7m0s, fps_low 20s–2m25s", // am-1 has not accepted it
				"4m0s: SpacetimeWatchHeartbeat 0s–8m0s, fps_low 20s–2m25s",
				"5m0s: SpacetimeWatchHeartbeat 0s–9m0s", // every one has: dropped
			},
			"am-1:9093": {
				"0s: SpacetimeWatchHeartbeat 0s–4m0s",
				"30s: fps_low 20s–4m30s",
				"45s: SpacetimeWatchTest 45s–5m45s",
				"1m0s: SpacetimeWatchHeartbeat 0s–5m0s, fps_low 20s–5m0s",
				"2m0s: SpacetimeWatchHeartbeat 0s–6m0s, fps_low 20s–6m0s",
				"2m30s: fps_low 20s–2m25s → 503",
				"3m0s: SpacetimeWatchHeartbeat 0s–7m0s, fps_low 20s–2m25s → 503",
				"4m0s: SpacetimeWatchHeartbeat 0s–8m0s, fps_low 20s–2m25s",
				"5m0s: SpacetimeWatchHeartbeat 0s–9m0s",
			},
		}
		got := map[string][]string{}
		for _, p := range tr.all() {
			var parts []string
			for _, a := range p.Alerts {
				parts = append(parts, fmt.Sprintf("%s %s–%s", a.Labels["alertname"], a.StartsAt.Sub(start), a.EndsAt.Sub(start)))
			}
			line := fmt.Sprintf("%s: %s", p.At.Sub(start), strings.Join(parts, ", "))
			if p.Code != http.StatusOK {
				line += fmt.Sprintf(" → %d", p.Code)
			}
			host := strings.TrimSuffix(strings.TrimPrefix(p.URL, "http://"), "/api/v2/alerts")
			got[host] = append(got[host], line)
		}
		for host, want := range want {
			if !reflect.DeepEqual(got[host], want) {
				t.Errorf("%s got:\n%s\nwant:\n%s", host, strings.Join(got[host], "\n"), strings.Join(want, "\n"))
			}
		}
	})
}

// TestResendNeverOvertakesResolution: a resolution that arrives while a
// re-send (built when the alert still fired) is in flight waits for it, so
// Alertmanager's last word on the alert is "resolved", never a stale
// "firing" that would re-open it for 4 minutes.
func TestResendNeverOvertakesResolution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		tr := &memTransport{gate: gate}
		n, err := New(Options{Name: "am", URLs: []string{"http://am-0:9093"}, HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		fps := firingAlert()
		fps.StartsAt = time.Now()
		notified := make(chan error, 2)
		notify := func(a alert.Alert) {
			_, err := n.Notify(t.Context(), alertsMessage(a))
			notified <- err
		}
		go notify(fps)
		gate <- struct{}{}
		if err := <-notified; err != nil {
			t.Fatal(err)
		}

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }() // re-sends fps_low firing at once, held at the gate
		synctest.Wait()
		fps.State, fps.EndsAt = alert.StateResolved, time.Now()
		go notify(fps)
		synctest.Wait()
		if got := tr.arrivedCount(); got != 2 {
			t.Fatalf("%d requests reached the transport while a re-send was in flight, want 2 (the resolution must wait)", got)
		}
		gate <- struct{}{} // the re-send
		gate <- struct{}{} // then the resolution
		if err := <-notified; err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, p := range tr.all() {
			for _, a := range p.Alerts {
				state := "firing"
				if !a.EndsAt.After(p.At) {
					state = "resolved"
				}
				states = append(states, state)
			}
		}
		if want := []string{"firing", "firing", "resolved"}; !reflect.DeepEqual(states, want) {
			t.Errorf("Alertmanager heard %v, want %v", states, want)
		}
	})
}

// TestRunTwice: a second Run of the same notifier refuses at once.
func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n, err := New(Options{Name: "am", URLs: []string{"http://am-0:9093"}, HTTPClient: &http.Client{Transport: &memTransport{}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		synctest.Wait()
		if err := n.Run(ctx); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("second Run = %v, want already running", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("first Run = %v", err)
		}
	})
}

// TestKeepAliveSurvivesRestart: with a KV, a restarted notifier keeps
// alive the alerts the previous one was keeping alive (the alert manager
// does not announce them again), re-sends a resolution no Alertmanager has
// accepted for one keep-alive window at most, and forgets one every
// Alertmanager accepted; a damaged record or a failing KV never blocks
// delivery.
func TestKeepAliveSurvivesRestart(t *testing.T) {
	var down atomic.Bool
	am := newFakeAM(t, func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	kv := newMemKV()
	newAt := func(now time.Time, logger *zap.Logger) *Notifier {
		t.Helper()
		n, err := New(Options{Name: "am", URLs: []string{am.URL}, KV: kv, Now: fixedClock(now), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	lastPost := func() []postableAlert {
		t.Helper()
		reqs := am.requests()
		if len(reqs) == 0 {
			t.Fatal("no request")
		}
		return reqs[len(reqs)-1].alerts(t)
	}

	down.Store(true)
	if retry, err := newAt(t0, nil).Notify(t.Context(), alertsMessage(firingAlert(), resolvedAlert())); !retry || err == nil {
		t.Fatalf("Notify with the Alertmanager down = %v, %v; want retry", retry, err)
	}

	// One minute later, after a restart: both re-sent, firing kept alive.
	newAt(t0.Add(time.Minute), nil).resend(t.Context())
	got := lastPost()
	if want := []string{"fps_low", "memory_high"}; !reflect.DeepEqual(names(got), want) {
		t.Fatalf("after restart re-sent %v, want %v", names(got), want)
	}
	if !got[0].EndsAt.Equal(t0.Add(5*time.Minute)) || !got[1].EndsAt.Equal(resolvedAlert().EndsAt) {
		t.Errorf("endsAt %v and %v; want now + 4m and the resolved alert's end", got[0].EndsAt, got[1].EndsAt)
	}

	// Past the resolution's window: only the firing alert is left.
	n := newAt(t0.Add(4*time.Minute), nil)
	n.resend(t.Context())
	if got := names(lastPost()); !reflect.DeepEqual(got, []string{"fps_low"}) {
		t.Fatalf("re-sent %v, want [fps_low]", got)
	}

	// Back up: a resolution accepted everywhere leaves the set at once.
	down.Store(false)
	fps := firingAlert()
	fps.State, fps.EndsAt = alert.StateResolved, t0.Add(4*time.Minute)
	if retry, err := n.Notify(t.Context(), alertsMessage(fps)); retry || err != nil {
		t.Fatalf("Notify = %v, %v", retry, err)
	}
	if _, ok, _ := kv.Get(liveKey); ok {
		t.Error("the empty keep-alive set is still stored")
	}
	before := len(am.requests())
	newAt(t0.Add(5*time.Minute), nil).resend(t.Context())
	if after := len(am.requests()); after != before {
		t.Errorf("nothing left to keep alive, yet %d more requests", after-before)
	}

	// A damaged record and a failing KV are logged, not fatal.
	kv.m[liveKey] = []byte("{garbage")
	core, logs := observer.New(zap.WarnLevel)
	n = newAt(t0, zap.New(core))
	kv.failPut = true
	if retry, err := n.Notify(t.Context(), alertsMessage(firingAlert())); retry || err != nil {
		t.Fatalf("Notify with a failing KV = %v, %v; want delivered", retry, err)
	}
	if msgs := logMessages(logs); len(msgs) != 2 || !strings.Contains(msgs[0], "cannot restore") || !strings.Contains(msgs[1], "cannot persist") {
		t.Errorf("warnings %q, want one for the damaged record and one for the failing KV", msgs)
	}
}

// TestResendLogsOnChange: an Alertmanager down for many re-sends costs one
// warning, and its recovery one info line.
func TestResendLogsOnChange(t *testing.T) {
	var healthy atomic.Bool
	am := newFakeAM(t, func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	core, logs := observer.New(zap.InfoLevel)
	n, err := New(Options{Name: "am", URLs: []string{am.URL}, Heartbeat: true, Now: fixedClock(t0), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []bool{true, false, false, false, true, true} {
		healthy.Store(h)
		n.resend(t.Context())
	}
	want := []string{
		"keep-alive re-send failed; Alertmanager resolves the alerts it does not hear of within the keep-alive window",
		"keep-alive re-send accepted by every Alertmanager again",
	}
	if got := logMessages(logs); !reflect.DeepEqual(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
	if n := len(am.requests()); n != 6 {
		t.Errorf("%d re-sends, want 6", n)
	}
}

func logMessages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}

// TestRestoreKeepsOnlyConfiguredAlertmanagers: a resolution persisted as
// owed to an Alertmanager the configuration no longer names is dropped at
// start; one owed to a configured one is re-sent.
func TestRestoreKeepsOnlyConfiguredAlertmanagers(t *testing.T) {
	am := newFakeAM(t, nil)
	kv := newMemKV()
	owed := func(urls ...string) liveEntry {
		return liveEntry{Alert: resolvedAlert(), Until: t0.Add(time.Minute), Untold: urls}
	}
	cases := []struct {
		name  string
		entry liveEntry
		want  []string
	}{
		{"owed to a removed Alertmanager", owed("http://old:9093/api/v2/alerts"), nil},
		{"owed to a configured one", owed("http://old:9093/api/v2/alerts", am.URL+"/api/v2/alerts"), []string{"memory_high"}},
		{"firing is kept", liveEntry{Alert: firingAlert()}, []string{"fps_low"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal([]liveEntry{tc.entry})
			if err != nil {
				t.Fatal(err)
			}
			kv.m[liveKey] = raw
			n, err := New(Options{Name: "am", URLs: []string{am.URL}, KV: kv, Now: fixedClock(t0)})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(postableOf(n)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("restored %v, want %v", got, tc.want)
			}
		})
	}
}

// postableOf renders the notifier's keep-alive set.
func postableOf(n *Notifier) []postableAlert {
	var out []postableAlert
	for _, a := range n.live.list() {
		out = append(out, n.fromAlert(a, t0))
	}
	return out
}
