package health_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/health"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestLoopDeadlines: a busy loop is stuck once the budget passes without a
// report; a loop waiting on a timer or in a bounded call is healthy until
// that bound plus the budget; an idle loop never is; an unregistered loop
// is forgotten.
func TestLoopDeadlines(t *testing.T) {
	clk := testkit.NewClock(t)
	r := health.New(clk.Now, 2*time.Second)
	busy := r.Register("busy")
	timer := r.Register("timer")
	call := r.Register("call")
	idle := r.Register("idle")
	gone := r.Register("gone")
	timer.Until(clk.Now().Add(time.Hour))
	call.For(10 * time.Second)
	idle.Idle()
	gone.Unregister()
	gone.Busy() // ignored: unregistered

	names := func() string {
		var n []string
		for _, s := range r.Stuck() {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(); got != "" {
		t.Fatalf("stuck at start: %q", got)
	}
	clk.Advance(2 * time.Second)
	if got := names(); got != "" {
		t.Fatalf("stuck at the budget's end: %q, want none", got)
	}
	clk.Advance(time.Millisecond)
	if got := names(); got != "busy" {
		t.Fatalf("stuck past the budget: %q, want busy", got)
	}
	if rep := health.Report(r.Stuck(), clk.Now()); !strings.Contains(rep, "busy: busy since 2.001s ago, 1ms past its deadline") {
		t.Errorf("report %q", rep)
	}
	busy.Busy()
	clk.Advance(10 * time.Second)
	if got := names(); got != "busy,call" {
		t.Fatalf("stuck 12s on: %q, want busy,call (the call's 10s bound and the budget passed)", got)
	}
	clk.Advance(time.Hour)
	if got := names(); got != "busy,call,timer" {
		t.Fatalf("stuck an hour on: %q, want busy,call,timer (idle is never stuck)", got)
	}
}

// TestNilIsANoOp: components run without a registry.
func TestNilIsANoOp(t *testing.T) {
	var r *health.Registry
	l := r.Register("x")
	l.Busy()
	l.Until(time.Time{})
	l.For(time.Second)
	l.Idle()
	l.Unregister()
	if s := r.Stuck(); s != nil {
		t.Errorf("nil registry: %v", s)
	}
}

// TestBudgetFor: half the watchdog, never under MinBudget; config.HealthBudget
// without a watchdog.
func TestBudgetFor(t *testing.T) {
	for _, c := range []struct{ wd, want time.Duration }{
		{0, config.HealthBudget}, {60 * time.Second, 30 * time.Second}, {200 * time.Millisecond, health.MinBudget},
	} {
		if got := health.BudgetFor(c.wd); got != c.want {
			t.Errorf("BudgetFor(%s) = %s, want %s", c.wd, got, c.want)
		}
	}
}
