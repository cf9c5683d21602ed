package sim

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Stats is what the instance has served since Start, per client: the
// figures a load test compares with what its clients say they received.
// Simulated restarts keep them (a supervisor's view, as Sim's restart
// count). GET /stats on the control API answers it.
type Stats struct {
	// Clients is keyed by the client's User-Agent ("" when it sent none).
	Clients map[string]ClientStats `json:"clients"`
}

// ClientStats counts what one client got.
type ClientStats struct {
	// FramesSent counts valid telemetry frames written to its connections,
	// counted as the write begins (the malformed frames of
	// telemetry_garbage excluded; pings too). A write that fails ends its
	// connection: that frame is counted and never arrives.
	FramesSent uint64 `json:"frames_sent"`
	// APIRequests counts its HTTP API requests, answered or not.
	APIRequests uint64 `json:"api_requests"`
}

// Add sums o into s.
func (s *Stats) Add(o Stats) {
	if s.Clients == nil {
		s.Clients = map[string]ClientStats{}
	}
	for ua, c := range o.Clients {
		t := s.Clients[ua]
		t.FramesSent += c.FramesSent
		t.APIRequests += c.APIRequests
		s.Clients[ua] = t
	}
}

// clientCounters are one client's live counts.
type clientCounters struct {
	frames   atomic.Uint64
	requests atomic.Uint64
}

// statsTable holds the counters of every client seen.
type statsTable struct {
	mu      sync.Mutex
	clients map[string]*clientCounters
}

// client returns ua's counters, created at first sight. A connection looks
// them up once; an API request once per request.
func (t *statsTable) client(ua string) *clientCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clients == nil {
		t.clients = map[string]*clientCounters{}
	}
	c, ok := t.clients[ua]
	if !ok {
		c = &clientCounters{}
		t.clients[ua] = c
	}
	return c
}

// snapshot copies the counts.
func (t *statsTable) snapshot() Stats {
	t.mu.Lock()
	clients := maps.Clone(t.clients)
	t.mu.Unlock()
	s := Stats{Clients: make(map[string]ClientStats, len(clients))}
	for ua, c := range clients {
		s.Clients[ua] = ClientStats{FramesSent: c.frames.Load(), APIRequests: c.requests.Load()}
	}
	return s
}

// Stats returns what the instance has served since Start, per client.
func (s *Sim) Stats() Stats { return s.stats.snapshot() }

// Stats sums the Stats of every instance.
func (f *Fleet) Stats() Stats {
	sum := Stats{Clients: map[string]ClientStats{}}
	for _, s := range f.sims {
		sum.Add(s.Stats())
	}
	return sum
}
