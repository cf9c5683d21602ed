package store

import (
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PruneTargets applies retention to the stored history (check records and
// rollups) of every target not in configured: targets removed from the
// config or a target file, whose history no longer trims itself, since
// that happens as a target records. Their records older than
// Options.CheckRetention and Options.RollupRetention are deleted, and a
// target left with no records is forgotten from those buckets. It returns
// the targets forgotten, sorted. Deployments and rule state stay: a target
// that comes back finds them.
func (s *Store) PruneTargets(configured []string) ([]string, error) {
	now := s.now()
	logs := []struct {
		bucket []byte
		cutoff time.Time
		at     func([]byte) (time.Time, error)
	}{
		{bucketChecks, now.Add(-s.opts.CheckRetention), keyTime},
		{bucketRollups, now.Add(-s.opts.RollupRetention), keyInstant},
	}
	var forgotten []string
	err := s.update("prune removed targets", func(tx *bolt.Tx) error {
		forgotten = forgotten[:0]
		for _, l := range logs {
			p := tx.Bucket(l.bucket)
			var stale [][]byte
			if err := p.ForEachBucket(func(owner []byte) error {
				if !slices.Contains(configured, string(owner)) {
					stale = append(stale, slices.Clone(owner))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, owner := range stale {
				b := p.Bucket(owner)
				if err := logTrim(b, 0, func(k, _ []byte) (bool, error) {
					at, err := l.at(k)
					return at.Before(l.cutoff), err
				}, nil); err != nil {
					return err
				}
				if k, _ := b.Cursor().First(); k != nil {
					continue
				}
				if err := p.DeleteBucket(owner); err != nil {
					return err
				}
				forgotten = append(forgotten, string(owner))
			}
		}
		return nil
	})
	slices.Sort(forgotten)
	return slices.Compact(forgotten), err
}
