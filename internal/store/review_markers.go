package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxMarkerBytes bounds one review marker: a state and a few times.
const maxMarkerBytes = 4096

// PutReviewMarker stores an opaque marker for review (e.g. "hour-4") of a
// deployment: the review package records there that a review is being
// delivered, then that it was, so that each is delivered once across
// restarts. The deployment must be recorded (ErrNotFound otherwise); its
// markers are deleted with it (trimmed from the history, DeleteTarget), so
// they are bounded like the deployments.
func (s *Store) PutReviewMarker(deploymentID, review string, v []byte) error {
	if err := checkName("review marker deployment", deploymentID); err != nil {
		return fmt.Errorf("store: put review marker: %w", err)
	}
	if err := checkName("review name", review); err != nil {
		return fmt.Errorf("store: put review marker of %s: %w", deploymentID, err)
	}
	if len(v) > maxMarkerBytes {
		return fmt.Errorf("store: put review marker %s/%s: %d bytes, more than %d", deploymentID, review, len(v), maxMarkerBytes)
	}
	return s.update("put review marker "+deploymentID+"/"+review, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketDeploymentIDs).Get([]byte(deploymentID)) == nil {
			return fmt.Errorf("deployment %q: %w", deploymentID, ErrNotFound)
		}
		b, err := createOwnerBucket(tx, bucketReviewMarkers, deploymentID)
		if err != nil {
			return err
		}
		return b.Put([]byte(review), cloneValue(v))
	})
}

// ReviewMarkers returns every review marker of a deployment, keyed by
// review name. The map is empty, not nil, when there is none.
func (s *Store) ReviewMarkers(deploymentID string) (map[string][]byte, error) {
	return s.ownerValues("review markers of "+deploymentID, bucketReviewMarkers, deploymentID)
}

// deleteReviewMarkers drops a deployment's markers; none is not an error.
func deleteReviewMarkers(tx *bolt.Tx, deploymentID string) error {
	if ownerBucket(tx, bucketReviewMarkers, deploymentID) == nil {
		return nil
	}
	if err := tx.Bucket(bucketReviewMarkers).DeleteBucket([]byte(deploymentID)); err != nil {
		return fmt.Errorf("delete review markers of %s: %w", deploymentID, err)
	}
	return nil
}
