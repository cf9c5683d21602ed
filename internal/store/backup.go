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
	s.backupMu.Lock()
	defer s.backupMu.Unlock()
	if s.closed {
		return s.wrap("backup", ErrClosed)
	}
	bak := s.path + ".bak"
	tmp := bak + ".tmp"
	s.mu.RLock()
	db := s.db
	s.mu.RUnlock()
	err := writeSynced(s.dir, tmp, func(w io.Writer) error {
		return s.runRaw((*bolt.DB).View, func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
	})
	if err != nil {
		return s.wrap("backup", err)
	}
	_, reason, err := verifyFile(s.dir, tmp, s.opts.LockTimeout)
	if err == nil && reason != "" {
		// The copy is the database's pages as they are: the database is
		// damaged. Set it aside now, rather than at the next start.
		err = fmt.Errorf("the copy failed verification, the previous backup is kept: %w",
			s.damaged(db, "the state failed the backup's verification: "+reason))
	}
	if err != nil {
		os.Remove(tmp)
		return s.wrap("backup", err)
	}
	return s.wrap("backup", renameSync(s.dir, tmp, bak))
}
