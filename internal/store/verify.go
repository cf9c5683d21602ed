package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// panicError is a panic or memory fault inside bbolt, turned into an error.
type panicError struct{ value any }

func (e *panicError) Error() string {
	// A memory fault (SetPanicOnFault) carries the address read.
	if f, ok := e.value.(interface{ Addr() uintptr }); ok {
		return fmt.Sprintf("bbolt faulted reading address %#x (a page beyond the end of the file?): %v", f.Addr(), e.value)
	}
	return fmt.Sprintf("bbolt panicked: %v", e.value)
}

// guard runs fn with memory faults turned into panics and panics into a
// *panicError. bbolt reads the file through mmap and trusts what it reads:
// a truncated file faults (SIGBUS past the end of the mapping) and a
// damaged page makes it panic or fault; unguarded, either would kill the
// daemon at every start. SetPanicOnFault is per goroutine, so everything
// that may touch unverified pages runs here, in the caller's goroutine.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r}
		}
	}()
	return fn()
}

// openBolt opens a bbolt file under guard. A damaged file yields a reason;
// a problem of the environment (permissions, a foreign lock) an error.
// file is the database's file, for closing it when the database itself
// cannot be closed (see Store.replace).
func openBolt(dir, path string, o *bolt.Options) (db *bolt.DB, file *os.File, reason string, err error) {
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		file = f
		return f, err
	}
	err = guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, o)
		return err
	})
	var pe *panicError
	var errno syscall.Errno
	switch {
	case err == nil:
		return db, file, "", nil
	case errors.As(err, &pe):
		// bbolt never got to close its file: close it here, which also drops
		// its flock. The mapping of the damaged file stays until exit; it is
		// one mapping, once, of a file we are about to set aside.
		if file != nil {
			file.Close()
		}
		return nil, nil, pe.Error(), nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, nil, "", &LockedError{Dir: dir}
	case errors.As(err, &errno):
		return nil, nil, "", classify(dir, fmt.Errorf("open %s: %w", path, err))
	default:
		// bbolt's own verdicts on the file: invalid database, checksum
		// error, version mismatch, file size too small.
		return nil, nil, err.Error(), nil
	}
}

// verifyFile checks the bbolt file at path without writing to it. It
// reports exists=false when there is no file, a non-empty reason when the
// file is damaged, and an error when the file cannot be examined at all.
//
// Two read-only passes, because bbolt loads the freelist at open: the first
// maps only the two meta pages and compares the size they claim with the
// file's, so that a truncated file is named as such instead of faulting;
// the second loads the freelist, walks every bucket and value under guard,
// checks the schema version, and only then runs bbolt's own Check, which
// runs in a goroutine of its own (out of guard's reach) and is safe once
// the walk has touched every page it will read.
func verifyFile(dir, path string, timeout time.Duration) (exists bool, reason string, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, "", nil
	case err != nil:
		return false, "", classify(dir, err)
	case !fi.Mode().IsRegular():
		return true, "", &dirError{kind: ErrNotWritable, dir: dir, err: fmt.Errorf("%s is not a regular file", path)}
	case fi.Size() == 0:
		return true, "the file is empty (0 bytes)", nil
	}
	reason, err = withDB(dir, path, &bolt.Options{ReadOnly: true, Timeout: timeout}, func(tx *bolt.Tx) string {
		if need := tx.Size(); fi.Size() < need {
			return fmt.Sprintf("the file is truncated: %d bytes long, its meta page needs %d", fi.Size(), need)
		}
		return ""
	})
	if reason != "" || err != nil {
		return true, reason, err
	}
	reason, err = withDB(dir, path, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: timeout}, inspectTx)
	return true, reason, err
}

// withDB opens path, runs fn in a guarded read transaction and closes it.
func withDB(dir, path string, o *bolt.Options, fn func(*bolt.Tx) string) (string, error) {
	db, _, reason, err := openBolt(dir, path, o)
	if reason != "" || err != nil {
		return reason, err
	}
	defer db.Close()
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			reason = fn(tx)
			return nil
		})
	})
	if err != nil {
		// View rolls back on a panic, so Close above does not deadlock.
		return err.Error(), nil
	}
	return reason, nil
}

func inspectTx(tx *bolt.Tx) string {
	if err := walk(tx); err != nil {
		return err.Error()
	}
	if reason := checkSchema(tx); reason != "" {
		return reason
	}
	var first error
	n := 0
	for err := range tx.Check() {
		if first == nil {
			first = err
		}
		n++
	}
	if first != nil {
		return fmt.Sprintf("bbolt consistency check found %d problem(s), the first: %v", n, first)
	}
	return ""
}

// maxDepth bounds the walk: the schema nests two levels, and a damaged
// file must not lead it down an unbounded chain.
const maxDepth = 4

// walk reads every key and every value byte once.
func walk(tx *bolt.Tx) error {
	var sum uint32
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		return walkBucket(b, string(name), 1, jsonBuckets[string(name)], &sum)
	})
	return err
}

func walkBucket(b *bolt.Bucket, path string, depth int, jsonLeaves bool, sum *uint32) error {
	if depth > maxDepth {
		return fmt.Errorf("bucket %s is nested deeper than %d levels", path, maxDepth)
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			child := b.Bucket(k)
			if child == nil {
				return fmt.Errorf("%s/%q is neither a value nor a bucket", path, k)
			}
			if err := walkBucket(child, path+"/"+string(k), depth+1, jsonLeaves, sum); err != nil {
				return err
			}
			continue
		}
		// Touch every byte now, under guard: a value on a page past the end
		// of the file faults here rather than later in a request handler.
		*sum = crc32.Update(*sum, crc32.IEEETable, v)
		if jsonLeaves && depth == 2 && !json.Valid(v) {
			return fmt.Errorf("record %s/%x is not valid JSON", path, k)
		}
	}
	return nil
}

// checkSchema returns why the file's schema cannot be used, or "".
func checkSchema(tx *bolt.Tx) string {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		hasBuckets := false
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error {
			hasBuckets = true
			return nil
		})
		if hasBuckets {
			return "the schema version is missing (no meta bucket)"
		}
		return "" // created by bbolt, never written by us: initialised at open
	}
	b := m.Get(keySchemaVersion)
	if b == nil {
		return "the schema version is missing"
	}
	v, err := decodeSchemaVersion(b)
	if err != nil {
		return err.Error()
	}
	if v > schemaVersion {
		return fmt.Sprintf("schema version %d is newer than this build understands (%d): a newer spacetime-watch wrote it", v, schemaVersion)
	}
	return ""
}

// initSchema creates the top-level buckets, writes the schema version into
// a new file, and recounts the logs.
func initSchema(tx *bolt.Tx) error {
	for _, name := range topBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	m := tx.Bucket(bucketMeta)
	if m.Get(keySchemaVersion) == nil {
		if err := m.Put(keySchemaVersion, encodeSchemaVersion(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	// Migrations from older schema versions go here when there are any.
	return recountLogs(tx)
}
