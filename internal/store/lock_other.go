//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "os"

// On systems without flock(2) the dir lock is a no-op and bbolt's own lock
// on state.db is the only guard against a second daemon.
func tryLock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
