package review

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// markerState is where a review is in its delivery. The sequence is
// delivering → delivered, each persisted before the next step, so that a
// review is delivered once across restarts:
//
//   - no marker, due: compute, mark delivering, deliver (the daemon's
//     Deliverer enqueues in the durable outbox), write the files, mark
//     delivered;
//   - delivering at start: the daemon stopped (or delivery failed) between
//     the two marks; deliver again. A crash right after the enqueue and
//     before "delivered" therefore sends the review twice: the only
//     duplicate possible, and the price of never losing one (the outbox and
//     the markers cannot share a transaction across packages).
//   - superseded: the review fell due after the next deployment of the
//     target started; it would review another version's data, so it is
//     recorded and never delivered.
type markerState string

const (
	stateDelivering markerState = "delivering"
	stateDelivered  markerState = "delivered"
	stateSuperseded markerState = "superseded"
)

const markerVersion = 1

// marker is what the store keeps per review of a deployment (opaque to
// the store; JSON with a version, like the store's own records).
type marker struct {
	V     int         `json:"v"`
	State markerState `json:"state"`
	// DueAt is the review's due time, a wall instant.
	DueAt time.Time `json:"due_at"`
	// At is when the state was entered (wall clock).
	At time.Time `json:"at"`
	// Attempts counts deliveries started; more than one means a redelivery.
	Attempts int `json:"attempts,omitempty"`
	// ComputedAt, Verdict and LateNS describe the review last delivered:
	// the metrics are restored from them at start.
	ComputedAt time.Time `json:"computed_at,omitzero"`
	Verdict    Verdict   `json:"verdict,omitempty"`
	LateNS     int64     `json:"late_ns,omitempty"`
}

// loadMarkers reads a deployment's markers. A marker that does not parse
// is treated as "delivering": delivering again risks a duplicate, treating
// it as delivered risks losing the review, and a duplicate is the lesser harm.
func loadMarkers(st *store.Store, deploymentID string) (map[string]*marker, []error, error) {
	raw, err := st.ReviewMarkers(deploymentID)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*marker, len(raw))
	var bad []error
	for name, v := range raw {
		var m marker
		if err := json.Unmarshal(v, &m); err != nil || m.V != markerVersion {
			if err == nil {
				err = fmt.Errorf("marker version %d is not %d", m.V, markerVersion)
			}
			bad = append(bad, fmt.Errorf("review marker %s/%s: %w", deploymentID, name, err))
			m = marker{V: markerVersion, State: stateDelivering}
		}
		out[name] = &m
	}
	return out, bad, nil
}

func putMarker(st *store.Store, deploymentID, name string, m marker) error {
	m.V = markerVersion
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return st.PutReviewMarker(deploymentID, name, v)
}
