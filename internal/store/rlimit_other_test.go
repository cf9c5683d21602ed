//go:build !linux

package store

import "errors"

func limitFileSize(string) (func() error, error) {
	return nil, errors.New("RLIMIT_FSIZE test needs Linux")
}
