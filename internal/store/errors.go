package store

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	berrors "go.etcd.io/bbolt/errors"
)

var (
	// ErrLocked is matched (errors.Is) by the error Open returns when another
	// process, or another Store in this process, holds the state dir. The
	// error is a *LockedError.
	ErrLocked = errors.New("state dir is locked")

	// ErrNotWritable is matched by errors from Open and from write methods
	// when the state dir cannot be created or written: permissions, a
	// read-only file system, a path that is not a directory.
	ErrNotWritable = errors.New("state dir is not writable")

	// ErrDiskFull is matched by errors from write methods when the disk or
	// the user's quota is full. The transaction was rolled back; the state
	// on disk is the one before the call.
	ErrDiskFull = errors.New("state dir is full")

	// ErrDamaged is matched by the error of a call that found the state
	// database damaged while the store was open. The call did not take
	// effect; the damaged file was set aside and the store continues on a
	// fresh one (see Store.OnRecovered), so calling again works.
	ErrDamaged = errors.New("state database damaged")

	// ErrClosed is matched by errors from methods called after Close.
	ErrClosed = errors.New("store is closed")

	// ErrExists is matched by the error StartDeployment returns for an ID
	// that is already recorded.
	ErrExists = errors.New("already exists")

	// ErrNotFound is matched by errors about a record that does not exist.
	ErrNotFound = errors.New("not found")
)

// LockedError reports that the state dir is held by another process (or by
// another open Store in this process). It matches ErrLocked.
type LockedError struct {
	// Dir is the state dir.
	Dir string
	// PID is the lock holder's process ID as it wrote it into state.lock,
	// or 0 when unknown.
	PID int
}

func (e *LockedError) Error() string {
	holder := "another process (pid unknown)"
	if e.PID > 0 {
		holder = fmt.Sprintf("pid %d", e.PID)
	}
	return fmt.Sprintf("state dir %s is locked by %s: is another spacetime-watch running on it? stop it or use a different --state.dir", e.Dir, holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// dirError explains an I/O failure in terms of the state dir and says what
// to do about it, while keeping both the sentinel and the cause matchable.
type dirError struct {
	kind error // ErrNotWritable or ErrDiskFull
	dir  string
	err  error
}

func (e *dirError) Error() string {
	if e.kind == ErrDiskFull {
		return fmt.Sprintf("state dir %s is full: %v; free some space or move --state.dir", e.dir, e.err)
	}
	return fmt.Sprintf("state dir %s is not writable: %v; fix the permissions or --state.dir", e.dir, e.err)
}

func (e *dirError) Unwrap() []error { return []error{e.kind, e.err} }

// classify wraps err in a dirError when it is a permission, read-only or
// disk-full error, and returns it unchanged otherwise.
func classify(dir string, err error) error {
	if err == nil {
		return nil
	}
	var de *dirError
	if errors.As(err, &de) {
		return err
	}
	switch {
	case isErrno(err, syscall.ENOSPC, syscall.EDQUOT):
		return &dirError{kind: ErrDiskFull, dir: dir, err: err}
	case isErrno(err, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.ENOTDIR):
		return &dirError{kind: ErrNotWritable, dir: dir, err: err}
	}
	return err
}

// lossyPrefixes start the bbolt errors that format their cause with %s
// (growing and syncing the file) and so lose the errno: for these the
// message text is matched instead.
var lossyPrefixes = []string{"file resize error: ", "file sync error: "}

func isErrno(err error, errnos ...syscall.Errno) bool {
	msg := err.Error()
	lossy := false
	for _, p := range lossyPrefixes {
		lossy = lossy || strings.HasPrefix(msg, p)
	}
	for _, n := range errnos {
		if errors.Is(err, n) || lossy && strings.HasSuffix(msg, n.Error()) {
			return true
		}
	}
	return false
}

// wrap turns an error from a bbolt transaction into the package's vocabulary.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return fmt.Errorf("store: %s: %w", op, classify(s.dir, err))
}
