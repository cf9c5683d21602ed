package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutRuleState stores an opaque blob for a rule of a target: the monitor
// marshals its own state (hysteresis counters, pending-since times) and
// gets it back after a restart with RuleStates.
func (s *Store) PutRuleState(target, rule string, v []byte) error {
	if err := checkName("rule-state target", target); err != nil {
		return fmt.Errorf("store: put rule state: %w", err)
	}
	if err := checkName("rule name", rule); err != nil {
		return fmt.Errorf("store: put rule state on %s: %w", target, err)
	}
	return s.update("put rule state "+target+"/"+rule, func(tx *bolt.Tx) error {
		b, err := createOwnerBucket(tx, bucketRuleState, target)
		if err != nil {
			return err
		}
		return b.Put([]byte(rule), cloneValue(v))
	})
}

// DeleteRuleState removes a rule's state; a missing one is not an error.
func (s *Store) DeleteRuleState(target, rule string) error {
	return s.update("delete rule state "+target+"/"+rule, func(tx *bolt.Tx) error {
		if b := ownerBucket(tx, bucketRuleState, target); b != nil {
			return b.Delete([]byte(rule))
		}
		return nil
	})
}

// RuleStates returns every rule state of target, keyed by rule name. The
// map is empty, not nil, when there is none.
func (s *Store) RuleStates(target string) (map[string][]byte, error) {
	return s.ownerValues("rule states of "+target, bucketRuleState, target)
}

// ownerValues returns a copy of every key and value in parent/owner; the
// map is empty, not nil, when the owner has none.
func (s *Store) ownerValues(op string, parent []byte, owner string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.view(op, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, parent, owner)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = cloneValue(v)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
