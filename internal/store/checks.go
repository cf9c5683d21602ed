package store

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Check results.
const (
	ResultPass    = "pass"
	ResultFail    = "fail"
	ResultSkipped = "skipped"
)

// CheckRecord is the outcome of one check run against a target.
type CheckRecord struct {
	// Check is the check's name. Required.
	Check string
	// At is when the check ran. Default: now.
	At time.Time
	// Result is one of the Result* constants.
	Result string
	// Observed and Expected are the values compared, as text.
	Observed, Expected string
	// Reason explains a failure or a skip.
	Reason string
	// Duration is how long the check took.
	Duration time.Duration
}

// RecordCheck appends check records to target's history in one
// transaction: a poll's results land together or not at all. The history
// keeps records younger than Options.CheckRetention (48 h) and at most
// Options.CheckHistory (10000) of them; older records are deleted here.
func (s *Store) RecordCheck(target string, records ...CheckRecord) error {
	if err := checkName("check target", target); err != nil {
		return fmt.Errorf("store: record check: %w", err)
	}
	now := s.now()
	records = slices.Clone(records) // defaults below must not write to the caller's slice
	vals := make([][]byte, len(records))
	for i, r := range records {
		if r.Check == "" {
			return fmt.Errorf("store: record check on %s: record %d: check name is empty", target, i)
		}
		if r.At.IsZero() {
			records[i].At = now
		}
		v, err := encodeCheck(records[i])
		if err != nil {
			return fmt.Errorf("store: record check %s on %s: %w", r.Check, target, err)
		}
		vals[i] = v
	}
	cutoff := now.Add(-s.opts.CheckRetention)
	return s.update("record check on "+target, func(tx *bolt.Tx) error {
		b, err := createOwnerBucket(tx, bucketChecks, target)
		if err != nil {
			return err
		}
		for i, r := range records {
			seq, err := nextSeq(tx, bucketChecks)
			if err != nil {
				return err
			}
			if err := logPut(b, timeKey(r.At, seq), vals[i]); err != nil {
				return err
			}
		}
		return logTrim(b, s.opts.CheckHistory, func(k, _ []byte) (bool, error) {
			at, err := keyTime(k)
			return at.Before(cutoff), err
		}, nil)
	})
}

// CheckHistory returns target's check records that ran at or after since,
// oldest first (by At, then by arrival).
func (s *Store) CheckHistory(target string, since time.Time) ([]CheckRecord, error) {
	var out []CheckRecord
	err := s.view("check history of "+target, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketChecks, target)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(timeKey(since, 0)); k != nil; k, v = c.Next() {
			r, err := decodeCheck(v)
			if err != nil {
				return fmt.Errorf("key %x: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
