package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// lockPoll is how often a refused lock is retried: flock(2) has no timed
// wait, so Open polls until Options.LockTimeout (bbolt does the same).
const lockPoll = 20 * time.Millisecond

// errWouldBlock is what tryLock returns when another holder has the lock.
var errWouldBlock = errors.New("lock is held")

// dirLock is an exclusive flock on dir/state.lock, held for the life of a
// Store. It guards the whole dir, not only state.db: recovery renames
// state.db and restores the backup, which must not race another daemon.
//
// The file is never deleted: removing it on release would let a waiter lock
// the unlinked inode while a newcomer locks a new file, and both would hold
// "the" lock. Its content is the holder's PID, written after the lock is
// held and cleared on release; a refused Open reads it to name the holder.
type dirLock struct {
	f *os.File
}

func acquireDirLock(dir, path string, timeout time.Duration) (*dirLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, classify(dir, fmt.Errorf("open lock file: %w", err))
	}
	giveUp := time.NewTimer(timeout)
	defer giveUp.Stop()
	poll := time.NewTicker(lockPoll)
	defer poll.Stop()
	for {
		err := tryLock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return nil, classify(dir, fmt.Errorf("lock %s: %w", path, err))
		}
		select {
		case <-giveUp.C:
			pid := readPID(f)
			f.Close()
			return nil, &LockedError{Dir: dir, PID: pid}
		case <-poll.C:
		}
	}
	l := &dirLock{f: f}
	if err := l.writePID(os.Getpid()); err != nil {
		l.release()
		return nil, classify(dir, fmt.Errorf("write pid to %s: %w", path, err))
	}
	return l, nil
}

func (l *dirLock) writePID(pid int) error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// release clears the PID, then drops the lock (closing the file drops it).
func (l *dirLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	truncErr := l.f.Truncate(0)
	unlockErr := unlock(l.f)
	closeErr := l.f.Close()
	l.f = nil
	return errors.Join(truncErr, unlockErr, closeErr)
}

// readPID returns the PID in a lock file, or 0 when there is none (the
// holder has not written it yet, or is an older tool).
func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
