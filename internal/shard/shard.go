// Package shard splits a fleet of targets across daemon replicas.
//
// Each replica runs with a Spec (K of N) and keeps the targets that
// rendezvous hashing (highest random weight) assigns to shard K: every
// target scores each shard and goes to the shard with the highest score.
// The assignment needs no coordination between replicas, depends only on
// the target's name and N, and when N changes only about 1/N of the
// targets move (those whose best shard is the one added or removed).
package shard

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Spec is one shard of a fleet: Index K counted from 0, of Count N.
// The zero Spec is "not sharded": it owns every target.
type Spec struct {
	// Index is K, the shard this replica watches, 0 ≤ K < Count.
	Index int
	// Count is N, the number of shards; 0 or 1 means not sharded.
	Count int
}

// Sharded reports whether s splits the fleet (N > 1).
func (s Spec) Sharded() bool { return s.Count > 1 }

// String is "K/N", as --shard takes it; "" when not sharded.
func (s Spec) String() string {
	if s.Count == 0 {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Label is the value of the shard label on the daemon's own metrics and
// alerts: K, which is 0 when not sharded (the one shard of one).
func (s Spec) Label() string { return strconv.Itoa(s.Index) }

// Parse reads "K/N" (--shard), K counted from 0. An empty string is the
// zero Spec.
func Parse(v string) (Spec, error) {
	if v == "" {
		return Spec{}, nil
	}
	k, n, ok := strings.Cut(v, "/")
	if !ok {
		return Spec{}, fmt.Errorf("shard %q: want K/N, e.g. 0/3 for the first of three shards", v)
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return Spec{}, fmt.Errorf("shard %q: N (%q) must be a whole number ≥ 1", v, n)
	}
	index, err := strconv.Atoi(k)
	if err != nil || index < 0 || index >= count {
		return Spec{}, fmt.Errorf("shard %q: K (%q) must be a whole number from 0 to %d (shards are counted from 0)", v, k, count-1)
	}
	return Spec{Index: index, Count: count}, nil
}

// FromHostname is the shard of a StatefulSet pod: K is the ordinal its
// hostname ends with ("spacetime-watch-2" is shard 2), of count shards.
func FromHostname(hostname string, count int) (Spec, error) {
	if count < 1 {
		return Spec{}, fmt.Errorf("shard count %d: must be ≥ 1 (--shard.count)", count)
	}
	i := strings.LastIndexByte(hostname, '-')
	ord, err := strconv.Atoi(hostname[i+1:])
	if i < 0 || err != nil || ord < 0 {
		return Spec{}, fmt.Errorf("hostname %q does not end with a StatefulSet ordinal (-0, -1, …): run in a StatefulSet or pass --shard=K/N", hostname)
	}
	if ord >= count {
		return Spec{}, fmt.Errorf("hostname %q is ordinal %d but there are %d shards (--shard.count): scale the StatefulSet to %d replicas or raise the count", hostname, ord, count, count)
	}
	return Spec{Index: ord, Count: count}, nil
}

// Owner is the shard, from 0 to count-1, that target belongs to.
func Owner(target string, count int) int {
	best, bestScore := 0, uint64(0)
	for i := range count {
		if s := score(target, i); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// Owns reports whether target belongs to this shard; every target belongs
// to an unsharded Spec.
func (s Spec) Owns(target string) bool {
	return !s.Sharded() || Owner(target, s.Count) == s.Index
}

// Filter returns the items whose name s owns, in their order.
func Filter[T any](s Spec, items []T, name func(T) string) []T {
	if !s.Sharded() {
		return items
	}
	out := make([]T, 0, len(items)/s.Count+1)
	for _, it := range items {
		if s.Owns(name(it)) {
			out = append(out, it)
		}
	}
	return out
}

// score is the weight of shard i for target: FNV-1a over the name and the
// shard number, mixed so that neighbouring shard numbers score
// independently.
func score(target string, i int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(target))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h.Write(b[:])
	return mix(h.Sum64())
}

// mix is the splitmix64 finaliser: FNV's low-entropy high bits would
// otherwise favour some shards.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
