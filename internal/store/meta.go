package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutMeta stores a small value under key in the store's key-value space,
// for things without a schema of their own (e.g. the last seen instance
// identity per target). Keys are the caller's; prefix them by owner
// ("monitor/instance/<target>").
func (s *Store) PutMeta(key string, v []byte) error {
	if err := checkName("meta key", key); err != nil {
		return fmt.Errorf("store: put meta: %w", err)
	}
	return s.update("put meta "+key, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKV).Put([]byte(key), cloneValue(v))
	})
}

// GetMeta returns the value stored under key; ok is false when there is none.
func (s *Store) GetMeta(key string) (v []byte, ok bool, err error) {
	err = s.view("get meta "+key, func(tx *bolt.Tx) error {
		k, val := tx.Bucket(bucketKV).Cursor().Seek([]byte(key))
		if k != nil && string(k) == key {
			v, ok = cloneValue(val), true
		}
		return nil
	})
	return v, ok, err
}

// DeleteMeta removes key; a missing key is not an error.
func (s *Store) DeleteMeta(key string) error {
	return s.update("delete meta "+key, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKV).Delete([]byte(key))
	})
}
