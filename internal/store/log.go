package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A log is a two-level bucket, parent/<owner>/<key> = value, read in key
// order: deployments per target, check records per target, the outbox and
// the dead letters per sink. Two bbolt bucket sequences do the bookkeeping,
// so a log needs no side tables:
//
//   - the parent's sequence issues seq numbers, unique across owners, which
//     keeps insertion order across all of them (Deployments("") relies on it);
//   - each owner bucket's sequence is its record count, updated in the same
//     transaction as every put and delete, so bounding a log costs O(log n)
//     instead of a scan. Open recounts, so a count can never drift for good.
//
// New logs (alerts, rollups, review markers) reuse these helpers unchanged.

// nextSeq returns the next seq number of a top-level log bucket.
func nextSeq(tx *bolt.Tx, parent []byte) (uint64, error) {
	p := tx.Bucket(parent)
	if p == nil {
		return 0, fmt.Errorf("bucket %s is missing", parent)
	}
	return p.NextSequence()
}

// ownerBucket returns parent/<owner>, or nil when it does not exist.
func ownerBucket(tx *bolt.Tx, parent []byte, owner string) *bolt.Bucket {
	p := tx.Bucket(parent)
	if p == nil {
		return nil
	}
	return p.Bucket([]byte(owner))
}

// createOwnerBucket returns parent/<owner>, creating it when missing.
func createOwnerBucket(tx *bolt.Tx, parent []byte, owner string) (*bolt.Bucket, error) {
	p := tx.Bucket(parent)
	if p == nil {
		return nil, fmt.Errorf("bucket %s is missing", parent)
	}
	return p.CreateBucketIfNotExists([]byte(owner))
}

// logPut stores a record and counts it when the key is new.
func logPut(b *bolt.Bucket, key, value []byte) error {
	isNew := !has(b, key)
	if err := b.Put(key, value); err != nil {
		return err
	}
	if isNew {
		return b.SetSequence(b.Sequence() + 1)
	}
	return nil
}

// logDelete removes a record and uncounts it; it reports whether the key
// was there.
func logDelete(b *bolt.Bucket, key []byte) (bool, error) {
	if !has(b, key) {
		return false, nil
	}
	if err := b.Delete(key); err != nil {
		return false, err
	}
	if n := b.Sequence(); n > 0 {
		return true, b.SetSequence(n - 1)
	}
	return true, nil
}

// logTrim deletes the oldest records while the log holds more than limit
// records (limit <= 0: no bound) or while expired reports the oldest as
// expired (nil: nothing expires). drop, when set, sees each deleted record
// first, e.g. to remove an index entry.
func logTrim(b *bolt.Bucket, limit int, expired func(k, v []byte) (bool, error), drop func(k, v []byte) error) error {
	for {
		// A fresh cursor each round: deleting under a live cursor can skip keys.
		k, v := b.Cursor().First()
		if k == nil {
			return nil
		}
		over := limit > 0 && b.Sequence() > uint64(limit)
		if !over && expired != nil {
			old, err := expired(k, v)
			if err != nil {
				return err
			}
			over = old
		}
		if !over {
			return nil
		}
		if drop != nil {
			if err := drop(k, v); err != nil {
				return err
			}
		}
		// Copy the key: it points into the page that Delete rewrites.
		if _, err := logDelete(b, bytes.Clone(k)); err != nil {
			return err
		}
	}
}

// has reports whether b holds a value (not a bucket) under key. Unlike
// b.Get(key) != nil it does not depend on how an empty value is returned.
func has(b *bolt.Bucket, key []byte) bool {
	k, v := b.Cursor().Seek(key)
	return k != nil && bytes.Equal(k, key) && v != nil
}

// recountLogs sets every owner bucket's count to its real number of
// records, writing only where they differ.
func recountLogs(tx *bolt.Tx) error {
	for _, name := range logBuckets {
		p := tx.Bucket(name)
		if p == nil {
			continue
		}
		err := p.ForEachBucket(func(owner []byte) error {
			b := p.Bucket(owner)
			var n uint64
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				n++
			}
			if b.Sequence() == n {
				return nil
			}
			return b.SetSequence(n)
		})
		if err != nil {
			return fmt.Errorf("recount %s: %w", name, err)
		}
	}
	return nil
}
