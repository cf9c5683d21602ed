package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RollupRecord is one rollup of a target: what the daemon observed of it
// over a short period (the review package's minute). The store does not
// read the value; the caller encodes it, compactly, since 48 hours of them
// per target must stay under 1 MB.
type RollupRecord struct {
	// At is the start of the period the rollup covers. Required; one record
	// per target and At (a second put replaces the first).
	At time.Time
	// Value is the caller's encoding, at most MaxRollupBytes long.
	Value []byte
}

// MaxRollupBytes bounds one rollup value. With Options.RollupHistory it
// bounds a target's rollups; in practice the review package's minutes
// encode to 35–75 bytes, which keeps 48 h of them under 300 KB.
const MaxRollupBytes = 1024

// rollupFill is the fill percent of rollup pages. Rollups arrive in time
// order, so a page is never written again once the next one starts: filling
// pages up (bbolt's default is half) nearly halves the file space they use.
const rollupFill = 0.95

// PutRollups stores target's rollups in one transaction, replacing any
// with the same At, and deletes the target's rollups older than
// Options.RollupRetention (48h) before now and beyond the newest
// Options.RollupHistory (3000).
func (s *Store) PutRollups(target string, recs ...RollupRecord) error {
	return s.PutRollupsMany(map[string][]RollupRecord{target: recs})
}

// PutRollupsMany stores the rollups of several targets, batch[target], in
// one transaction (one commit, one fsync): all of them or, on an error,
// none. Each target's records are checked and replace any with the same
// At; its rollups older than Options.RollupRetention before now and beyond
// the newest Options.RollupHistory are deleted, even when it has no records.
// One target's refused record refuses the whole batch: a caller that must
// not let one target hold the others back checks each target's records
// with CheckRollups first. An empty batch writes nothing.
func (s *Store) PutRollupsMany(batch map[string][]RollupRecord) error {
	if len(batch) == 0 {
		return nil
	}
	targets := slices.Sorted(maps.Keys(batch))
	for _, target := range targets {
		if err := CheckRollups(target, batch[target]); err != nil {
			return err
		}
	}
	cutoff := s.now().Add(-s.opts.RollupRetention)
	return s.update("put rollups", func(tx *bolt.Tx) error {
		for _, target := range targets {
			if err := s.putRollups(tx, target, batch[target], cutoff); err != nil {
				return fmt.Errorf("rollups of %s: %w", target, err)
			}
		}
		return nil
	})
}

// CheckRollups returns the error PutRollups refuses target's records with,
// naming the target and the record, or nil. It writes nothing.
func CheckRollups(target string, recs []RollupRecord) error {
	if err := checkName("rollup target", target); err != nil {
		return fmt.Errorf("store: put rollups: %w", err)
	}
	for i, r := range recs {
		switch {
		case r.At.IsZero():
			return fmt.Errorf("store: put rollups on %s: record %d: At is zero", target, i)
		case len(r.Value) > MaxRollupBytes:
			return fmt.Errorf("store: put rollups on %s: record %d at %s is %d bytes, more than %d",
				target, i, r.At.UTC().Format(time.RFC3339), len(r.Value), MaxRollupBytes)
		}
	}
	return nil
}

// putRollups writes target's checked records in tx and trims its rollups
// older than cutoff and beyond Options.RollupHistory.
func (s *Store) putRollups(tx *bolt.Tx, target string, recs []RollupRecord, cutoff time.Time) error {
	b, err := createOwnerBucket(tx, bucketRollups, target)
	if err != nil {
		return err
	}
	b.FillPercent = rollupFill
	for _, r := range recs {
		if err := logPut(b, instantKey(r.At), cloneValue(r.Value)); err != nil {
			return err
		}
	}
	return logTrim(b, s.opts.RollupHistory, func(k, _ []byte) (bool, error) {
		at, err := keyInstant(k)
		return at.Before(cutoff), err
	}, nil)
}

// Rollups returns target's rollups with from <= At < to, oldest first; a
// zero to means no upper bound. None is an empty result, not an error.
func (s *Store) Rollups(target string, from, to time.Time) ([]RollupRecord, error) {
	var out []RollupRecord
	err := s.view("rollups of "+target, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketRollups, target)
		if b == nil {
			return nil
		}
		var end []byte
		if !to.IsZero() {
			end = instantKey(to)
		}
		c := b.Cursor()
		for k, v := c.Seek(instantKey(from)); k != nil; k, v = c.Next() {
			if end != nil && bytes.Compare(k, end) >= 0 {
				break
			}
			at, err := keyInstant(k)
			if err != nil {
				return err
			}
			out = append(out, RollupRecord{At: at, Value: cloneValue(v)})
		}
		return nil
	})
	return out, err
}

// RollupUsage is what a target's rollups cost.
type RollupUsage struct {
	// Records is how many rollups are kept.
	Records int
	// Bytes is the file space their pages take (bbolt's allocation, not
	// just the values), or their size inline in the parent page.
	Bytes int
}

// RollupUsage reports how many rollups target has and the space they take.
func (s *Store) RollupUsage(target string) (RollupUsage, error) {
	var u RollupUsage
	err := s.view("rollup usage of "+target, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketRollups, target)
		if b == nil {
			return nil
		}
		st := b.Stats()
		u = RollupUsage{Records: st.KeyN, Bytes: st.BranchAlloc + st.LeafAlloc + st.InlineBucketInuse}
		return nil
	})
	return u, err
}
