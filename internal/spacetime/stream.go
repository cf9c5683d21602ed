package spacetime

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// Defaults of StreamOptions.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultReadLimit      = 1 << 20
	DefaultPongWait       = 60 * time.Second
	DefaultPingPeriod     = 25 * time.Second
	DefaultSilenceTimeout = 90 * time.Second
	DefaultWriteTimeout   = 5 * time.Second
)

// DeadlineSlackDivisor sets the slack of a Stream's read deadline:
// PongWait / DeadlineSlackDivisor (3.75s with the default PongWait).
// Setting a socket's deadline costs a runtime timer update and a cold cache
// line, too much to pay for every frame of a thousand streams; so the
// deadline is moved only when the one needed has passed the one armed, and
// then armed up to the slack later than needed, which the next frames
// within the slack do not move. ErrHeartbeatTimeout therefore ends the
// stream between PongWait and PongWait plus the slack after the last sign
// of life; ErrSilent is never late (see StreamOptions.SilenceTimeout).
const DeadlineSlackDivisor = 16

// Errors that end a Stream, for errors.Is. Next wraps them with the URL and
// the limit that applied.
var (
	// ErrSilent means no valid data frame (anything but a pong or ping)
	// arrived for StreamOptions.SilenceTimeout, although the connection may
	// still answer pings or carry garbage: a wedged engine, or a half-open
	// stream (docs/reliability.md §8).
	ErrSilent = errors.New("telemetry stream silent")
	// ErrHeartbeatTimeout means nothing at all, not even a pong, arrived for
	// StreamOptions.PongWait (and up to its slack, DeadlineSlackDivisor,
	// more): the connection is dead.
	ErrHeartbeatTimeout = errors.New("telemetry connection dead: nothing received, not even a pong")
	// ErrFrameTooLarge means a frame exceeded StreamOptions.ReadLimit; the
	// stream answered with close code 1009 (message too big).
	ErrFrameTooLarge = errors.New("telemetry frame exceeds the read limit")
	// ErrAuthRejected means the server closed the stream with code 1008
	// (policy violation) after the client authenticated: the token was refused.
	ErrAuthRejected = errors.New("telemetry authentication rejected")
	// ErrNoAuthToken means the server sent auth_required and
	// StreamOptions.Token is nil.
	ErrNoAuthToken = errors.New("telemetry server requires a token and none is configured")
	// ErrStreamClosed means Close was called.
	ErrStreamClosed = errors.New("telemetry stream closed")
)

