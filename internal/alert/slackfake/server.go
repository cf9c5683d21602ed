// Package slackfake is a fake Slack for tests: an incoming webhook and the
// Web API methods the sinks use (chat.postMessage, chat.update, auth.test),
// answering as Slack does, with fault injection per endpoint (429 with
// Retry-After, 5xx, connection reset, a hung answer, Slack's permanent
// errors), Slack's message limits enforced, and a log of every request and
// every message received.
//
// slack-go's slacktest has no chat.update, no 429 and no webhook, hence this
// package. Two modes: New listens on 127.0.0.1:0 (real loopback, for
// end-to-end tests); NewInMemory opens no socket, and Transport calls the
// handler directly, so that sinks given
// &http.Client{Transport: fake.Transport()} run inside testing/synctest.
package slackfake

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// Endpoint names what a request was for.
type Endpoint string

// Endpoints the fake serves.
const (
	// Webhook is an incoming webhook (POST /services/…).
	Webhook Endpoint = "webhook"
	// PostMessage is POST /api/chat.postMessage.
	PostMessage Endpoint = "chat.postMessage"
	// Update is POST /api/chat.update.
	Update Endpoint = "chat.update"
	// AuthTest is POST /api/auth.test.
	AuthTest Endpoint = "auth.test"
)

// WebhookChannel is the channel ID the fake's incoming webhooks post to.
const WebhookChannel = "C0WEBHOOK01"

// webhookPath is the path WebhookURL returns; any path under /services/ is
// served as a webhook, so that tests can use a sentinel URL of their own.
const webhookPath = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

// inMemoryURL is the base URL of an in-memory fake: never resolved, since
// Transport never dials.
const inMemoryURL = "http://slackfake.invalid"

// Option configures a Server.
type Option func(*Server)

// WithToken makes the Web API accept only token (a request with another one
// gets invalid_auth, one without gets not_authed). By default any non-empty
// token is accepted.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithLimits replaces DefaultLimits.
func WithLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithMinInterval makes the fake answer 429 (Retry-After: the time left,
// rounded up to whole seconds) to a post that arrives within d of the
// previous accepted post to the same channel, as Slack does beyond about
// 1 message per second per channel. Off (0) by default.
func WithMinInterval(d time.Duration) Option { return func(s *Server) { s.minInterval = d } }

// WithClock replaces the real clock for receive times and the min-interval check.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// Server is a fake Slack. Its methods are safe for concurrent use.
type Server struct {
	token       string
	limits      Limits
	minInterval time.Duration
	now         func() time.Time

	http    *httptest.Server // nil in memory
	baseURL string
	handler http.Handler
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	faults   map[Endpoint][]Fault
	requests []Request
	messages []Message
	stored   map[string]*Message // channel + "/" + ts → the message as it stands after updates
	lastPost map[string]time.Time
	seq      int
	changed  chan struct{} // closed and replaced at each new message or request
}

// New starts a fake Slack listening on 127.0.0.1:0. Close it when done.
func New(opts ...Option) *Server {
	s := newServer(opts)
	s.http = httptest.NewServer(s.handler)
	s.baseURL = s.http.URL
	return s
}

// NewInMemory returns a fake Slack that opens no socket: use Handler or
// Transport (its URLs point at a host that is never dialled). Close is a
// no-op apart from releasing hung requests.
func NewInMemory(opts ...Option) *Server {
	s := newServer(opts)
	s.baseURL = inMemoryURL
	return s
}

func newServer(opts []Option) *Server {
	s := &Server{
		limits:   DefaultLimits(),
		now:      clock.Now,
		closing:  make(chan struct{}),
		faults:   make(map[Endpoint][]Fault),
		stored:   make(map[string]*Message),
		lastPost: make(map[string]time.Time),
		changed:  make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/", s.serveWebhook)
	mux.HandleFunc("POST /api/chat.postMessage", s.servePostMessage)
	mux.HandleFunc("POST /api/chat.update", s.serveUpdate)
	mux.HandleFunc("POST /api/auth.test", s.serveAuthTest)
	mux.HandleFunc("/api/", s.serveUnknownMethod)
	s.handler = mux
	return s
}

// Close releases hung requests and stops the listener, if any.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	if s.http != nil {
		s.http.Close()
	}
}

// URL is the fake's base URL (http://127.0.0.1:PORT, or a never-dialled
// host in memory).
func (s *Server) URL() string { return s.baseURL }

// WebhookURL is an incoming-webhook URL served by the fake. Any path under
// /services/ works the same, for tests that need a sentinel URL.
func (s *Server) WebhookURL() string { return s.baseURL + webhookPath }

// APIURL is the Web API base URL, with its trailing slash, for
// slack.OptionAPIURL.
func (s *Server) APIURL() string { return s.baseURL + "/api/" }

// Handler serves the fake's endpoints (the same handler New listens with).
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an http.Client whose transport calls Handler directly:
// no socket, so it works inside testing/synctest.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.Transport()} }
