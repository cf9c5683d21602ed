package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Damage found while the store is open. Open reads every page, but the
// file can be damaged afterwards (a failing disk, a stray writer). bbolt
// then panics, or faults, on the first page it cannot make sense of, in
// whatever goroutine asked, which would kill the daemon. So every
// transaction runs under guard, and a panic, a fault or bbolt's own
// verdict on a page (checksum, invalid database) makes the store:
//
//  1. read the messages still queued in the outbox, as far as it can, and
//     take those its owner holds in memory (KeepHeld);
//  2. set state.db aside as state.db.corrupt-<unix>, as Open does;
//  3. continue on a fresh state.db holding those messages, under the same
//     lock, so that callers keep working and none holds a stale database;
//  4. tell its owner (OnRecovered), who should count it, raise an operator
//     alert and take its next observations silently (Report.SafeMode).
//
// The call that found the damage fails with an error matching ErrDamaged
// and did not take effect; calling again works on the fresh state.

// OnRecovered sets fn to be told of damage found while the store is open,
// after the damaged file was set aside and the store continues on a fresh
// one; the report has Recovered, SafeMode and WhileRunning set. fn runs in
// the goroutine whose call found the damage, once that call holds none of
// the store's locks: it may use the store (write back what the owner holds
// in memory), and should return quickly. Damage found before fn is set is
// not reported to it. Nil removes it.
func (s *Store) OnRecovered(fn func(OpenReport)) {
	if fn == nil {
		s.onRecovered.Store(nil)
		return
	}
	s.onRecovered.Store(&fn)
}

// KeepHeld sets fn to report the outbox entries the owner has read and
// holds in memory, not yet delivered or dead-lettered, per sink. When the
// store replaces a damaged database while running, it writes them into the
// fresh one, under their seq numbers, beside the messages it could still
// read from the damaged file: a message the damage made unreadable, but
// that a dispatcher still holds, then survives the next restart. fn runs
// with the store locked: it must not call the store. Nil removes it.
func (s *Store) KeepHeld(fn func() map[string][]OutboxEntry) {
	if fn == nil {
		s.held.Store(nil)
		return
	}
	s.held.Store(&fn)
}

// run runs fn in a transaction of the current database, begun by txn
// ((*bolt.DB).View or Update), under guard, and wraps the error for op.
// The owner is told of damage found only once no lock of the store is
// held, so that OnRecovered's fn may use the store.
func (s *Store) run(op string, txn func(*bolt.DB, func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) error {
	rep, err := s.runRaw(txn, fn)
	s.notify(rep)
	return s.wrap(op, err)
}

// runRaw is run without the wrapping and the telling: rep is non-nil when
// this call replaced the damaged database, for the caller to notify once
// it holds no lock.
func (s *Store) runRaw(txn func(*bolt.DB, func(*bolt.Tx) error) error, fn func(*bolt.Tx) error) (*OpenReport, error) {
	s.mu.RLock()
	db, broken := s.db, s.broken
	if broken != "" {
		s.mu.RUnlock()
		return s.damaged(db, broken)
	}
	err := guard(func() error { return txn(db, fn) })
	s.mu.RUnlock()
	if reason := damageIn(err); reason != "" {
		return s.damaged(db, reason)
	}
	return nil, err
}

// notify tells the owner of a replacement, if any.
func (s *Store) notify(rep *OpenReport) {
	if rep == nil {
		return
	}
	if fn := s.onRecovered.Load(); fn != nil {
		(*fn)(*rep)
	}
}

// damageIn returns the damage err reports, or "" when it reports none: a
// panic or memory fault inside a transaction, or bbolt's verdict on a page.
func damageIn(err error) string {
	var pe *panicError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return pe.Error()
	case errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrInvalidMapping), errors.Is(err, berrors.ErrVersionMismatch):
		return err.Error()
	}
	return ""
}

// damaged handles damage found in db: unless another call already
// replaced it, db is set aside and replaced, and the report comes back for
// the caller to notify. err is the error for the call that found it.
func (s *Store) damaged(db *bolt.DB, reason string) (*OpenReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.dbClosed:
		return nil, ErrClosed
	case s.db != db:
		// Another call found the damage first and replaced the database.
		return nil, fmt.Errorf("%w: %s; continuing on a fresh state", ErrDamaged, reason)
	}
	r, err := s.replace(reason)
	if err != nil {
		s.broken = reason
		return nil, fmt.Errorf("%w: %s; and it could not be set aside: %w", ErrDamaged, reason, err)
	}
	return &r, fmt.Errorf("%w: %s; kept as %s, continuing on a fresh state", ErrDamaged, reason, r.CorruptPath)
}

