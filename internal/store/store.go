package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	bolt "go.etcd.io/bbolt"
)

// Options tunes a Store. Its bounds have no defaults here: the daemon's
// live in internal/config (config.Store*), and Open refuses a zero one,
// naming it. Now and NoSync may be left out.
type Options struct {
	// LockTimeout is how long Open waits for another holder of the state
	// dir to let go before it returns a *LockedError: the daemon's is
	// config.StoreLockTimeout (1s). Required.
	LockTimeout time.Duration
	// Now is the wall clock: default start times and IDs, check retention,
	// dead-letter times, names of damaged files set aside. Default clock.Now.
	Now func() time.Time
	// DeploymentHistory is how many deployments are kept per target, the
	// newest: config.StoreDeploymentHistory (50). Required.
	DeploymentHistory int
	// CheckHistory is how many check records are kept per target, the
	// newest: config.StoreCheckHistory (10000). Required.
	CheckHistory int
	// CheckRetention is how long check records are kept:
	// config.StoreCheckRetention (48h). Required.
	CheckRetention time.Duration
	// DeadLetters is how many dead letters are kept per sink, the newest:
	// config.StoreDeadLetters (1000). Required.
	DeadLetters int
	// RollupRetention is how long rollups are kept per target:
	// config.StoreRollupRetention (48h). Required.
	RollupRetention time.Duration
	// RollupHistory is how many rollups are kept per target, the newest:
	// config.StoreRollupHistory (3000). Required; raise it with
	// RollupRetention.
	RollupHistory int
	// NoSync skips the fsync of each commit. For tests and benchmarks
	// only: a machine crash may then lose the last commits. Default false.
	NoSync bool
}

// check reports every bound of o that is not positive, naming it.
func (o Options) check() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"LockTimeout", o.LockTimeout}, {"CheckRetention", o.CheckRetention}, {"RollupRetention", o.RollupRetention}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("store: Options.%s: must be positive, got %s: the daemon's is in internal/config", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"DeploymentHistory", o.DeploymentHistory}, {"CheckHistory", o.CheckHistory}, {"DeadLetters", o.DeadLetters}, {"RollupHistory", o.RollupHistory}} {
		if n.v <= 0 {
			errs = append(errs, fmt.Errorf("store: Options.%s: must be positive, got %d: the daemon's is in internal/config", n.name, n.v))
		}
	}
	return errors.Join(errs...)
}

// Store is the open state dir. It is safe for concurrent use.
type Store struct {
	dir    string
	path   string
	opts   Options
	lock   *dirLock
	report OpenReport

	// mu guards the database: every transaction holds it shared, and
	// replacing a database found damaged at run time, or closing it, holds
	// it exclusively. Callers never see a *bolt.DB, so none keeps a stale one.
	mu       sync.RWMutex
	db       *bolt.DB
	file     *os.File // db's file
	dbClosed bool
	// broken is the damage found in db when it could not be replaced yet:
	// no transaction enters db again (see damaged).
	broken string
	// aside is where db's file was moved while replacing it failed.
	aside string

	// writeMu serialises write transactions, and holds the next writer
	// back until a writer that found damage has replaced the database: its
	// transaction may have kept bbolt's writer lock, which would block any
	// later writer on the old database forever.
	writeMu sync.Mutex

	// deploymentsVersion changes after every write that may change a
	// target's deployments (DeploymentsVersion).
	deploymentsVersion atomic.Uint64

	// onRecovered is told of damage found at run time (OnRecovered).
	onRecovered atomic.Pointer[func(OpenReport)]
	// held reports the outbox entries the owner holds in memory (KeepHeld).
	held atomic.Pointer[func() map[string][]OutboxEntry]

	// backupMu serialises Backup (the calls share a temp file) and Close
	// (no backup may touch the dir once the lock is released).
	backupMu sync.Mutex
	closed   bool // guarded by backupMu

	closeOnce sync.Once
	closeErr  error
}

// Open opens the state in dir, creating dir (0700) and dir/state.db (0600)
// when missing. It holds dir/state.lock until Close; when another process
// or another Store holds it, Open waits up to LockTimeout and returns a
// *LockedError (matching ErrLocked) naming the dir and the holder's PID.
//
// A damaged state.db does not make Open fail: it is set aside, the backup
// is restored when good, and Report says what happened. Open fails for a
// dir it cannot write (ErrNotWritable), a full disk (ErrDiskFull) or
// another I/O error.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: state dir is empty: set --state.dir")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	if err := prepareDir(dir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	lock, err := acquireDirLock(dir, filepath.Join(dir, lockFile), opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, file, rep, err := openState(dir, opts)
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("store: %w", err)
	}
	db.NoSync = opts.NoSync
	return &Store{
		dir:    dir,
		path:   filepath.Join(dir, dbFile),
		opts:   opts,
		db:     db,
		file:   file,
		lock:   lock,
		report: rep,
	}, nil
}

// prepareDir creates dir and proves it writable with a probe file, so
// that a read-only dir is reported at start-up, not at the first backup.
// Any failure here means the dir cannot hold state.
func prepareDir(dir string) error {
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var probe *os.File
		if probe, err = os.CreateTemp(dir, ".probe-*"); err == nil {
			probe.Close()
			err = os.Remove(probe.Name())
		}
	}
	if err == nil {
		return nil
	}
	var de *dirError
	if c := classify(dir, err); errors.As(c, &de) {
		return c
	}
	return &dirError{kind: ErrNotWritable, dir: dir, err: err}
}

// Report says what Open found: a new dir, a loaded state, or damage and
// what was done about it.
func (s *Store) Report() OpenReport { return s.report }

// Dir is the state dir.
func (s *Store) Dir() string { return s.dir }

// Close waits for running transactions, closes the database and releases
// the state dir. Every commit is already on disk, so there is nothing else
// to flush. Calling Close again returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.backupMu.Lock()
		defer s.backupMu.Unlock()
		s.closed = true
		s.mu.Lock()
		s.dbClosed = true
		var dbErr error
		if s.broken != "" {
			dbErr = s.file.Close() // the database may hold its writer lock for good
		} else {
			dbErr = s.db.Close()
		}
		s.mu.Unlock()
		if dbErr != nil {
			dbErr = fmt.Errorf("store: close %s: %w", s.path, dbErr)
		}
		lockErr := s.lock.release()
		if lockErr != nil {
			lockErr = fmt.Errorf("store: release lock in %s: %w", s.dir, lockErr)
		}
		s.closeErr = errors.Join(dbErr, lockErr)
	})
	return s.closeErr
}

// update runs fn in a write transaction, committed and fsynced on return.
func (s *Store) update(op string, fn func(*bolt.Tx) error) error {
	s.writeMu.Lock()
	rep, err := s.runRaw((*bolt.DB).Update, fn)
	s.writeMu.Unlock()
	s.notify(rep)
	return s.wrap(op, err)
}

// view runs fn in a read transaction.
func (s *Store) view(op string, fn func(*bolt.Tx) error) error {
	return s.run(op, (*bolt.DB).View, fn)
}

func (s *Store) now() time.Time { return s.opts.Now() }

// cloneValue copies a value out of bbolt's mmap, which is only valid inside
// the transaction; an empty value comes back as an empty, non-nil slice.
func cloneValue(v []byte) []byte {
	return append([]byte{}, v...)
}
