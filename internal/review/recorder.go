package review

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

// RecorderOptions configure a Recorder. A zero field takes its default,
// which internal/config holds.
type RecorderOptions struct {
	// FPSMin and FPSMax are the band a sample must lie in (inclusive) to
	// count in Minute.FPSInBand. Default: config.DefaultReviewThresholds's,
	// 85 and 95, the checklist's band.
	FPSMin, FPSMax float64
	// Settle is how long after a minute ends Flush still holds it open for
	// late observations. Default: config.ReviewSettle (1m); negative: none, for a
	// caller that observes everything as it happens.
	Settle time.Duration
	// MaxSamplesPerMinute bounds the FPS samples and latencies a minute
	// keeps for its percentiles; beyond it the minute keeps every second
	// one, then every fourth, and so on, evenly through the minute.
	// Default: config.ReviewMaxSamplesPerMinute (600).
	MaxSamplesPerMinute int
	// MaxPending bounds the minutes held between flushes; the oldest is
	// discarded (and counted in Dropped) beyond it. Default:
	// config.ReviewMaxPending (120).
	MaxPending int
}

func (o RecorderOptions) withDefaults() RecorderOptions {
	def := config.DefaultReviewThresholds()
	fill(&o.FPSMin, def.FPSMin)
	fill(&o.FPSMax, def.FPSMax)
	switch {
	case o.Settle == 0:
		o.Settle = config.ReviewSettle
	case o.Settle < 0:
		o.Settle = 0
	}
	if o.MaxSamplesPerMinute <= 0 {
		o.MaxSamplesPerMinute = config.ReviewMaxSamplesPerMinute
	}
	if o.MaxPending <= 0 {
		o.MaxPending = config.ReviewMaxPending
	}
	return o
}

// Sample is one telemetry reading.
type Sample struct {
	// At is when the instance reported it.
	At time.Time
	// FPS is the frame rate, when HasFPS.
	FPS    float64
	HasFPS bool
	// MemoryMB is the memory in MiB, when HasMemory.
	MemoryMB  float64
	HasMemory bool
}

// CheckRound is the outcome of one scheduled round of checks.
type CheckRound struct {
	// At is when the round ran.
	At time.Time
	// Passed and Total count the checks that ran; leave skipped checks and
	// the target's declared known gaps out of both, so that a stock server
	// without /health is not "unresponsive" forever.
	Passed, Total int
	// Latencies are the durations of the round's API requests (not of the
	// rate-limit burst, whose fast 429s would flatter the percentiles).
	Latencies []time.Duration
	// RateLimit is what check 7 (rate_limit) found, if it ran.
	RateLimit RateLimitOutcome
}

// RateLimitOutcome is what check 7 found in a round.
type RateLimitOutcome int

// The outcomes of check 7.
const (
	// RateLimitNotRun: the round did not run check 7 (or skipped it).
	RateLimitNotRun RateLimitOutcome = iota
	// RateLimitPassed: the burst drew a 429.
	RateLimitPassed
	// RateLimitFailed: the burst drew no 429; rate limiting is off.
	RateLimitFailed
)

// Counters are the instance's own cumulative counters from /status; nil
// where it reports none (the stock Godot server reports none).
type Counters struct {
	Requests            *float64
	Errors              *float64
	AuthFailures        *float64
	RateLimitViolations *float64
}

// Recorder aggregates what the daemon observes of one target into Minutes.
// The monitor feeds it at low frequency (telemetry once a minute, checks
// once a round, a counter bump per HTTP request) and the review service
// takes the completed minutes with Flush. It is safe for concurrent use.
//
// Observations for a minute already flushed are dropped and counted in
// Dropped: a minute is handed over once. Minutes are wall-clock minutes
// (UTC): after the wall clock steps back, the repeated minutes are handed
// over a second time and the store keeps the later ones.
type Recorder struct {
	opts RecorderOptions

	mu            sync.Mutex
	open          map[time.Time]*bucket
	flushedBefore time.Time
	dropped       uint64
}

// NewRecorder returns an empty Recorder.
func NewRecorder(opts RecorderOptions) *Recorder {
	return &Recorder{opts: opts.withDefaults(), open: make(map[time.Time]*bucket)}
}

// ObserveSamples records telemetry samples, each in the minute it was taken
// in; a minute with samples counts as one the telemetry was connected in.
// Invalid values (NaN, infinite, negative) are ignored: the stream is not
// trusted.
func (r *Recorder) ObserveSamples(samples []Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range samples {
		b := r.bucket(s.At)
		if b == nil {
			continue
		}
		b.m.TelemetryConnected = true
		if s.HasFPS && valid(s.FPS) {
			b.addFPS(s.FPS, r.opts)
		}
		if s.HasMemory && valid(s.MemoryMB) {
			b.addMemory(s.MemoryMB)
		}
	}
}