// replace sets the damaged database aside and opens a fresh one holding
// the messages still readable from the old outbox. The caller holds mu
// exclusively. On error nothing is replaced, and the next call that finds
// the damage tries again.
//
// The old database is not closed: bbolt cannot always close one whose
// transaction panicked (a write whose rollback panicked too keeps the
// writer lock forever). Its file is closed, which drops its flock; its
// mapping stays until the process exits, once per damage found.
func (s *Store) replace(reason string) (OpenReport, error) {
	kept, lastSeq := salvageOutbox(s.db)
	if fn := s.held.Load(); fn != nil {
		kept = withHeld(kept, (*fn)())
	}
	if s.aside == "" { // not yet set aside by an attempt that failed later
		aside, err := moveAside(s.dir, s.path, s.now())
		if err != nil {
			return OpenReport{}, err
		}
		s.aside = aside
	}
	aside := s.aside
	db, file, why, err := openBolt(s.dir, s.path, &bolt.Options{Timeout: s.opts.LockTimeout})
	if err == nil && why != "" {
		err = fmt.Errorf("open a new %s: %s", s.path, why)
	}
	if err != nil {
		return OpenReport{}, err
	}
	db.NoSync = s.opts.NoSync
	n := 0
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			if err := initSchema(tx); err != nil {
				return err
			}
			n, err = restoreOutbox(tx, kept, lastSeq)
			return err
		})
	})
	if err != nil {
		db.Close()
		return OpenReport{}, classify(s.dir, fmt.Errorf("initialise a new %s: %w", s.path, err))
	}
	if s.file != nil {
		s.file.Close()
	}
	s.db, s.file, s.broken, s.aside = db, file, "", ""
	s.deploymentsChanged() // the fresh database has none
	return OpenReport{Recovered: true, SafeMode: true, WhileRunning: true, Reason: reason, CorruptPath: aside, KeptMessages: n}, nil
}

// salvageOutbox reads the messages queued in a damaged database, each
// sink's under a guard of its own: a sink whose pages are damaged keeps
// the messages read before the damage, and the other sinks keep theirs.
// lastSeq is the outbox's last seq number issued, when readable.
func salvageOutbox(db *bolt.DB) (kept map[string][]OutboxEntry, lastSeq uint64) {
	kept = map[string][]OutboxEntry{}
	var sinks []string
	_ = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			p := tx.Bucket(bucketOutbox)
			if p == nil {
				return nil
			}
			lastSeq = p.Sequence()
			return p.ForEachBucket(func(k []byte) error {
				sinks = append(sinks, string(k))
				return nil
			})
		})
	})
	for _, sink := range sinks {
		_ = guard(func() error {
			return db.View(func(tx *bolt.Tx) error {
				b := ownerBucket(tx, bucketOutbox, sink)
				if b == nil {
					return nil
				}
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					seq, err := keySeq(k)
					if err != nil {
						return err
					}
					kept[sink] = append(kept[sink], OutboxEntry{Seq: seq, Payload: cloneValue(v)})
				}
				return nil
			})
		})
	}
	return kept, lastSeq
}

// withHeld adds to the salvaged messages those the owner holds that the
// salvage could not read, each sink's in seq order.
func withHeld(kept, held map[string][]OutboxEntry) map[string][]OutboxEntry {
	for sink, entries := range held {
		have := map[uint64]bool{}
		for _, e := range kept[sink] {
			have[e.Seq] = true
		}
		for _, e := range entries {
			if !have[e.Seq] {
				kept[sink] = append(kept[sink], e)
			}
		}
		slices.SortFunc(kept[sink], func(a, b OutboxEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	return kept
}

// restoreOutbox writes the salvaged messages into a fresh outbox under
// their seq numbers, and moves the seq counter past them and past last,
// so that the order per sink holds, and an ack of a message read before
// the damage cannot remove a message queued after it.
func restoreOutbox(tx *bolt.Tx, kept map[string][]OutboxEntry, last uint64) (int, error) {
	n := 0
	for sink, entries := range kept {
		if checkName("outbox sink", sink) != nil {
			continue // a damaged name: its messages have nowhere to go
		}
		b, err := createOwnerBucket(tx, bucketOutbox, sink)
		if err != nil {
			return n, err
		}
		for _, e := range entries {
			if err := logPut(b, seqKey(e.Seq), e.Payload); err != nil {
				return n, err
			}
			last = max(last, e.Seq)
			n++
		}
	}
	if p := tx.Bucket(bucketOutbox); p.Sequence() < last {
		return n, p.SetSequence(last)
	}
	return n, nil
}
