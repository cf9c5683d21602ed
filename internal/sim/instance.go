package sim

import (
	"sync"
	"sync/atomic"
	"time"
)

// historySize is how many entries GET /scene/history keeps.
const historySize = 10

// instanceState is what a process restart resets: the start time, the
// version, the JWT and its secret, the rate-limit buckets, the counters and
// the scene history. The restart count itself lives on Sim, as a supervisor
// would remember it.
type instanceState struct {
	started time.Time
	version string

	// jwt and jwtSecret are set in the godot profile only.
	jwt       string
	jwtSecret []byte

	limiter *rateLimiter

	requests     atomic.Int64
	errors       atomic.Int64 // 5xx answers
	authFailures atomic.Int64 // 401 answers
	rateLimited  atomic.Int64 // 429 answers
	perfChecks   atomic.Int64 // token checks on /performance (its "security" stats)

	mu          sync.Mutex
	history     []historyEntry // most recent first
	peakMemory  float64        // MiB, for static_memory_max
	cacheHits   int
	cacheMisses int
}

// historyEntry is one GET /scene/history item.
type historyEntry struct {
	ScenePath      string `json:"scene_path"`
	SceneName      string `json:"scene_name"`
	LoadedAt       string `json:"loaded_at"`
	LoadDurationMS int    `json:"load_duration_ms"`
}

// newInstance starts a process of the given profile at now.
func newInstance(opts Options, version string, now time.Time) *instanceState {
	inst := &instanceState{started: now, version: version}
	if opts.Profile == ProfileGodot {
		secret := newJWTSecret()
		inst.jwtSecret = secret
		inst.jwt = signJWT(secret, now, now.Add(opts.TokenTTL))
		inst.limiter = newRateLimiter(godotLimits)
	} else {
		inst.limiter = newRateLimiter(checklistLimits)
	}
	return inst
}

// recordLoad adds a scene load to the history, most recent first.
func (inst *instanceState) recordLoad(e historyEntry) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	inst.history = append([]historyEntry{e}, inst.history...)
	if len(inst.history) > historySize {
		inst.history = inst.history[:historySize]
	}
}

func (inst *instanceState) historyCopy() []historyEntry {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return append([]historyEntry{}, inst.history...)
}

// observeMemory records the current memory use and returns the peak since
// start, which /performance reports as static_memory_max.
func (inst *instanceState) observeMemory(mb float64) float64 {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	inst.peakMemory = max(inst.peakMemory, mb)
	return inst.peakMemory
}

// cacheStats counts one more /performance cache lookup (a hit, mostly) and
// returns the totals, so that the cache section moves between polls.
func (inst *instanceState) cacheStats() (hits, misses int) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if (inst.cacheHits+inst.cacheMisses)%10 == 9 {
		inst.cacheMisses++
	} else {
		inst.cacheHits++
	}
	return inst.cacheHits, inst.cacheMisses
}
