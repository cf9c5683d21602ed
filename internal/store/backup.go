package store

import (
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the state to dir/state.db.bak, the
// copy Open restores when state.db is damaged. The copy is written to a
// temp file, fsynced, verified with the same checks Open runs, and only
// then renamed over the previous backup: the backup on disk is always
// complete and good. Writers are not blocked while it runs.
//
// The daemon should call it after Open, periodically (hourly), and at
// clean shutdown.
func (s *Store) Backup() error {
	rep, err := s.backup()
	s.notify(rep)
	return err
}

// backup is Backup; rep is non-nil when it found the state damaged and
// replaced it, for Backup to notify once backupMu is released.
func (s *Store) backup() (rep *OpenReport, _ error) {
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	if s.closed {
		return nil, s.wrap("backup", ErrClosed)
	}
	bak := s.path + ".bak"
	tmp := bak + ".tmp"
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	err := writeSynced(s.dir, tmp, func(w io.Writer) error {
		var err error
		rep, err = s.runRaw((*bolt.DB).View, func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
		return err
	})
	if err != nil {
		return rep, s.wrap("backup", err)
	}
	_, reason, err := verifyFile(s.dir, tmp, s.opts.LockTimeout)
	if err == nil && reason != "" {
		// The copy is the database's pages as they are: the database is
		// damaged. Set it aside now, rather than at the next start.
		var derr error
		rep, derr = s.damaged(db, "the state failed the backup's verification: "+reason)
		err = fmt.Errorf("the copy failed verification, the previous backup is kept: %w", derr)
	}
	if err != nil {
		os.Remove(tmp)
		return rep, s.wrap("backup", err)
	}
	return nil, s.wrap("backup", renameSync(s.dir, tmp, bak))
}