// StreamOptions configure Dial. Zero values mean the defaults noted; every
// duration is a field so that tests can use milliseconds.
type StreamOptions struct {
	// URLs are tried in order until one connects, e.g. ws://127.0.0.1:8081/
	// then the ports the instance falls back to when 8081 is busy (8083,
	// 8084: docs/instance.md, "Ports and availability"). Required.
	URLs []string
	// DialTimeout bounds each URL's TCP connect and WebSocket handshake
	// (default 5s).
	DialTimeout time.Duration
	// ReadLimit is the largest frame accepted, in bytes (default 1 MiB). A
	// larger frame ends the stream with ErrFrameTooLarge and close code 1009.
	ReadLimit int64
	// PongWait is how long the connection may stay completely quiet (no
	// frame, ping or pong) before it counts as dead (default 60s, the
	// server's own idle limit, docs/instance.md, "Intervals and keep-alive").
	// ErrHeartbeatTimeout comes at most PongWait/DeadlineSlackDivisor late
	// (3.75s with the default).
	PongWait time.Duration
	// PingPeriod is how often a WebSocket ping and the application-level
	// {"command":"ping"} are sent (default 25s, or PongWait*9/10 if shorter).
	// It must be shorter than PongWait.
	PingPeriod time.Duration
	// DisableCommandPing stops the {"command":"ping"} messages, for a server
	// that answers unknown commands with errors. WebSocket pings still go.
	DisableCommandPing bool
	// SilenceTimeout is how long the stream may carry no data frame, pongs
	// notwithstanding, before it ends with ErrSilent (default 90s), on time:
	// the deadline's slack never passes it. Keep it longer than PongWait
	// plus that slack (DeadlineSlackDivisor), or every data frame moves the
	// read deadline, which costs CPU on a busy stream.
	SilenceTimeout time.Duration
	// WriteTimeout bounds each write: pings, commands, authenticate
	// (default 5s).
	WriteTimeout time.Duration
	// Token answers the secure server's auth_required (docs/instance.md, "Authentication handshake"); it is called
	// only then, never sent unasked. When the server refuses the token
	// (close 1008) the stream ends with ErrAuthRejected and the source is
	// invalidated. A StatusToken must be bound to a Client first (pass the
	// Client's source).
	Token TokenSource
	// Now is the clock of Frame.Received, and of Frame.Time for frames
	// without a timestamp (default clock.Now). Deadlines always use the
	// real clock: they are socket deadlines. With clock.Now (or nil) one
	// reading per frame serves both.
	Now func() time.Time
	// Header is sent with the WebSocket handshake.
	Header http.Header
	// TLSConfig configures TLS for wss URLs (a private CA, a server name);
	// nil means the system roots.
	TLSConfig *tls.Config
	// MaxInflatedBytes caps a gzip frame's decompressed size (default
	// DefaultMaxInflatedBytes).
	MaxInflatedBytes int
	// SkipPoses scans vr_tracking frames instead of decoding their poses
	// (Decoder.SkipPoses), for a reader that uses only their kind and
	// time. Default false: poses decoded.
	SkipPoses bool
	// NetDial, if set, opens the connection to a URL's host:port instead
	// of a net.Dialer, e.g. a net.Pipe for a test that runs the stream in
	// a testing/synctest bubble, where the default durations (60 s, 90 s)
	// pass in an instant. Default: nil (net.Dialer).
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// OnInvalid, if set, is called (on the goroutine calling Next) with each
	// invalid frame's error, which wraps ErrInvalidFrame, before the frame
	// is skipped.
	OnInvalid func(error)
}

func (o StreamOptions) withDefaults() (StreamOptions, error) {
	if len(o.URLs) == 0 {
		return o, errors.New("telemetry: StreamOptions.URLs is empty: give at least one ws:// URL (ws://127.0.0.1:8081/)")
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"DialTimeout", o.DialTimeout}, {"PongWait", o.PongWait}, {"PingPeriod", o.PingPeriod},
		{"SilenceTimeout", o.SilenceTimeout}, {"WriteTimeout", o.WriteTimeout},
	} {
		if d.d < 0 {
			return o, fmt.Errorf("telemetry: StreamOptions.%s is negative (%s)", d.name, d.d)
		}
	}
	if o.ReadLimit < 0 {
		return o, fmt.Errorf("telemetry: StreamOptions.ReadLimit is negative (%d)", o.ReadLimit)
	}
	o.DialTimeout = cmp.Or(o.DialTimeout, DefaultDialTimeout)
	o.ReadLimit = cmp.Or(o.ReadLimit, DefaultReadLimit)
	o.PongWait = cmp.Or(o.PongWait, DefaultPongWait)
	o.PingPeriod = cmp.Or(o.PingPeriod, min(DefaultPingPeriod, o.PongWait*9/10))
	o.SilenceTimeout = cmp.Or(o.SilenceTimeout, DefaultSilenceTimeout)
	o.WriteTimeout = cmp.Or(o.WriteTimeout, DefaultWriteTimeout)
	if o.PingPeriod >= o.PongWait {
		return o, fmt.Errorf("telemetry: StreamOptions.PingPeriod (%s) must be shorter than PongWait (%s), or a quiet connection times out between pongs", o.PingPeriod, o.PongWait)
	}
	return o, nil
}

// DialError lists why every URL failed.
type DialError struct {
	// Attempts are the URLs in the order tried, each with its error.
	Attempts []DialAttempt
}

// DialAttempt is one URL's failure.
type DialAttempt struct {
	// URL is the URL tried, with any password redacted.
	URL string
	// Err is why it failed.
	Err error
}

// Error lists every URL with its failure.
func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "telemetry: no URL connected (%d tried)", len(e.Attempts))
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "; %s: %v", a.URL, a.Err)
	}
	return b.String()
}

