package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The outbox makes notifications durable: the alert package appends a
// message before it sends it, and acks it only after the sink confirmed
// delivery. After a crash the messages still in the outbox are sent again
// (at least once, in order per sink); a message a sink refuses for good is
// moved to the sink's dead letters instead.

// OutboxEntry is a message waiting for a sink.
type OutboxEntry struct {
	// Seq orders the entries of a sink and names one to OutboxAck.
	Seq uint64
	// Payload is the caller's encoded message.
	Payload []byte
}

// DeadLetter is a message a sink refused for good.
type DeadLetter struct {
	// Seq is the entry's outbox seq number.
	Seq uint64
	// At is when it was dead-lettered.
	At time.Time
	// Reason is why, e.g. the sink's error.
	Reason string
	// Payload is the message as it was appended.
	Payload []byte
}

// OutboxAppend appends a message to sink's outbox and returns its seq; the
// message is on disk when it returns.
func (s *Store) OutboxAppend(sink string, payload []byte) (uint64, error) {
	if err := checkName("outbox sink", sink); err != nil {
		return 0, fmt.Errorf("store: outbox append: %w", err)
	}
	var seq uint64
	err := s.update("outbox append to "+sink, func(tx *bolt.Tx) error {
		var err error
		if seq, err = nextSeq(tx, bucketOutbox); err != nil {
			return err
		}
		b, err := createOwnerBucket(tx, bucketOutbox, sink)
		if err != nil {
			return err
		}
		return logPut(b, seqKey(seq), cloneValue(payload))
	})
	return seq, err
}

// OutboxPeek returns up to max of sink's oldest messages (max <= 0: all),
// oldest first, without removing them.
func (s *Store) OutboxPeek(sink string, max int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view("outbox peek at "+sink, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketOutbox, sink)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && (max <= 0 || len(out) < max); k, v = c.Next() {
			seq, err := keySeq(k)
			if err != nil {
				return err
			}
			out = append(out, OutboxEntry{Seq: seq, Payload: cloneValue(v)})
		}
		return nil
	})
	return out, err
}

// OutboxAck removes a delivered message. Acking a seq that is not there
// (acked before a crash, or never appended) is not an error, so a
// redelivery after a restart can be acked again.
func (s *Store) OutboxAck(sink string, seq uint64) error {
	return s.update(fmt.Sprintf("outbox ack %s/%d", sink, seq), func(tx *bolt.Tx) error {
		if b := ownerBucket(tx, bucketOutbox, sink); b != nil {
			_, err := logDelete(b, seqKey(seq))
			return err
		}
		return nil
	})
}

// OutboxDeadLetter moves a message from sink's outbox to its dead letters
// in one transaction, with the reason. The dead letters keep the newest
// Options.DeadLetters (1000) per sink. A seq not in the outbox is an error
// matching ErrNotFound.
func (s *Store) OutboxDeadLetter(sink string, seq uint64, reason string) error {
	return s.update(fmt.Sprintf("outbox dead-letter %s/%d", sink, seq), func(tx *bolt.Tx) error {
		key := seqKey(seq)
		ob := ownerBucket(tx, bucketOutbox, sink)
		if ob == nil || !has(ob, key) {
			return fmt.Errorf("outbox entry %s/%d: %w", sink, seq, ErrNotFound)
		}
		return s.moveToDeadLetters(tx, sink, ob, [][]byte{key}, reason)
	})
}

// moveToDeadLetters moves the entries keys of sink's outbox bucket ob to
// its dead letters, with the reason, and trims the dead letters.
func (s *Store) moveToDeadLetters(tx *bolt.Tx, sink string, ob *bolt.Bucket, keys [][]byte, reason string) error {
	db, err := createOwnerBucket(tx, bucketDeadLetters, sink)
	if err != nil {
		return err
	}
	at := s.now()
	for _, key := range keys {
		v, err := encodeDeadLetter(DeadLetter{At: at, Reason: reason, Payload: cloneValue(ob.Get(key))})
		if err != nil {
			return err
		}
		if err := logPut(db, key, v); err != nil {
			return err
		}
		if _, err := logDelete(ob, key); err != nil {
			return err
		}
	}
	return logTrim(db, s.opts.DeadLetters, nil, nil)
}

