package store

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Deployment sources: what made the daemon start a deployment.
const (
	SourceConfig    = "config"          // the config file names the version
	SourceAPI       = "api"             // POST /api/v1/deployments (an operator or CI)
	SourceNewTarget = "auto-new-target" // a target seen for the first time
	SourceRestart   = "auto-restart"    // the instance restarted with another version
)

// Deployment is one rollout of a version to a target. Reviews and Slack
// threads refer to it by ID.
type Deployment struct {
	// ID identifies the deployment across targets. StartDeployment assigns
	// "<target>-<yyyymmddThhmmssZ>-<4 hex>" when it is empty.
	ID string
	// Target is the configured target name. Required.
	Target string
	// Version is the application version deployed, as the instance or the
	// caller reports it; may be empty when unknown.
	Version string
	// StartedAt is when the deployment started. Default: now.
	StartedAt time.Time
	// Source is one of the Source* constants (other non-empty values are
	// kept as given). Required.
	Source string
	// InstanceStartedAt is when the instance process started, when known.
	InstanceStartedAt time.Time
	// Note is what whoever declared the deployment said about it (a
	// change ticket, "hotfix for the lobby"); free text, may be empty.
	Note string
}

// StartDeployment records d as its target's current deployment and returns
// it with the ID and start time filled in. It keeps the newest
// Options.DeploymentHistory deployments per target and deletes older ones.
// An ID that is already recorded is refused with ErrExists, so a retried
// POST cannot record a deployment twice.
func (s *Store) StartDeployment(d Deployment) (Deployment, error) {
	if err := checkName("deployment target", d.Target); err != nil {
		return Deployment{}, fmt.Errorf("store: start deployment: %w", err)
	}
	if d.Source == "" {
		return Deployment{}, fmt.Errorf("store: start deployment on %s: source is empty", d.Target)
	}
	if d.ID != "" {
		if err := checkName("deployment id", d.ID); err != nil {
			return Deployment{}, fmt.Errorf("store: start deployment on %s: %w", d.Target, err)
		}
	}
	if d.StartedAt.IsZero() {
		d.StartedAt = s.now()
	}
	defer s.deploymentsChanged()
	err := s.update("start deployment on "+d.Target, func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketDeploymentIDs)
		if d.ID == "" {
			id, err := newDeploymentID(ids, d.Target, d.StartedAt)
			if err != nil {
				return err
			}
			d.ID = id
		} else if ids.Get([]byte(d.ID)) != nil {
			return fmt.Errorf("deployment %q: %w", d.ID, ErrExists)
		}
		v, err := encodeDeployment(d)
		if err != nil {
			return err
		}
		seq, err := nextSeq(tx, bucketDeployments)
		if err != nil {
			return err
		}
		b, err := createOwnerBucket(tx, bucketDeployments, d.Target)
		if err != nil {
			return err
		}
		if err := logPut(b, seqKey(seq), v); err != nil {
			return err
		}
		if err := ids.Put([]byte(d.ID), deploymentIndexValue(seq, d.Target)); err != nil {
			return err
		}
		return logTrim(b, s.opts.DeploymentHistory, nil, func(_, v []byte) error {
			old, err := decodeDeployment(v)
			if err != nil {
				return err
			}
			if err := deleteReviewMarkers(tx, old.ID); err != nil {
				return err
			}
			return ids.Delete([]byte(old.ID))
		})
	})
	if err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// newDeploymentID makes a readable ID that is not yet taken. The random
// part keeps IDs unique even after the state was lost and IDs from before
// still live in Slack threads.
func newDeploymentID(ids *bolt.Bucket, target string, at time.Time) (string, error) {
	for range 16 {
		var r [2]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", err
		}
		id := fmt.Sprintf("%s-%s-%s", target, at.UTC().Format("20060102T150405Z"), hex.EncodeToString(r[:]))
		if ids.Get([]byte(id)) == nil {
			return id, nil
		}
	}
	return "", fmt.Errorf("no free deployment ID for %s at %s", target, at)
}