// Unwrap returns each attempt's error, so errors.Is finds, say,
// syscall.ECONNREFUSED.
func (e *DialError) Unwrap() []error {
	errs := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		errs[i] = a.Err
	}
	return errs
}

// StreamStats counts the frames a Stream has read.
type StreamStats struct {
	// Frames counts valid frames by kind.
	Frames [KindCount]uint64
	// Invalid counts frames skipped because Decode refused them.
	Invalid uint64
}

// Total is the number of valid frames of every kind.
func (s StreamStats) Total() uint64 {
	var n uint64
	for _, c := range s.Frames {
		n += c
	}
	return n
}

// Stream is one telemetry WebSocket connection. Dial opens it; Next reads
// it; Close ends it. Next must be called from one goroutine at a time;
// Stats, URL, RequestSnapshot and Close are safe from any goroutine.
//
// A Stream parks no goroutine of its own: a timer sends its pings (each on
// a short-lived goroutine) until the stream stops.
// It does not reconnect: a Stream whose Next failed is finished, and the
// caller dials anew (with a Backoff).
type Stream struct {
	// Grouped so that one frame reads few cache lines: the connection, the
	// times, the timeouts (copied from opts) and the buffer first, then the
	// decoder (frames and invalid are further on). conn is shared with the
	// pings and Close (gorilla allows one reader and one writer at a time,
	// and Close from any goroutine); watchedDone is read without the lock
	// that guards its writes (see watch); the others are owned by the
	// goroutine calling Next.
	conn     *websocket.Conn
	err      error // sticky: once set, Next returns it
	ctx      context.Context
	lastAny  time.Time // last frame, ping or pong
	lastData time.Time // last data frame (Kind.IsData)
	// armed is the read deadline last set by armDeadline, at least the
	// one needed; zero forces the next armDeadline to set one.
	armed time.Time
	// pongWait and silence are opts.PongWait and opts.SilenceTimeout, and
	// slack the heartbeat deadline's (DeadlineSlackDivisor), here with the
	// hot fields.
	pongWait, silence, slack time.Duration
	// watchedDone is the Done channel of the context watch registered;
	// written by watch under watchMu, read by Next's goroutine without it.
	watchedDone <-chan struct{}
	msg         []byte // the last message read; its array is reused
	// recvNow is opts.Now when it is not the real clock, else nil: the
	// reading Next takes for the deadlines is then the frame's too.
	recvNow func() time.Time
	dec     Decoder

	frames  [KindCount]atomic.Uint64
	invalid atomic.Uint64

	opts     StreamOptions
	url      string
	authSent bool

	// watchMu guards the registration that interrupts a blocked read when
	// Next's context ends.
	watchMu sync.Mutex
	unwatch func() bool

	// writeMu serialises data-frame writes (gorilla allows one writer) and
	// guards the signing key.
	writeMu sync.Mutex
	signKey []byte

	closed   atomic.Bool
	stopOnce sync.Once
	done     chan struct{} // closed when the stream stops; ends the pings
	causeMu  sync.Mutex
	cause    error // why a ping stopped the stream, if one did

	// pingMu serialises the pings with Close, which takes it to wait out
	// a ping in flight; pingTimer sends the next one.
	pingMu    sync.Mutex
	pingTimer *time.Timer
}

