package alert

import (
	"cmp"
	"slices"
	"sync"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// heldOutbox is what the outbox holds of its queues in memory: the
// entries it queued and those its dispatchers read from the store, until
// they are settled (confirmed by the sink or dead-lettered). The store
// takes them when it replaces a damaged database while the daemon runs
// (store.KeepHeld): a message the damage made unreadable is then still
// queued, whether its dispatcher goes on delivering it from memory or had
// not read it yet, if the daemon dies before the sink confirms it.
//
// Its mutex is a leaf: the store calls snapshot with its own lock held, so
// nothing here may call the store.
type heldOutbox struct {
	mu      sync.Mutex
	entries map[string][]store.OutboxEntry
}

// hold adds entries of sink's queue, queued or read, to those held.
func (h *heldOutbox) hold(sink string, entries []store.OutboxEntry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string][]store.OutboxEntry{}
	}
	held := h.entries[sink]
	for _, e := range entries {
		i, found := slices.BinarySearchFunc(held, e.Seq, bySeq)
		if !found {
			held = slices.Insert(held, i, e)
		}
	}
	h.entries[sink] = held
}

// settle forgets the entry seq of sink: delivered or dead-lettered. Call
// it through Outbox.settle.
func (h *heldOutbox) settle(sink string, seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	held := h.entries[sink]
	if i, found := slices.BinarySearchFunc(held, seq, bySeq); found {
		h.entries[sink] = slices.Delete(held, i, i+1)
	}
}

// bySeq orders held entries (kept sorted by Seq) for binary search.
func bySeq(e store.OutboxEntry, seq uint64) int { return cmp.Compare(e.Seq, seq) }

// drop forgets what was held of sink's queue: its dispatcher stopped
// (the sink was removed, or the outbox stops).
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

// settle forgets a delivered or dead-lettered entry of sink's queue. It
// takes o.mu, which EnqueueWith holds from its append to its hold: a
// dispatcher already reading the queue may deliver a message in that
// window, and settling it before the hold would leave the delivered
// message held, and sent again should the state be damaged.
func (o *Outbox) settle(sink string, seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.held.settle(sink, seq)
}
