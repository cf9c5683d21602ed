package testkit

import (
	"math/rand/v2"
	"os"
	"testing"
)

// CorruptFrom overwrites path from offset to its end with random bytes, as
// a failing disk or a stray writer would, without changing its size. The
// seed is logged. An offset at or past the end fails the test.
func CorruptFrom(t testing.TB, path string, offset int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= offset {
		t.Fatalf("%s is %d bytes: nothing to corrupt from byte %d", path, fi.Size(), offset)
	}
	CorruptAt(t, path, offset, fi.Size()-offset)
}

// bbolt's page layout: pages of the OS page size (4096 here), each
// starting with id (8 bytes), flags (2), count (2) and overflow (4).
const (
	bboltPageSize   = 4096
	bboltOverflowAt = 12
)

// CorruptAt overwrites n bytes of path at offset with random bytes; the
// seed is logged.
func CorruptAt(t testing.TB, path string, offset, n int64) {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("corrupting %s: bytes %d to %d, seed %d", path, offset, offset+n, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	// Every page header keeps an overflow count of 0: bbolt walks a page's
	// overflow without a bound, so a random count (up to 2^32 pages) can
	// keep one call busy for minutes. That is a hang, which the daemon's
	// watchdog catches in production; a test of the damage handling must
	// see the damage instead.
	for page := (offset + bboltPageSize - 1) / bboltPageSize * bboltPageSize; page < offset+n; page += bboltPageSize {
		for i := page + bboltOverflowAt; i < page+bboltOverflowAt+4 && i < offset+n; i++ {
			if i >= offset {
				junk[i-offset] = 0
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(junk, offset); err != nil {
		t.Fatal(err)
	}
}