// Dial connects to the first of opts.URLs that accepts a WebSocket
// handshake within opts.DialTimeout, trying them in order. When none does,
// the error is a *DialError naming every URL and its failure. Cancelling
// ctx abandons the remaining URLs.
func Dial(ctx context.Context, opts StreamOptions) (*Stream, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var failed DialError
	for _, raw := range opts.URLs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("telemetry: dial abandoned: %w", err)
		}
		dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
		// gorilla applies only the context's deadline to the handshake, not
		// its cancellation: close the connection when ctx ends mid-handshake,
		// so that a stopping daemon does not wait out DialTimeout.
		var stopClose func() bool
		dialer := websocket.Dialer{ // no Proxy: the instance is local
			HandshakeTimeout: opts.DialTimeout,
			TLSClientConfig:  opts.TLSConfig.Clone(),
			WriteBufferPool:  &writeBuffers,
			NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dial := opts.NetDial
				if dial == nil {
					dial = (&net.Dialer{}).DialContext
				}
				c, err := dial(ctx, network, addr)
				if err == nil {
					// dctx, not ctx: gorilla cancels its own ctx as soon as
					// the handshake returns, successful or not.
					stopClose = context.AfterFunc(dctx, func() { c.Close() })
				}
				return c, err
			},
		}
		conn, resp, err := dialer.DialContext(dctx, raw, opts.Header)
		if stopClose != nil {
			stopClose()
		}
		timedOut := ctx.Err() == nil && (dctx.Err() == context.DeadlineExceeded || isNetTimeout(err))
		cancel()
		if err == nil {
			return newStream(opts, raw, conn), nil
		}
		switch {
		case resp != nil:
			err = fmt.Errorf("WebSocket handshake refused with HTTP %d: %w", resp.StatusCode, err)
		case timedOut:
			err = fmt.Errorf("no connection and handshake within %s: %w", opts.DialTimeout, err)
		}
		failed.Attempts = append(failed.Attempts, DialAttempt{URL: redactURL(raw), Err: err})
		if ctx.Err() != nil {
			return nil, fmt.Errorf("telemetry: dial abandoned: %w", ctx.Err())
		}
	}
	return nil, &failed
}

// writeBuffers lends every stream its write buffer for the length of a
// write: a stream writes a few small commands a minute (auth, pings), so
// a buffer of its own (4 KiB) for every target was memory held for
// nothing.
var writeBuffers sync.Pool

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}

