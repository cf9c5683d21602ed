// Package health is the daemon's liveness registry: every long-running
// loop registers, reports its progress, and declares how long it may
// rightly stay silent. The systemd watchdog and /-/healthy ask Stuck.
//
// A loop is in one of three states, each with its own deadline:
//
//   - busy (Busy): working; it must report again within the registry's
//     budget, or it is stuck;
//   - waiting (Until, For): on a timer (a backoff, a Retry-After, the next
//     round) or in a call bounded by its own timeout; healthy until that
//     instant plus the budget;
//   - idle (Idle): blocked until work arrives on a channel; healthy for as
//     long as it waits.
//
// So a Slack outage (a dispatcher backing off, or in a request bounded by
// the sink's timeout) never looks like a wedge; a loop stuck inside a
// step does. A nil *Registry and a nil *Loop do nothing, so components
// run without one in tests and commands.
package health

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// MinBudget is the least budget: shorter busy steps would be flagged by
// scheduling noise alone on a loaded machine.
const MinBudget = time.Second

// BudgetFor is the busy budget under a watchdog interval: half the
// interval, so that a stuck loop withholds the ping before systemd's
// deadline passes, and never under MinBudget; without a watchdog (0),
// config.HealthBudget.
func BudgetFor(watchdog time.Duration) time.Duration {
	if watchdog <= 0 {
		return config.HealthBudget
	}
	return max(watchdog/2, MinBudget)
}

// Registry holds the registered loops. Safe for concurrent use.
type Registry struct {
	now    func() time.Time
	budget time.Duration

	mu    sync.Mutex
	loops map[*Loop]struct{}
}

// New returns a registry on the clock now, in which a busy step may take
// budget (<= 0: BudgetFor(0), config.HealthBudget).
func New(now func() time.Time, budget time.Duration) *Registry {
	if budget <= 0 {
		budget = BudgetFor(0)
	}
	return &Registry{now: now, budget: budget, loops: map[*Loop]struct{}{}}
}

// Register adds a loop, busy from now; the loop calls Unregister when it
// returns. Names need not be unique (a target restarted by a reload
// registers its new loop before the old one is gone).
func (r *Registry) Register(name string) *Loop {
	if r == nil {
		return nil
	}
	l := &Loop{r: r, name: name}
	l.Busy()
	r.mu.Lock()
	r.loops[l] = struct{}{}
	r.mu.Unlock()
	return l
}

// Stuck describes a loop past its deadline.
type Stuck struct {
	// Name is the loop's name, e.g. "outbox/slack".
	Name string
	// State is what the loop last declared: "busy", "waiting".
	State string
	// Since is when it declared it.
	Since time.Time
	// Deadline is when it was due to report.
	Deadline time.Time
}

// Stuck lists the loops past their deadline at the registry's now, by name.
func (r *Registry) Stuck() []Stuck {
	if r == nil {
		return nil
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Stuck
	for l := range r.loops {
		l.mu.Lock()
		if !l.deadline.IsZero() && now.After(l.deadline) {
			out = append(out, Stuck{Name: l.name, State: l.state, Since: l.since, Deadline: l.deadline})
		}
		l.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Report is a line per stuck loop with how long it has been silent at
// now, or "" when every loop is within its deadline.
func Report(stuck []Stuck, now time.Time) string {
	var b strings.Builder
	for _, s := range stuck {
		fmt.Fprintf(&b, "%s: %s since %s ago, %s past its deadline\n", s.Name, s.State,
			now.Sub(s.Since).Round(time.Millisecond), now.Sub(s.Deadline).Round(time.Millisecond))
	}
	return b.String()
}

// Now is the registry's clock.
func (r *Registry) Now() time.Time { return r.now() }

// Loop is one registered loop's handle. Its methods are safe for
// concurrent use and do nothing on a nil *Loop.
type Loop struct {
	r    *Registry
	name string

	mu       sync.Mutex
	state    string
	since    time.Time
	deadline time.Time // zero: idle, no deadline
}

// Busy reports progress: the loop is working and reports again within
// the registry's budget.
func (l *Loop) Busy() {
	if l == nil {
		return
	}
	now := l.r.now()
	l.set("busy", now, now.Add(l.r.budget))
}

// Until declares a wait on a timer that fires at t (the next round, a
// backoff's end, a Retry-After): healthy until t plus the budget.
func (l *Loop) Until(t time.Time) {
	if l == nil {
		return
	}
	now := l.r.now()
	l.set("waiting", now, later(now, t).Add(l.r.budget))
}

// For declares a wait of at most d from now: a timer of d, or a call
// bounded by its own timeout d. Healthy until now+d plus the budget.
func (l *Loop) For(d time.Duration) {
	if l == nil {
		return
	}
	now := l.r.now()
	l.set("waiting", now, now.Add(max(d, 0)+l.r.budget))
}

// Idle declares a wait for work on a channel, with no deadline.
func (l *Loop) Idle() {
	if l == nil {
		return
	}
	l.set("idle", l.r.now(), time.Time{})
}

// Unregister removes the loop from its registry; later reports are ignored.
func (l *Loop) Unregister() {
	if l == nil {
		return
	}
	l.r.mu.Lock()
	delete(l.r.loops, l)
	l.r.mu.Unlock()
}

func (l *Loop) set(state string, since, deadline time.Time) {
	l.mu.Lock()
	l.state, l.since, l.deadline = state, since, deadline
	l.mu.Unlock()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
