package testkit

import "sync"

// MemKV is an in-memory key-value space with the methods of alert.KV (the
// daemon backs the real one with the store). Safe for concurrent use.
type MemKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get returns key's value and whether it is there.
func (k *MemKV) Get(key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return v, ok, nil
}

// Put stores a copy of v under key.
func (k *MemKV) Put(key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string][]byte{}
	}
	k.m[key] = append([]byte(nil), v...)
	return nil
}

// Delete removes key.
func (k *MemKV) Delete(key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}
