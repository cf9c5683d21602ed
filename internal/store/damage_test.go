package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	bolt "go.etcd.io/bbolt"
)

// recoveries records the reports OnRecovered gives.
type recoveries struct {
	mu   sync.Mutex
	reps []OpenReport
}

func (r *recoveries) add(rep OpenReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reps = append(r.reps, rep)
}

func (r *recoveries) list() []OpenReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]OpenReport(nil), r.reps...)
}

// openWatched opens a store in a new dir, fills it with writeFixture and
// records what OnRecovered reports.
func openWatched(t *testing.T) (*Store, *recoveries) {
	t.Helper()
	s := openT(t, t.TempDir(), Options{Now: testkit.NewClock(t).Now})
	writeFixture(t, s)
	r := &recoveries{}
	s.OnRecovered(r.add)
	return s, r
}

// checkRecoveredOnce fails the test unless the store reported one damage
// found while running, kept the damaged file, and works on its fresh state.
func checkRecoveredOnce(t *testing.T, s *Store, r *recoveries) {
	t.Helper()
	reps := r.list()
	if len(reps) != 1 {
		t.Fatalf("OnRecovered told %d times, want once: %+v", len(reps), reps)
	}
	rep := reps[0]
	if !rep.Recovered || !rep.SafeMode || !rep.WhileRunning || rep.Reason == "" {
		t.Errorf("report = %+v, want Recovered, SafeMode, WhileRunning and a reason", rep)
	}
	if aside, _ := filepath.Glob(filepath.Join(s.Dir(), "state.db.corrupt-*")); len(aside) != 1 || aside[0] != rep.CorruptPath {
		t.Errorf("damaged files kept: %v, want exactly the report's %s", aside, rep.CorruptPath)
	}
	if !strings.Contains(rep.String(), "found while running") {
		t.Errorf("report line %q does not say the damage was found while running", rep)
	}
	mustDo(t, s.PutMeta("after", []byte("works")))
	if v, ok, err := s.GetMeta("after"); err != nil || !ok || string(v) != "works" {
		t.Errorf("GetMeta after the recovery = %q, %v, %v", v, ok, err)
	}
	mustDo(t, s.Backup())
	checkInvariants(t, s)
}

