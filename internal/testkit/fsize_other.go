//go:build !linux

package testkit

import "errors"

// LimitFileSize needs Linux's RLIMIT_FSIZE; here it returns an error.
func LimitFileSize(int64) (restore func() error, err error) {
	return nil, errors.New("testkit: LimitFileSize needs Linux (RLIMIT_FSIZE)")
}