// OutboxDeadLetterAll moves every message of sink's outbox to its dead
// letters, with the reason, in one transaction, and returns how many it
// moved: a sink removed from the configuration gives up its queue at once,
// visibly, rather than keep it waiting for a sink that may never return.
func (s *Store) OutboxDeadLetterAll(sink, reason string) (int, error) {
	var moved int
	err := s.update("outbox dead-letter all of "+sink, func(tx *bolt.Tx) error {
		ob := ownerBucket(tx, bucketOutbox, sink)
		if ob == nil {
			return nil
		}
		var keys [][]byte
		if err := ob.ForEach(func(k, _ []byte) error {
			keys = append(keys, cloneValue(k))
			return nil
		}); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		moved = len(keys)
		return s.moveToDeadLetters(tx, sink, ob, keys, reason)
	})
	return moved, err
}

// DeadLetters returns sink's dead letters, oldest first.
func (s *Store) DeadLetters(sink string) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.view("dead letters of "+sink, func(tx *bolt.Tx) error {
		b := ownerBucket(tx, bucketDeadLetters, sink)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			seq, err := keySeq(k)
			if err != nil {
				return err
			}
			d, err := decodeDeadLetter(seq, v)
			if err != nil {
				return fmt.Errorf("dead letter %d: %w", seq, err)
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// OutboxPending returns how many messages wait per sink, for a gauge and
// for the start-up resend. Sinks with none are absent.
func (s *Store) OutboxPending() (map[string]int, error) {
	return s.ownerCounts("outbox pending", bucketOutbox)
}

// ownerCounts returns the record count (the bucket's sequence) of every
// owner under parent; owners with none are absent.
func (s *Store) ownerCounts(op string, parent []byte) (map[string]int, error) {
	out := map[string]int{}
	err := s.view(op, func(tx *bolt.Tx) error {
		p := tx.Bucket(parent)
		return p.ForEachBucket(func(k []byte) error {
			if n := p.Bucket(k).Sequence(); n > 0 {
				out[string(k)] = int(n)
			}
			return nil
		})
	})
	return out, err
}

// MetaValue is a key and value of the store's key-value space (PutMeta),
// for OutboxAppendAll to write with a message.
type MetaValue struct {
	// Key is the PutMeta key, e.g. "alert/state".
	Key string
	// Value is stored as given.
	Value []byte
}

// OutboxAppendAll appends the same message to several sinks' outboxes in
// one transaction and returns each sink's seq: after a crash either every
// sink has the message or none has, so a notification is never sent to
// some sinks and silently missing from the others. The meta values, when
// given, are stored (as PutMeta would) in the same transaction: the caller's
// record that the message was queued cannot be lost while the message is
// kept, nor the other way round. The message is on disk when it returns.
// Sink names must be unique; no sinks stores only the meta values.
func (s *Store) OutboxAppendAll(sinks []string, payload []byte, meta ...MetaValue) (map[string]uint64, error) {
	seen := make(map[string]bool, len(sinks))
	for _, sink := range sinks {
		if err := checkName("outbox sink", sink); err != nil {
			return nil, fmt.Errorf("store: outbox append: %w", err)
		}
		if seen[sink] {
			return nil, fmt.Errorf("store: outbox append: sink %q is listed twice", sink)
		}
		seen[sink] = true
	}
	for _, kv := range meta {
		if err := checkName("meta key", kv.Key); err != nil {
			return nil, fmt.Errorf("store: outbox append: %w", err)
		}
	}
	seqs := make(map[string]uint64, len(sinks))
	if len(sinks) == 0 && len(meta) == 0 {
		return seqs, nil
	}
	err := s.update(fmt.Sprintf("outbox append to %d sinks", len(sinks)), func(tx *bolt.Tx) error {
		for _, sink := range sinks {
			seq, err := nextSeq(tx, bucketOutbox)
			if err != nil {
				return err
			}
			b, err := createOwnerBucket(tx, bucketOutbox, sink)
			if err != nil {
				return err
			}
			if err := logPut(b, seqKey(seq), cloneValue(payload)); err != nil {
				return err
			}
			seqs[sink] = seq
		}
		for _, kv := range meta {
			if err := tx.Bucket(bucketKV).Put([]byte(kv.Key), cloneValue(kv.Value)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return seqs, nil
}

// DeadLetterCounts returns how many dead letters are kept per sink, for a
// gauge; it costs one read per sink, not a scan. Sinks with none are absent.
func (s *Store) DeadLetterCounts() (map[string]int, error) {
	return s.ownerCounts("dead letter counts", bucketDeadLetters)
}
