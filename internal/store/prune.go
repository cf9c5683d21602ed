package store

import (
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StaleTargets returns the targets the store holds anything of
// (targetBuckets) that are not in configured and whose newest check
// record, deployment start (both against Options.CheckRetention) and
// rollup (Options.RollupRetention) are past retention, or absent: targets
// removed from the config or a target file, whose history no longer trims
// itself (that happens as a target records). The daemon deletes them with
// DeleteTarget; until then a target that comes back finds all it had.
// Sorted.
func (s *Store) StaleTargets(configured []string) ([]string, error) {
	now := s.now()
	newest := []struct {
		bucket []byte
		cutoff time.Time
		at     func(k, v []byte) (time.Time, error)
	}{
		{bucketChecks, now.Add(-s.opts.CheckRetention), func(k, _ []byte) (time.Time, error) { return keyTime(k) }},
		{bucketDeployments, now.Add(-s.opts.CheckRetention), func(_, v []byte) (time.Time, error) {
			d, err := decodeDeployment(v)
			return d.StartedAt, err
		}},
		{bucketRollups, now.Add(-s.opts.RollupRetention), func(k, _ []byte) (time.Time, error) { return keyInstant(k) }},
	}
	var stale []string
	err := s.view("list stale targets", func(tx *bolt.Tx) error {
		owners := map[string]bool{}
		for _, parent := range targetBuckets {
			if err := tx.Bucket(parent).ForEachBucket(func(owner []byte) error {
				if !slices.Contains(configured, string(owner)) {
					owners[string(owner)] = true
				}
				return nil
			}); err != nil {
				return err
			}
		}
	next:
		for owner := range owners {
			for _, l := range newest {
				b := ownerBucket(tx, l.bucket, owner)
				if b == nil {
					continue
				}
				if k, v := b.Cursor().Last(); k != nil {
					at, err := l.at(k, v)
					if err != nil {
						return err
					}
					if !at.Before(l.cutoff) {
						continue next // recent history: kept until retention
					}
				}
			}
			stale = append(stale, owner)
		}
		return nil
	})
	slices.Sort(stale)
	return stale, err
}
