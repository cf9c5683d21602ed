//go:build linux

package testkit

import (
	"os/signal"
	"syscall"
)

// LimitFileSize caps the size of the files this process writes at size
// bytes (RLIMIT_FSIZE), the stand-in for a full disk: a write or a
// truncate past it fails with EFBIG ("file too large"). SIGXFSZ is
// ignored, so that the write fails instead of killing the process.
// restore lifts the cap and lets SIGXFSZ act again. The cap is the whole
// process's: no other test may write files meanwhile. Linux only;
// elsewhere it returns an error.
func LimitFileSize(size int64) (restore func() error, err error) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return nil, err
	}
	signal.Ignore(syscall.SIGXFSZ)
	limited := old
	limited.Cur = uint64(size)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		return nil, err
	}
	return func() error {
		signal.Reset(syscall.SIGXFSZ)
		return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	}, nil
}