// TestDamageWhileRunningOnEveryAccessPath overwrites state.db from byte
// 8192 under an open store (every page but the two meta pages), then makes
// one call of each kind: each returns an error matching ErrDamaged instead
// of panicking, the damaged file is set aside, the owner is told once, and
// the store works on a fresh state.
func TestDamageWhileRunningOnEveryAccessPath(t *testing.T) {
	t0 := testkit.BaseTime(t)
	calls := map[string]func(s *Store) error{
		"PutMeta":    func(s *Store) error { return s.PutMeta("k", []byte("v")) },
		"GetMeta":    func(s *Store) error { _, _, err := s.GetMeta("monitor/instance/vr-1"); return err },
		"DeleteMeta": func(s *Store) error { return s.DeleteMeta("monitor/instance/vr-1") },
		"OutboxAppend": func(s *Store) error {
			_, err := s.OutboxAppend("slack", []byte("m"))
			return err
		},
		"OutboxAppendAll": func(s *Store) error {
			_, err := s.OutboxAppendAll([]string{"slack", "bot"}, []byte("m"), MetaValue{Key: "alert/state", Value: []byte("{}")})
			return err
		},
		"OutboxPeek":       func(s *Store) error { _, err := s.OutboxPeek("slack", 0); return err },
		"OutboxAck":        func(s *Store) error { return s.OutboxAck("slack", 1) },
		"OutboxDeadLetter": func(s *Store) error { return s.OutboxDeadLetter("slack", 1, "gone") },
		"DeadLetters":      func(s *Store) error { _, err := s.DeadLetters("slack"); return err },
		"OutboxPending":    func(s *Store) error { _, err := s.OutboxPending(); return err },
		"DeadLetterCounts": func(s *Store) error { _, err := s.DeadLetterCounts(); return err },
		"PutRuleState":     func(s *Store) error { return s.PutRuleState("vr-1", "fps", []byte("{}")) },
		"DeleteRuleState":  func(s *Store) error { return s.DeleteRuleState("vr-1", "fps") },
		"RuleStates":       func(s *Store) error { _, err := s.RuleStates("vr-1"); return err },
		"StartDeployment": func(s *Store) error {
			_, err := s.StartDeployment(Deployment{Target: "vr-1", Version: "2", Source: SourceAPI})
			return err
		},
		"CurrentDeployment": func(s *Store) error { _, _, err := s.CurrentDeployment("vr-1"); return err },
		"DeploymentByID":    func(s *Store) error { _, _, err := s.DeploymentByID("vr-1-fixture"); return err },
		"Deployments":       func(s *Store) error { _, err := s.Deployments(""); return err },
		"DeleteTarget":      func(s *Store) error { return s.DeleteTarget("vr-1") },
		"RecordCheck": func(s *Store) error {
			return s.RecordCheck("vr-1", CheckRecord{Check: "health", At: t0, Result: ResultPass})
		},
		"CheckHistory":    func(s *Store) error { _, err := s.CheckHistory("vr-1", time.Time{}); return err },
		"PutReviewMarker": func(s *Store) error { return s.PutReviewMarker("vr-1-fixture", "1h", []byte("{}")) },
		"ReviewMarkers":   func(s *Store) error { _, err := s.ReviewMarkers("vr-1-fixture"); return err },
		"PutRollups":      func(s *Store) error { return s.PutRollups("vr-1", RollupRecord{At: t0, Value: []byte("r")}) },
		"Rollups":         func(s *Store) error { _, err := s.Rollups("vr-1", time.Time{}, t0); return err },
		"RollupUsage":     func(s *Store) error { _, err := s.RollupUsage("vr-1"); return err },
		"Backup":          func(s *Store) error { return s.Backup() },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			s, r := openWatched(t)
			version := s.DeploymentsVersion()
			testkit.CorruptFrom(t, filepath.Join(s.Dir(), "state.db"), 8192)
			if err := call(s); !errors.Is(err, ErrDamaged) {
				t.Fatalf("%s on a damaged file = %v, want an error matching ErrDamaged", name, err)
			}
			checkRecoveredOnce(t, s, r)
			if s.DeploymentsVersion() == version {
				t.Errorf("DeploymentsVersion unchanged by the fresh state, which has no deployments")
			}
			if err := call(s); err != nil && errors.Is(err, ErrDamaged) {
				t.Errorf("%s again, on the fresh state = %v", name, err)
			}
		})
	}
}

// TestDamageWhileRunningKeepsTheReadableOutbox damages only the pages of
// one target's rule states: the messages queued for two sinks survive the
// recovery in order, the report counts them, and a message queued after it
// gets a seq past every one issued before.
func TestDamageWhileRunningKeepsTheReadableOutbox(t *testing.T) {
	s, r := openWatched(t) // the fixture queued {"text":"kept"} for slack
	var last uint64
	for i := range 3 {
		seqs, err := s.OutboxAppendAll([]string{"slack", "bot"}, fmt.Appendf(nil, "m%d", i))
		mustDo(t, err)
		last = max(last, seqs["slack"], seqs["bot"])
	}
	for i := range 60 { // enough for pages of their own
		mustDo(t, s.PutRuleState("big", fmt.Sprintf("rule-%02d", i), []byte(strings.Repeat("x", 200))))
	}
	var root, pageSize int64
	mustDo(t, s.db.View(func(tx *bolt.Tx) error {
		root = int64(tx.Bucket(bucketRuleState).Bucket([]byte("big")).Root())
		pageSize = int64(tx.DB().Info().PageSize)
		return nil
	}))
	if root == 0 {
		t.Fatal("the rule states of big are inline: nothing to corrupt on its own")
	}
	testkit.CorruptAt(t, filepath.Join(s.Dir(), "state.db"), root*pageSize, pageSize)

	if _, err := s.RuleStates("big"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("RuleStates on a damaged page = %v, want ErrDamaged", err)
	}
	checkRecoveredOnce(t, s, r)
	if got := payloads(t, s, "slack", 0); got != `{"text":"kept"} m0 m1 m2` {
		t.Errorf("slack's outbox after the recovery = %q, want every message queued before it, in order", got)
	}
	if got := payloads(t, s, "bot", 0); got != "m0 m1 m2" {
		t.Errorf("bot's outbox after the recovery = %q", got)
	}
	if n := r.list()[0].KeptMessages; n != 7 {
		t.Errorf("report KeptMessages = %d, want 7", n)
	}
	seq, err := s.OutboxAppend("bot", []byte("m3"))
	mustDo(t, err)
	if seq <= last {
		t.Errorf("a message queued after the recovery got seq %d, not past %d issued before", seq, last)
	}
	if states, err := s.RuleStates("big"); err != nil || len(states) != 0 {
		t.Errorf("rule states of big after the recovery = %d, %v; want none (a fresh state)", len(states), err)
	}
}

