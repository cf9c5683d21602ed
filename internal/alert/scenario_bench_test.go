package alert_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// BenchmarkRuleFiringToSlack is the latency budget: from a rule
// firing (Manager.Handle) to the fake Slack's receipt of the message, over
// real loopback HTTP, through the real manager, outbox and webhook sink on
// a store that fsyncs every commit, as the daemon runs it; group_wait 0
// and no backlog. It reports p50 and p99 (target: p99 under 100 ms).
//
// Each iteration fires an alert, waits for its message, then resolves it
// and waits for that message too, so that the next firing starts with an
// empty queue. group_interval is tiny for the same reason, and the sink's
// min_interval (Slack's 1 message/s) is 0: pacing is the rate limit, not
// latency, and with no backlog the previous message went out long before.
func BenchmarkRuleFiringToSlack(b *testing.B) {
	fake := slackfake.New()
	defer fake.Close()
	st, err := store.Open(b.TempDir(), storetest.Options(store.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hook, err := slack.New(slack.Options{Name: sinkWebhook, WebhookURL: fake.WebhookURL(), HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		b.Fatal(err)
	}
	opts := alert.OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.Store, opts.Sinks = st, []alert.Notifier{hook}
	ob, err := alert.NewOutbox(opts)
	if err != nil {
		b.Fatal(err)
	}
	s := alert.SettingsFrom(config.Default().Alerting)
	s.GroupWait, s.GroupInterval = 0, time.Nanosecond
	mgr, err := alert.NewManager(alert.ManagerOptions{Store: st, Out: ob, Settings: s})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = mgr.Run(ctx); done <- struct{}{} }()
	go func() { _ = ob.Run(ctx); done <- struct{}{} }()
	defer func() {
		cancel()
		<-done
		<-done
	}()

	wait := func(n int) slackfake.Message {
		wctx, stop := context.WithTimeout(ctx, 10*time.Second)
		defer stop()
		msgs, err := fake.WaitMessages(wctx, n)
		if err != nil {
			b.Fatal(err)
		}
		return msgs[n-1]
	}
	var lat []time.Duration
	for n := 0; b.Loop(); n += 2 {
		start := time.Now()
		mgr.Handle(event.Event{Target: "main", Name: "fps_low", Severity: alert.SeverityWarning, State: event.StateFiring,
			At: start, Since: start, Reason: "FPS 61.2 below 85 for 1m0s", Observed: "61.2 fps", Expected: "at least 85 fps"})
		lat = append(lat, wait(n+1).Received.Sub(start))
		mgr.Handle(event.Event{Target: "main", Name: "fps_low", Severity: alert.SeverityWarning, At: time.Now(), Reason: "FPS back"})
		wait(n + 2)
	}
	b.StopTimer()
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	if p99 > 100*time.Millisecond {
		b.Logf("p99 %v is above the 100 ms budget (%d firings)", p99, len(lat))
	}
}