func newStream(opts StreamOptions, rawURL string, conn *websocket.Conn) *Stream {
	var recvNow func() time.Time
	if !isRealClock(opts.Now) {
		recvNow = opts.Now
	}
	s := &Stream{
		opts: opts,
		url:  redactURL(rawURL),
		conn: conn,
		// No Now: Next reads the clock itself and passes the reading to
		// decodeAt, which never reads Decoder.Now.
		dec:     Decoder{MaxInflatedBytes: opts.MaxInflatedBytes, SkipPoses: opts.SkipPoses},
		recvNow: recvNow,
		ctx:     context.Background(),
		done:    make(chan struct{}),

		pongWait: opts.PongWait,
		silence:  opts.SilenceTimeout,
		slack:    opts.PongWait / DeadlineSlackDivisor,
	}
	now := clock.Now()
	s.lastAny, s.lastData = now, now
	conn.SetReadLimit(opts.ReadLimit)
	conn.SetPongHandler(func(string) error {
		s.lastAny = clock.Now()
		s.armDeadline()
		return nil
	})
	conn.SetPingHandler(func(data string) error {
		s.lastAny = clock.Now()
		s.armDeadline()
		// As gorilla's default handler: answer, and leave write failures to
		// the reads and pings that will notice them.
		err := conn.WriteControl(websocket.PongMessage, []byte(data), clock.Deadline(opts.WriteTimeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) && !isNetTimeout(err) {
			return err
		}
		return nil
	})
	s.pingMu.Lock()
	s.pingTimer = time.AfterFunc(opts.PingPeriod, s.ping)
	s.pingMu.Unlock()
	return s
}

// URL is the URL that connected (with any password redacted).
func (s *Stream) URL() string { return s.url }

// Stats returns the frame counters.
func (s *Stream) Stats() StreamStats {
	var st StreamStats
	for k := range s.frames {
		st.Frames[k] = s.frames[k].Load()
	}
	st.Invalid = s.invalid.Load()
	return st
}

// Next reads the next valid frame into f (see Decoder.Decode), answering
// auth_required on the way (the auth_required frame is still returned).
// Invalid frames are counted, passed to OnInvalid and skipped.
//
// Next returns an error when the stream ends: ErrSilent, ErrHeartbeatTimeout,
// ErrFrameTooLarge, ErrAuthRejected, ErrNoAuthToken, ErrStreamClosed, a
// *websocket.CloseError from the server, or ctx's error when ctx ends (a
// blocked read cannot be abandoned without breaking the connection, so a
// cancelled Next ends the stream too). Once it has returned an error it
// returns the same error again. Close must still be called.
func (s *Stream) Next(ctx context.Context, f *Frame) error {
	if s.err != nil {
		return s.err
	}
	s.ctx = ctx
	done := ctx.Done()
	if isClosed(done) {
		return s.fail(ctx.Err())
	}
	s.watch(ctx, done)
	for {
		s.armDeadline()
		msgType, r, err := s.conn.NextReader()
		if err == nil {
			s.msg, err = readMessage(s.msg[:0], r)
		}
		if err != nil {
			return s.fail(s.readError(err))
		}
		s.lastAny = clock.Now()
		received := s.lastAny
		if s.recvNow != nil {
			received = s.recvNow()
		}
		err = s.dec.decodeAt(msgType, s.msg, f, received)
		if cap(s.msg) > maxKeptMessageBuffer {
			s.msg = nil // the frame holds nothing of it: Decode copies what it keeps
		}
		if err != nil {
			s.invalid.Add(1)
			if s.opts.OnInvalid != nil {
				s.opts.OnInvalid(err)
			}
			continue
		}
		s.frames[f.Kind].Add(1)
		if f.Kind.IsData() {
			s.lastData = s.lastAny
		}
		switch f.Kind {
		case KindAuthRequired:
			if err := s.authenticate(ctx); err != nil {
				return s.fail(err)
			}
		case KindAuthenticated:
			s.setSigning(f)
		}
		return nil
	}
}

// isRealClock reports whether now is clock.Now itself (or nil, which
// means it), whose reading Next already takes for the deadlines. A func
// value's code pointer identifies a top-level function; any other clock,
// a closure or a method value, is read on its own. So is any wrapper of
// clock.Now (func() time.Time { return clock.Now() }): it is still
// correct, and just loses the saving of one reading per frame.
func isRealClock(now func() time.Time) bool {
	return now == nil || reflect.ValueOf(now).Pointer() == reflect.ValueOf(clock.Now).Pointer()
}

// minMessageBuffer is the first capacity of a Stream's message buffer,
// enough for the frames of the simulator and the instance (about 400
// bytes); a larger message doubles it, and the stream keeps it up to
// maxKeptMessageBuffer.
const minMessageBuffer = 512

// maxKeptMessageBuffer is the largest message buffer a Stream keeps after
// decoding: a larger one, grown by a rare near-limit frame, is dropped,
// so that one such frame does not pin up to twice ReadLimit (2 MiB by
// default) for every target for the stream's life.
const maxKeptMessageBuffer = 64 << 10

// readMessage appends the rest of r, a message's reader, to dst, growing
// it only when full: leaner than a bytes.Buffer, which checks for room
// before every read. gorilla enforces the read limit, so the message is
// StreamOptions.ReadLimit bytes at most; but dst's capacity may reach
// twice that, since a full dst doubles before the read that returns
// io.EOF (a message of exactly a power of two fills it).
func readMessage(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(minMessageBuffer, cap(dst)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// armDeadline keeps the read deadline at or after the one needed,
// whichever comes first of PongWait after the last sign of life
// (heartbeat) and SilenceTimeout after the last data frame (silent). Both
// only move later, so the armed deadline stands until the needed one
// passes it; it is then set to the heartbeat plus the slack
// (DeadlineSlackDivisor), or the silence if sooner, and most frames set
// nothing. An armed deadline that fires has therefore passed the needed
// one by less than the slack; and it passes the silence deadline only
// when it was set to it, so ErrSilent is on time.
func (s *Stream) armDeadline() {
	heartbeat := s.lastAny.Add(s.pongWait)
	silent := s.lastData.Add(s.silence)
	if !heartbeat.After(s.armed) || !silent.After(s.armed) {
		return // the needed deadline has not passed the armed one; nor has a past one set by watch's callback
	}
	s.armed = heartbeat.Add(s.slack)
	if silent.Before(s.armed) {
		s.armed = silent
	}
	_ = s.conn.SetReadDeadline(s.armed)
	// The context may have ended after watch's callback moved the deadline
	// to the past, which this call just undid. Its Done channel is closed
	// before the callback runs, so either the channel reads closed here,
	// or the callback's deadline comes after this one. A receive, not
	// ctx.Err, which takes the context's mutex: this runs for every frame
	// that moves the deadline.
	if isClosed(s.watchedDone) {
		_ = s.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// isClosed reports whether done, a context's Done channel, is closed,
// without blocking or locking. A nil channel (a context that never ends)
// is never closed.
func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// watch makes ctx's end interrupt a blocked read; done is ctx.Done().
// Registering costs an allocation, so it is done once per context, not
// once per Next. watchedDone is written only here, by the goroutine
// calling Next, under watchMu; that goroutine may read it without the lock.
//
// A new context makes the next armDeadline set the deadline: the callback
// of the one it replaces may have moved it to the past after its Next
// returned (a per-call timeout, cancelled), and armDeadline, which moves
// the deadline only when it must, would otherwise leave it there.
func (s *Stream) watch(ctx context.Context, done <-chan struct{}) {
	if done == s.watchedDone {
		return
	}
	s.armed = time.Time{}
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.unwatch != nil {
		s.unwatch()
		s.unwatch = nil
	}
	s.watchedDone = done
	if done == nil || s.closed.Load() {
		return
	}
	s.unwatch = context.AfterFunc(ctx, func() {
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		// A context Next no longer uses (a per-call timeout cancelled after
		// its Next returned) must not cut the read of a later Next.
		if s.watchedDone == done {
			_ = s.conn.SetReadDeadline(time.Unix(1, 0))
		}
	})
}

func (s *Stream) stopWatching() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	if s.unwatch != nil {
		s.unwatch()
		s.unwatch = nil
	}
}

// readError explains why a read failed.
func (s *Stream) readError(err error) error {
	if s.closed.Load() {
		return ErrStreamClosed
	}
	if cause := s.stopCause(); cause != nil {
		return cause
	}
	if ctxErr := s.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var closeErr *websocket.CloseError
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("telemetry %s: a frame exceeded the read limit of %d bytes (closed with 1009): %w", s.url, s.opts.ReadLimit, ErrFrameTooLarge)
	case isNetTimeout(err):
		if quiet := clock.Since(s.lastData); quiet >= s.opts.SilenceTimeout {
			return fmt.Errorf("telemetry %s: no data frame for %s (SilenceTimeout %s): %w", s.url, quiet.Round(time.Millisecond), s.opts.SilenceTimeout, ErrSilent)
		}
		// The real gap, not PongWait: the deadline's slack lets it run up
		// to PongWait/DeadlineSlackDivisor longer.
		return fmt.Errorf("telemetry %s: nothing received for %s (PongWait %s): %w", s.url, clock.Since(s.lastAny).Round(time.Millisecond), s.pongWait, ErrHeartbeatTimeout)
	case errors.As(err, &closeErr) && closeErr.Code == websocket.ClosePolicyViolation && s.authSent:
		s.opts.Token.Invalidate()
		return fmt.Errorf("telemetry %s: server closed the stream after authenticate (%w): %w", s.url, err, ErrAuthRejected)
	case closeErr != nil:
		return fmt.Errorf("telemetry %s: server closed the stream: %w", s.url, err)
	}
	return fmt.Errorf("telemetry %s: read: %w", s.url, err)
}

// authenticate answers auth_required (docs/instance.md, "Authentication handshake").
func (s *Stream) authenticate(ctx context.Context) error {
	if s.opts.Token == nil {
		return fmt.Errorf("telemetry %s: server sent auth_required: %w (configure the telemetry token)", s.url, ErrNoAuthToken)
	}
	tok, err := s.opts.Token.Token(ctx)
	if err != nil {
		return fmt.Errorf("telemetry %s: server sent auth_required: get token: %w", s.url, err)
	}
	msg, err := json.Marshal(struct {
		Command string `json:"command"`
		Token   string `json:"token"`
	}{"authenticate", tok.Reveal()})
	if err != nil {
		return fmt.Errorf("telemetry %s: encode authenticate: %w", s.url, err)
	}
	s.writeMu.Lock()
	err = s.writeText(msg)
	s.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("telemetry %s: send authenticate: %w", s.url, err)
	}
	s.authSent = true
	return nil
}

// setSigning keeps the key the secure server hands out when it wants
// commands signed.
func (s *Stream) setSigning(f *Frame) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.signKey = nil
	if f.SignatureRequired && f.HMACSecret != "" {
		s.signKey = []byte(f.HMACSecret.Reveal())
	}
}

// RequestSnapshot sends {"command":"get_snapshot"}; the answer arrives
// through Next as a KindSnapshot frame, if the server supports it.
func (s *Stream) RequestSnapshot() error { return s.sendCommand("get_snapshot") }

// sendCommand writes {"command":name}, signed when the server asked for it:
// the HMAC-SHA256, keyed by hmac_secret, of the message without its
// signature, keys sorted, no spaces (docs/instance.md, "Authentication handshake").
func (s *Stream) sendCommand(name string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	msg := []byte(`{"command":"` + name + `"}`)
	if s.signKey != nil {
		ts := clock.Now().Unix() // the instance checks it against its own clock
		unsigned := fmt.Appendf(nil, `{"command":"%s","timestamp":%d}`, name, ts)
		mac := hmac.New(sha256.New, s.signKey)
		mac.Write(unsigned)
		msg = fmt.Appendf(nil, `{"command":"%s","signature":"%x","timestamp":%d}`, name, mac.Sum(nil), ts)
	}
	if err := s.writeText(msg); err != nil {
		return fmt.Errorf("telemetry %s: send %s: %w", s.url, name, err)
	}
	return nil
}

// writeText writes one text frame. The caller holds writeMu.
func (s *Stream) writeText(msg []byte) error {
	if err := s.conn.SetWriteDeadline(clock.Deadline(s.opts.WriteTimeout)); err != nil {
		return err
	}
	return s.conn.WriteMessage(websocket.TextMessage, msg)
}

// ping keeps a quiet connection alive and proves it is: a WebSocket ping
// (answered by any library) and the documented {"command":"ping"}. The
// timer runs it every PingPeriod until the stream stops; a failed ping
// stops the stream. A timer in place of a goroutine per stream: a parked
// goroutine's stack for every target was a large share of a fleet's
// memory, for work done every 25 s.
func (s *Stream) ping() {
	s.pingMu.Lock()
	defer s.pingMu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	err := s.conn.WriteControl(websocket.PingMessage, nil, clock.Deadline(s.opts.WriteTimeout))
	if err != nil {
		err = fmt.Errorf("telemetry %s: send ping: %w", s.url, err)
	} else if !s.opts.DisableCommandPing {
		err = s.sendCommand("ping")
	}
	if err != nil {
		s.stop(err)
		return
	}
	s.pingTimer.Reset(s.opts.PingPeriod)
}

// fail ends the stream from Next with err, which Next returns from now on.
func (s *Stream) fail(err error) error {
	s.err = err
	s.stop(nil)
	return err
}

// stop ends the connection once; cause, if not nil, says why (a failed
// ping), for the read that the closing interrupts.
func (s *Stream) stop(cause error) {
	if cause != nil {
		s.causeMu.Lock()
		if s.cause == nil {
			s.cause = cause
		}
		s.causeMu.Unlock()
	}
	s.stopOnce.Do(func() {
		close(s.done)
		s.pingTimer.Stop()
		s.stopWatching()
		// A polite close frame first; the server may be gone, so briefly.
		_ = s.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), clock.Deadline(min(s.opts.WriteTimeout, time.Second)))
		_ = s.conn.Close()
	})
}

func (s *Stream) stopCause() error {
	s.causeMu.Lock()
	defer s.causeMu.Unlock()
	return s.cause
}

// Close ends the stream and waits for a ping in flight. It may be called
// more than once, and while Next is blocked (Next then returns
// ErrStreamClosed).
func (s *Stream) Close() error {
	s.closed.Store(true)
	s.stop(nil)
	// A ping holding the lock has finished, and may have re-armed the
	// timer after stop disarmed it; one that fires from now on sees done
	// and returns.
	s.pingMu.Lock()
	s.pingTimer.Stop()
	s.pingMu.Unlock()

	return nil
}
