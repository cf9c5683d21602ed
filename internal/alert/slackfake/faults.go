package slackfake

import (
	"net/http"
	"strconv"
	"time"
)

// Fault is how the fake answers one request instead of serving it. Faults
// are queued per endpoint and each is used by exactly one request, in order.
type Fault struct {
	// Code is the HTTP status. 0 means 200, the code the Web API sends its
	// ok:false errors with.
	Code int
	// Error is Slack's error word: the webhook's plain-text body, the Web
	// API's "error" field (rendered as {"ok":false,"error":…}).
	Error string
	// Body, when set, is sent as it is instead of the rendering of Error.
	Body string
	// Header is added to the answer (Retry-After, …).
	Header http.Header
	// Reset closes the connection without an answer (a TCP reset over
	// loopback, an ECONNRESET error from Transport).
	Reset bool
	// Hang holds the request until the client gives up (its context ends)
	// or the fake is closed: a timeout.
	Hang bool
}

// RateLimited is a 429 with Retry-After: d (whole seconds, rounded up) and
// Slack's word for it (webhook "rate_limited", Web API "ratelimited").
func RateLimited(d time.Duration) Fault {
	return Fault{Code: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {retryAfterSeconds(d)}}}
}

// ServerError is a 5xx (or any code) whose body is not Slack's JSON, as
// Slack's edge answers when it is down.
func ServerError(code int) Fault {
	return Fault{Code: code, Body: "<html><body><h1>" + strconv.Itoa(code) + " " + http.StatusText(code) + "</h1></body></html>"}
}

// Reset closes the connection without an answer.
func Reset() Fault { return Fault{Reset: true} }

// Hang never answers: the client's timeout or context ends the request.
func Hang() Fault { return Fault{Hang: true} }

// WebhookError is an incoming webhook's error: an HTTP code and Slack's
// plain-text word (403 invalid_token, 404 no_service, 404 channel_not_found,
// 410 channel_is_archived, 400 invalid_payload, …).
func WebhookError(code int, word string) Fault { return Fault{Code: code, Error: word} }

// APIError is a Web API error: HTTP 200 with {"ok":false,"error":word}
// (not_in_channel, invalid_auth, channel_not_found, …).
func APIError(word string) Fault { return Fault{Error: word} }

// Inject queues faults for ep: the next len(faults) requests to ep get them,
// in order; later requests are served normally.
func (s *Server) Inject(ep Endpoint, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[ep] = append(s.faults[ep], faults...)
}

// FailNext makes the next n requests to ep answer code with body and
// header as they are (an empty body gets Slack's word for the code).
func (s *Server) FailNext(ep Endpoint, n, code int, body string, header http.Header) {
	f := Fault{Code: code, Body: body, Header: header}
	faults := make([]Fault, n)
	for i := range faults {
		faults[i] = f
	}
	s.Inject(ep, faults...)
}

// PendingFaults is how many injected faults ep has not used yet.
func (s *Server) PendingFaults(ep Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.faults[ep])
}

// nextFault pops ep's next fault; the caller holds s.mu.
func (s *Server) nextFault(ep Endpoint) (Fault, bool) {
	q := s.faults[ep]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	s.faults[ep] = q[1:]
	return f, true
}

func retryAfterSeconds(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return strconv.FormatInt(secs, 10)
}