// CurrentDeployment returns target's latest deployment; ok is false when
// the target has none.
func (s *Store) CurrentDeployment(target string) (d Deployment, ok bool, err error) {
	err = s.view("current deployment of "+target, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketDeployments, target)
		if b == nil {
			return nil
		}
		k, v := b.Cursor().Last()
		if k == nil {
			return nil
		}
		d, err = decodeDeployment(v)
		ok = err == nil
		return err
	})
	return d, ok, err
}

// DeploymentByID returns the deployment with that ID; ok is false when
// there is none (never recorded, or trimmed from the history).
func (s *Store) DeploymentByID(id string) (d Deployment, ok bool, err error) {
	err = s.view("deployment "+id, func(tx *bolt.Tx) error {
		iv := tx.Bucket(bucketDeploymentIDs).Get([]byte(id))
		if iv == nil {
			return nil
		}
		seq, target, err := decodeDeploymentIndex(iv)
		if err != nil {
			return err
		}
		b := ownerBucket(tx, bucketDeployments, target)
		if b == nil {
			return fmt.Errorf("deployment %q: index names target %q which has no deployments", id, target)
		}
		v := b.Get(seqKey(seq))
		if v == nil {
			return fmt.Errorf("deployment %q: index names a missing record", id)
		}
		d, err = decodeDeployment(v)
		ok = err == nil
		return err
	})
	return d, ok, err
}

// Deployments returns target's deployment history, newest first; target ""
// returns every target's, newest first across targets. "Newest" is the
// order in which they were started in this store.
func (s *Store) Deployments(target string) ([]Deployment, error) {
	type seqd struct {
		seq uint64
		d   Deployment
	}
	var all []seqd
	collect := func(b *bolt.Bucket) error {
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			seq, err := keySeq(k)
			if err != nil {
				return err
			}
			d, err := decodeDeployment(v)
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			all = append(all, seqd{seq, d})
		}
		return nil
	}
	err := s.view("deployments", func(tx *bolt.Tx) error {
		if target != "" {
			if b := ownerBucket(tx, bucketDeployments, target); b != nil {
				return collect(b)
			}
			return nil
		}
		p := tx.Bucket(bucketDeployments)
		return p.ForEachBucket(func(k []byte) error { return collect(p.Bucket(k)) })
	})
	if err != nil {
		return nil, err
	}
	if target == "" {
		slices.SortFunc(all, func(a, b seqd) int { return cmp.Compare(b.seq, a.seq) })
	}
	out := make([]Deployment, len(all))
	for i, x := range all {
		out[i] = x.d
	}
	return out, nil
}

// DeleteTarget forgets a target: its deployments and their review
// markers, check history, rule state and rollups. The daemon calls it when
// a target leaves the config for good. Deleting an unknown target is not an
// error.
func (s *Store) DeleteTarget(target string) error {
	defer s.deploymentsChanged()
	return s.update("delete target "+target, func(tx *bolt.Tx) error {
		ids := tx.Bucket(bucketDeploymentIDs)
		if b := ownerBucket(tx, bucketDeployments, target); b != nil {
			err := b.ForEach(func(_, v []byte) error {
				d, err := decodeDeployment(v)
				if err != nil {
					return err
				}
				if err := deleteReviewMarkers(tx, d.ID); err != nil {
					return err
				}
				return ids.Delete([]byte(d.ID))
			})
			if err != nil {
				return err
			}
		}
		for _, parent := range targetBuckets {
			if ownerBucket(tx, parent, target) == nil {
				continue
			}
			if err := tx.Bucket(parent).DeleteBucket([]byte(target)); err != nil {
				return fmt.Errorf("delete %s/%s: %w", parent, target, err)
			}
		}
		return nil
	})
}

// DeploymentsVersion returns a number that changes whenever a target's
// deployments may have changed since: after a deployment is started (or
// refused), a target deleted, or the database replaced after damage. A
// caller that keeps what it derived from Deployments reads the version
// before calling Deployments and may reuse its copy while the version
// stays the same.
func (s *Store) DeploymentsVersion() uint64 { return s.deploymentsVersion.Load() }

// deploymentsChanged moves DeploymentsVersion on. Call it after the write
// has committed (or failed), never before: a reader that read the old
// version before the commit must see a new one after it.
func (s *Store) deploymentsChanged() { s.deploymentsVersion.Add(1) }
