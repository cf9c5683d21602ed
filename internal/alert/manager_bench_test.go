package alert

import (
	"context"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

// BenchmarkHandleToEnqueue measures the manager's share of "rule firing to
// Slack": from Handle to the message reaching the Enqueuer, with
// group_wait 0, on a real store (one state write per step). Each
// iteration fires and resolves one alert; group_interval is tiny so that
// the resolution goes out at once and the state stays small.
func BenchmarkHandleToEnqueue(b *testing.B) {
	st, err := store.Open(b.TempDir(), storetest.Options(store.Options{}))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	got := make(chan Message, 2)
	s := testSettings()
	s.GroupWait, s.GroupInterval = 0, time.Nanosecond
	m, err := NewManager(ManagerOptions{Store: st, Settings: s, Out: EnqueuerFunc(func(msg Message) error {
		got <- msg
		return nil
	})})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	for b.Loop() {
		m.Handle(event.Event{Target: "main", Name: "fps_low", Severity: SeverityCritical, State: event.StateFiring})
		if msg := <-got; msg.Alerts[0].State != StateFiring {
			b.Fatalf("got %s, want firing", msg.Alerts[0].State)
		}
		m.Handle(event.Event{Target: "main", Name: "fps_low", Severity: SeverityCritical})
		<-got
	}
}
