// Package sim is a simulated SpaceTime VR instance: the HTTP API (8080), the
// telemetry WebSocket (8081) and a fault-control API (8089), in the two
// flavours that matter: the contract the deployment checklist documents
// (ProfileChecklist) and the shipped Godot server with its quirks
// (ProfileGodot). It is a second, independent implementation of the wire
// format: it never imports internal/spacetime, so the client's tests prove
// something.
package sim

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// Profile selects which server the simulator behaves like.
type Profile string

const (
	// ProfileChecklist serves the contract the deployment checklist
	// describes (docs/instance.md, "HTTP API").
	ProfileChecklist Profile = "checklist"
	// ProfileGodot behaves like the shipped Godot server (docs/instance.md, "HTTP API" and
	// "Quirks of the shipped server").
	ProfileGodot Profile = "godot"
)

// Options configure a simulated instance. Zero values mean the defaults noted.
type Options struct {
	// Profile is checklist (default) or godot.
	Profile Profile
	// APIAddress is the HTTP API listen address (default 127.0.0.1:8080; port 0 picks one).
	APIAddress string
	// TelemetryAddress is the telemetry WebSocket listen address (default 127.0.0.1:8081).
	TelemetryAddress string
	// ControlAddress is the fault-control API listen address (default
	// 127.0.0.1:8089), or NoControl for an instance whose faults are set
	// only through Go (a Fleet's members: the fleet serves one control API
	// for all).
	ControlAddress string
	// Token is the bearer token (checklist profile only; default: generated).
	Token string
	// PerformanceToken is the 64-hex /performance token (godot profile; default: generated).
	PerformanceToken string
	// TokenTTL is the JWT lifetime in the godot profile (default 1h).
	TokenTTL time.Duration
	// Environment is what the checklist profile's /status reports (default production).
	Environment string
	// AppVersion is the application version reported by /status (default 1.0.0).
	AppVersion string
	// TelemetryAuth makes the telemetry server require the auth_required/authenticate
	// handshake (godot profile).
	TelemetryAuth bool
	// FPSInterval is how often an fps event is sent (default 500ms).
	FPSInterval time.Duration
	// TrackingInterval is how often a vr_tracking event is sent (default 100ms).
	TrackingInterval time.Duration
	// PingInterval is how often the telemetry server sends WebSocket pings (default 30s).
	PingInterval time.Duration
	// Faults is the initial fault setting (default: DefaultFaults(Environment)).
	Faults *Faults
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives the sim's logs (default: none). Tokens are never logged.
	Logger *zap.Logger
	// Scenario is a timeline of fault changes, restarts and events, run from
	// Start (default: none). See ParseScenario.
	Scenario Scenario
}

// NoControl as Options.ControlAddress: the instance listens for no
// fault-control API of its own.
const NoControl = "none"

// Info is what a client needs to reach the instance: the addresses actually
// bound and the credentials. Its JSON form is the line spacetime-sim prints
// at start.
type Info struct {
	API       string `json:"api"`
	Telemetry string `json:"telemetry"`
	Control   string `json:"control"`
	// Name is the instance's name in a Fleet (its target name); empty for
	// a lone instance.
	Name             string `json:"name,omitempty"`
	Token            string `json:"token"`
	PerformanceToken string `json:"performance_token,omitempty"`
}

// Event is one telemetry message the instance broadcasts to every connected
// client, such as {"type":"event","event":"error","data":{...}}.
type Event struct {
	// Type is the envelope type; "event" when empty.
	Type string `json:"type"`
	// Name is the event name (fps, vr_initialized, warning, error, ...).
	Name string `json:"event"`
	// Data is the event payload.
	Data map[string]any `json:"data"`
}

// eventBus fans events out to subscribers (one per telemetry connection).
type eventBus struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// subscribe returns a buffered channel of events and a function that
// unsubscribes it.
func (b *eventBus) subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 64)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[chan Event]struct{}{}
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

// publish delivers ev to every subscriber; a subscriber whose buffer is full
// misses it rather than blocking the publisher.
func (b *eventBus) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Sim is one running simulated instance. Start creates it; Close stops it.
type Sim struct {
	opts   Options
	faults *FaultState
	events eventBus
	stats  statsTable // per client, across simulated restarts

	// instance holds what a process restart resets: start time, version,
	// restart count, JWT and its secret, counters, rate-limit buckets.
	instance *instanceState

	api               *switchableServer // the HTTP API; down while faults.APIDown
	telemetry         *telemetryServer  // the WebSocket handler and its connections
	telemetryListener *switchableServer // serves telemetry; down while faults.TelemetryDown
	control           *switchableServer // the fault-control API; never goes down; nil with NoControl

	stop func()         // cancels the sim's goroutines
	wg   sync.WaitGroup // every goroutine the sim starts

	log       *zap.Logger
	mu        sync.Mutex // guards instance and restarts
	restarts  int64      // simulated restarts since Start; survives them
	closeOnce sync.Once
}
