package review

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/store/storetest"
)

func TestNewServiceRefusesBadOptions(t *testing.T) {
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := DelivererFunc(func(context.Context, Review) error { return nil })
	taken := prometheus.NewRegistry()
	if _, err := NewService(ServiceOptions{Store: st, Dir: "d", Deliverer: out, Registerer: taken}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts ServiceOptions
		want string
	}{
		{"no store", ServiceOptions{Dir: "d", Deliverer: out}, "ServiceOptions.Store is nil"},
		{"no dir", ServiceOptions{Store: st, Deliverer: out}, "ServiceOptions.Dir is empty"},
		{"no deliverer", ServiceOptions{Store: st, Dir: "d"}, "ServiceOptions.Deliverer is nil"},
		{"descending offsets", ServiceOptions{Store: st, Dir: "d", Deliverer: out, Offsets: []time.Duration{4 * time.Hour, time.Hour}},
			"ServiceOptions.Offsets: review offsets[1] (1h0m0s) is not after offsets[0]"},
		{"delay past interval", ServiceOptions{Store: st, Dir: "d", Deliverer: out, Interval: 10 * time.Second, TickDelay: 10 * time.Second},
			"TickDelay (10s) must be shorter than Interval (10s)"},
		{"metrics registered twice", ServiceOptions{Store: st, Dir: "d", Deliverer: out, Registerer: taken}, "register review metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewService(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewService = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestServiceRegister(t *testing.T) {
	st, err := store.Open(t.TempDir(), storetest.Options(store.Options{NoSync: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := NewService(ServiceOptions{Store: st, Dir: t.TempDir(), Deliverer: DelivererFunc(func(context.Context, Review) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("vr", TargetOptions{Offsets: []time.Duration{0}}); err == nil || !strings.Contains(err.Error(), "target vr: offsets") {
		t.Errorf("Register with a zero offset: %v", err)
	}
	if err := s.Register("vr", TargetOptions{Offsets: []time.Duration{time.Minute, 3 * time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.lookup("vr"); strings.Join(tg.sched.names(), " ") != "minute-1 minute-3" || tg.sched.horizon != 3*time.Minute+24*time.Hour {
		t.Errorf("schedule = %v, horizon %s", tg.sched.names(), tg.sched.horizon)
	}
	// A reload replaces the offsets.
	if err := s.Register("vr", TargetOptions{}); err != nil {
		t.Fatal(err)
	}
	if tg, _ := s.lookup("vr"); strings.Join(tg.sched.names(), " ") != "hour-1 hour-4 hour-24" {
		t.Errorf("after re-registering without offsets: %v, want the service's", tg.sched.names())
	}
	if _, err := s.Reviews("other", ""); err == nil {
		t.Errorf("Reviews of an unregistered target: no error")
	}
	if _, err := s.Reviews("vr", ""); err == nil || !strings.Contains(err.Error(), "no deployment yet") {
		t.Errorf("Reviews before any deployment: %v", err)
	}
}