// ObserveChecks records a scheduled round of checks.
func (r *Recorder) ObserveChecks(round CheckRound) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket(round.At)
	if b == nil {
		return
	}
	b.m.Checks += max(round.Total, 0)
	b.m.ChecksPassed += max(min(round.Passed, round.Total), 0)
	for _, d := range round.Latencies {
		if d >= 0 {
			b.latency.add(d.Seconds(), r.opts.MaxSamplesPerMinute)
		}
	}
	switch round.RateLimit {
	case RateLimitPassed:
		b.m.RateLimitPass = true
	case RateLimitFailed:
		b.m.RateLimitFail = true
	}
}

// ObserveHTTP records one request the daemon made to the instance with its
// own token: code is the HTTP status (0 when none came back), failed is set
// for a transport error or timeout. 5xx and transport errors count as
// errors; 401 and 429 are counted apart. Leave out check 6's deliberate
// unauthenticated probes: their 401s are expected, not an attack.
func (r *Recorder) ObserveHTTP(at time.Time, code int, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket(at)
	if b == nil {
		return
	}
	b.m.OwnRequests++
	switch {
	case failed || code >= 500:
		b.m.OwnErrors++
	case code == 401:
		b.m.OwnUnauthorized++
	case code == 429:
		b.m.OwnRateLimited++
	}
}

// ObserveCounters records the instance's cumulative counters as /status
// reported them at at. The minute keeps the last value of each counter
// (by at); a nil field leaves the minute's value as it was.
func (r *Recorder) ObserveCounters(at time.Time, c Counters) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket(at)
	if b == nil {
		return
	}
	if at.Before(b.countersAt) {
		return // an older report than one already seen
	}
	b.countersAt = at
	setCounter(&b.m.Requests, c.Requests)
	setCounter(&b.m.Errors, c.Errors)
	setCounter(&b.m.AuthFailures, c.AuthFailures)
	setCounter(&b.m.RateLimitViolations, c.RateLimitViolations)
}

// ObserveRestarts records n restarts of the instance detected at at.
func (r *Recorder) ObserveRestarts(at time.Time, n int) {
	if n <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.bucket(at); b != nil {
		b.m.Restarts += n
	}
}

// ObserveTelemetry records the telemetry stream's state at at. A minute in
// which it was connected at any moment counts as connected; a disconnected
// report still makes the minute one the daemon watched.
func (r *Recorder) ObserveTelemetry(at time.Time, connected bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b := r.bucket(at); b != nil && connected {
		b.m.TelemetryConnected = true
	}
}

// ObserveVR records a VR initialisation event seen in telemetry, or the
// desktop fallback when desktopFallback is set.
func (r *Recorder) ObserveVR(at time.Time, desktopFallback bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket(at)
	switch {
	case b == nil:
	case desktopFallback:
		b.m.DesktopFallback = true
	default:
		b.m.VRInitialized = true
	}
}

// Flush returns, oldest first, every minute that ended at least Settle
// before now, and forgets them. Call it about once a minute.
func (r *Recorder) Flush(now time.Time) []Minute {
	boundary := now.UTC().Add(-r.opts.Settle).Truncate(time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	// Follow the clock both ways: after a backward wall step the repeated
	// minutes are recorded again rather than dropped for the step's length.
	r.flushedBefore = boundary
	var out []Minute
	for at, b := range r.open {
		if at.Before(boundary) {
			out = append(out, b.minute())
			delete(r.open, at)
		}
	}
	slices.SortFunc(out, func(a, b Minute) int { return a.At.Compare(b.At) })
	return out
}

// Dropped counts what was discarded: each observation that came late for a
// minute already flushed, and each minute evicted because nobody flushed
// (MaxPending).
func (r *Recorder) Dropped() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// bucket is the open minute at falls in, created on first use; nil (and
// the observation counted as dropped) when that minute was flushed. The
// caller holds r.mu.
func (r *Recorder) bucket(at time.Time) *bucket {
	key := at.UTC().Truncate(time.Minute)
	if key.Before(r.flushedBefore) {
		r.dropped++
		return nil
	}
	if b, ok := r.open[key]; ok {
		return b
	}
	if len(r.open) >= r.opts.MaxPending {
		r.evictOldest()
	}
	b := &bucket{m: Minute{At: key}}
	r.open[key] = b
	return b
}

func (r *Recorder) evictOldest() {
	var oldest time.Time
	for at := range r.open {
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	r.dropped++
	delete(r.open, oldest)
}

func valid(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
}

func setCounter(dst **float64, v *float64) {
	if v != nil && valid(*v) {
		c := *v // the caller's pointer is not kept
		*dst = &c
	}
}
