package alert

import (
	"slices"
	"sync"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// heldOutbox is what the dispatchers hold of their queues: the entries
// each has read from the store and not yet settled (confirmed by the sink
// or dead-lettered). The store takes them when it replaces a damaged
// database while the daemon runs (store.KeepHeld): a message the damage
// made unreadable, which the dispatcher goes on delivering from memory, is
// then still queued if the daemon dies before the sink confirms it.
//
// Its mutex is a leaf: the store calls snapshot with its own lock held, so
// nothing here may call the store.
type heldOutbox struct {
	mu      sync.Mutex
	entries map[string][]store.OutboxEntry
}

// hold records the batch a sink's dispatcher has just read.
func (h *heldOutbox) hold(sink string, batch []store.OutboxEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string][]store.OutboxEntry{}
	}
	h.entries[sink] = slices.Clone(batch)
}

// settle forgets the entry seq of sink: delivered or dead-lettered.
func (h *heldOutbox) settle(sink string, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries[sink] = slices.DeleteFunc(h.entries[sink], func(e store.OutboxEntry) bool { return e.Seq == seq })
}

// drop forgets what sink's dispatcher held: it stopped.
func (h *heldOutbox) drop(sink string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.entries, sink)
}

// snapshot is every sink's held entries, for store.KeepHeld.
func (h *heldOutbox) snapshot() map[string][]store.OutboxEntry {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]store.OutboxEntry, len(h.entries))
	for sink, es := range h.entries {
		if len(es) > 0 {
			out[sink] = slices.Clone(es)
		}
	}
	return out
}