// TestDamageWhileRunningKeepsHeldMessages: the damage makes every queued
// message unreadable, but the owner holds some in memory (a dispatcher's
// batch, which it goes on delivering): those are in the fresh outbox under
// their seq numbers, so that they survive a restart and the seq counter
// moves past them. Found by make chaos: a SIGKILL after such a damage
// lost the resolution a dispatcher was retrying.
func TestDamageWhileRunningKeepsHeldMessages(t *testing.T) {
	s, r := openWatched(t) // the fixture queued {"text":"kept"} for slack
	for i := range 3 {
		_, err := s.OutboxAppend("slack", fmt.Appendf(nil, "m%d", i))
		mustDo(t, err)
	}
	held, err := s.OutboxPeek("slack", 3) // a dispatcher's batch: all but m2
	mustDo(t, err)
	s.KeepHeld(func() map[string][]OutboxEntry { return map[string][]OutboxEntry{"slack": held} })
	testkit.CorruptFrom(t, filepath.Join(s.Dir(), "state.db"), 8192)

	if _, err := s.OutboxPending(); !errors.Is(err, ErrDamaged) {
		t.Fatalf("OutboxPending on a damaged file = %v, want ErrDamaged", err)
	}
	checkRecoveredOnce(t, s, r)
	if got := payloads(t, s, "slack", 0); got != `{"text":"kept"} m0 m1` {
		t.Errorf("slack's outbox after the recovery = %q, want the held messages in order", got)
	}
	last := held[len(held)-1].Seq
	mustDo(t, s.OutboxAck("slack", last))
	if got := payloads(t, s, "slack", 0); got != `{"text":"kept"} m0` {
		t.Errorf("after acking seq %d: slack's outbox = %q, want m1 gone under its own seq", last, got)
	}
	seq, err := s.OutboxAppend("slack", []byte("m3"))
	mustDo(t, err)
	if seq <= last {
		t.Errorf("a message queued after the recovery got seq %d, not past the held %d", seq, last)
	}
}

// TestDamageWhileRunningUnderConcurrentCalls damages the file while
// writers and readers run: no call panics, every failure matches
// ErrDamaged, the damage is handled once, OnRecovered may write to the
// store, and writes after it stick.
func TestDamageWhileRunningUnderConcurrentCalls(t *testing.T) {
	s, r := openWatched(t)
	var rewritten atomic.Pointer[error]
	s.OnRecovered(func(rep OpenReport) { // writes back, as the daemon's manager does
		err := s.PutMeta("rewritten", []byte("yes"))
		rewritten.Store(&err)
		r.add(rep)
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, damagedCalls atomic.Int64
	var other atomic.Pointer[error]
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if w%2 == 0 {
					err = s.PutMeta(fmt.Sprintf("w%d", w), fmt.Appendf(nil, "%d", i))
				} else {
					_, err = s.OutboxPending()
				}
				calls.Add(1)
				switch {
				case errors.Is(err, ErrDamaged):
					damagedCalls.Add(1)
				case err != nil:
					other.Store(&err)
				}
			}
		})
	}
	waitFor(t, "the callers to run", func() bool { return calls.Load() >= 100 })
	testkit.CorruptFrom(t, filepath.Join(s.Dir(), "state.db"), 8192)
	waitFor(t, "a call to find the damage", func() bool { return len(r.list()) > 0 })
	close(stop)
	wg.Wait()
	if p := other.Load(); p != nil {
		t.Errorf("a call failed otherwise than ErrDamaged: %v", *p)
	}
	if damagedCalls.Load() == 0 {
		t.Error("no call reported ErrDamaged")
	}
	checkRecoveredOnce(t, s, r)
	if p := rewritten.Load(); p == nil || *p != nil {
		t.Errorf("a write from OnRecovered: %v, want it done", p)
	}
	if v, ok, err := s.GetMeta("rewritten"); err != nil || !ok || string(v) != "yes" {
		t.Errorf("the value written from OnRecovered = %q, %v, %v", v, ok, err)
	}
}

// waitFor polls cond every millisecond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}
