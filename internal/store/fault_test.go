//go:build linux

package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	bolt "go.etcd.io/bbolt"
)

// TestGuardCatchesFaultsInBbolt shrinks a file under a live bbolt mapping,
// so that walking it reads pages past the end of the file: SIGBUS, which
// without guard kills the process with "unexpected fault address". Open's
// size check catches a file truncated while the daemon was down; this is
// the case it cannot see, and the proof that guard turns a fault into an
// error.
func TestGuardCatchesFaultsInBbolt(t *testing.T) {
	clk := testkit.NewClock(t)
	dir := buildState(t, clk)
	path := filepath.Join(dir, "state.db")

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	mustDo(t, err)
	defer db.Close()
	mustDo(t, os.Truncate(path, 3*int64(os.Getpagesize())))

	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error { return walk(tx) })
	})
	var pe *panicError
	if !errors.As(err, &pe) {
		t.Fatalf("walk over a truncated mapping: %v, want a *panicError", err)
	}
	if f, ok := pe.value.(interface{ Addr() uintptr }); !ok || f.Addr() == 0 {
		t.Errorf("panic value %#v is not a memory fault at a real address", pe.value)
	}
	t.Logf("caught: %v", err)
}

// TestDamageWhileRunningFault truncates state.db under an open store, so
// that the next read touches pages past the end of the file: SIGBUS. The
// call fails with ErrDamaged naming the fault, and the store recovers.
func TestDamageWhileRunningFault(t *testing.T) {
	s, r := openWatched(t)
	recs := make([]CheckRecord, 100)
	for i := range recs {
		recs[i] = CheckRecord{Check: "health", Result: ResultPass, Reason: strings.Repeat("x", 1000)}
	}
	mustDo(t, s.RecordCheck("vr", recs...))
	mustDo(t, os.Truncate(filepath.Join(s.Dir(), "state.db"), 2*int64(os.Getpagesize())))

	_, err := s.CheckHistory("vr", time.Time{})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "faulted") {
		t.Fatalf("CheckHistory over a truncated file = %v, want ErrDamaged naming the fault", err)
	}
	checkRecoveredOnce(t, s, r)
}
