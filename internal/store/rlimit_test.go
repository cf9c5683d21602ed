//go:build linux

package store

import (
	"os"
	"os/signal"
	"syscall"
)

// limitFileSize caps the size of files this process writes at path's
// current size; restore lifts the cap. SIGXFSZ is ignored so that an
// oversized write fails with EFBIG instead of killing the process.
func limitFileSize(path string) (restore func() error, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return nil, err
	}
	signal.Ignore(syscall.SIGXFSZ)
	limited := old
	limited.Cur = uint64(fi.Size())
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		return nil, err
	}
	return func() error { return syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) }, nil
}
