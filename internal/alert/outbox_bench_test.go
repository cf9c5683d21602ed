package alert

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// BenchmarkOutboxEnqueueToReceipt measures a notification's way through
// the outbox as the daemon runs it, fsync on: Enqueue's commit, the
// dispatcher's wake-up and read, up to the sink's receipt. It reports the
// p50 and p99 latency (the budget from a rule firing to the fake
// Slack's receipt is p99 < 100 ms, sink included).
func BenchmarkOutboxEnqueueToReceipt(b *testing.B) {
	s, err := store.Open(b.TempDir(), storetest.Options(store.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	received := make(chan struct{}, 1)
	sink := NotifierFunc{SinkName: "bench", Fn: func(context.Context, Message) (bool, error) {
		received <- struct{}{}
		return false, nil
	}}
	opts := OutboxOptionsFrom(config.Default().Alerting.Outbox)
	opts.Store, opts.Sinks = s, []Notifier{sink}
	ob, err := NewOutbox(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- ob.Run(ctx) }()
	defer func() {
		cancel()
		<-ran
	}()

	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if err := ob.Enqueue(Message{ID: strconv.Itoa(i), Kind: KindText, Text: "bench"}); err != nil {
			b.Fatal(err)
		}
		<-received
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
