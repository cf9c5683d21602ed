package spacetime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// Sentinel errors, for errors.Is. The typed errors below carry the details
// (method, endpoint, HTTP code); none of them ever carries a token.
var (
	// ErrEndpointAbsent means the server answered 404 with a body that is not
	// the endpoint's JSON (godottpd's plain-text "Not found", or the legacy
	// bridge's "Endpoint not found" JSON): the endpoint does not exist on this
	// build. It is a capability gap, not an outage. Returned as a *StatusError.
	ErrEndpointAbsent = errors.New("endpoint absent")

	// ErrNotJSON means a 2xx body was not JSON at all. Returned as a *DecodeError.
	ErrNotJSON = errors.New("response is not JSON")

	// ErrBodyTooLarge means the response body exceeded Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("response body too large")

	// ErrRedirectRefused means the server redirected to another host (or
	// scheme), or redirected too often; the client does not follow.
	ErrRedirectRefused = errors.New("redirect refused")

	// ErrLegacyBridge means /status answered in the shape of the deprecated
	// GodotBridge (debug_adapter, language_server, overall_ready) rather than
	// HttpApiServer's: another server holds the API port (docs/instance.md,
	// "Legacy bridge").
	ErrLegacyBridge = errors.New("legacy GodotBridge answered instead of HttpApiServer")

	// ErrTokenUnavailable means a token source could not produce a token
	// (file missing or empty, variable unset, /status without jwt_token).
	ErrTokenUnavailable = errors.New("token unavailable")
)

// StatusError is a non-2xx answer that no more specific error describes.
// When Absent is true, errors.Is(err, ErrEndpointAbsent) holds.
type StatusError struct {
	// Method and Endpoint name the request ("GET", "/scene").
	Method, Endpoint string
	// Code is the HTTP status code.
	Code int
	// Body is the start of the response body (at most 200 bytes), for logs.
	Body string
	// Absent means the 404 said "no such endpoint" rather than "no such thing".
	Absent bool
	// LegacyBridge means the 404 was in the legacy GodotBridge's JSON format.
	LegacyBridge bool
}

// Error names the request, the code and, for an absent endpoint, what it means.
func (e *StatusError) Error() string {
	switch {
	case e.Absent && e.LegacyBridge:
		return fmt.Sprintf("%s %s: endpoint absent (HTTP %d in the legacy GodotBridge format: another server holds the API port)", e.Method, e.Endpoint, e.Code)
	case e.Absent:
		return fmt.Sprintf("%s %s: endpoint absent (HTTP %d %q): this build does not serve it", e.Method, e.Endpoint, e.Code, e.Body)
	case e.Body != "":
		return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Endpoint, e.Code, e.Body)
	default:
		return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Endpoint, e.Code)
	}
}

// Is reports ErrEndpointAbsent for an absent endpoint.
func (e *StatusError) Is(target error) bool { return target == ErrEndpointAbsent && e.Absent }

// RateLimitedError is a 429. The shipped server sends no Retry-After header,
// only a JSON body with a float retry_after_seconds; the documented contract
// sends the header. Treat it as "skip this cycle".
type RateLimitedError struct {
	// Method and Endpoint name the request.
	Method, Endpoint string
	// RetryAfter is how long to wait; 0 when the server said nothing usable.
	RetryAfter time.Duration
	// FromHeader is true when RetryAfter came from a Retry-After header,
	// false when it came from the body (or from nowhere).
	FromHeader bool
	// Message is the body's message, if any.
	Message string
}

// Error names the request and the delay, and where the delay came from.
func (e *RateLimitedError) Error() string {
	src := "from the body"
	if e.FromHeader {
		src = "from Retry-After"
	}
	if e.RetryAfter <= 0 {
		return fmt.Sprintf("%s %s: rate limited (HTTP 429, no retry delay given)", e.Method, e.Endpoint)
	}
	return fmt.Sprintf("%s %s: rate limited (HTTP 429), retry after %s (%s)", e.Method, e.Endpoint, e.RetryAfter, src)
}

// performanceTokenHint is appended to a /performance 401 that was sent
// without a dedicated token (docs/instance.md, "Performance token").
const performanceTokenHint = "the /performance endpoint uses its own token (printed by the instance as `[SecurityOptimized] API token generated:`)"

// UnauthorizedError is a 401 that survived one token refresh. Expired tells
// "the token's exp has passed: the instance must be restarted" (nothing
// renews the JWT) from "the token was rejected" (wrong or stale token).
type UnauthorizedError struct {
	// Method and Endpoint name the request.
	Method, Endpoint string
	// Expired is true when the token sent last has an exp claim in the
	// past, or when the instance refused the token its /status hands out
	// (ByInstance).
	Expired bool
	// ExpiredAt is the token's exp claim when Expired and readable.
	ExpiredAt time.Time
	// ByInstance is true when expiry was inferred from the instance refusing
	// its own /status token while the exp claim had not passed by the
	// daemon's clock.
	ByInstance bool
	// NoToken is true when no token source is configured for the endpoint.
	NoToken bool
	// Performance is true for /performance, which checks a separate token.
	Performance bool
	// PerformanceTokenConfigured is true when a dedicated /performance token
	// source was used.
	PerformanceTokenConfigured bool
	// Refreshed is true when the token was refreshed and the retry also got 401.
	Refreshed bool
}

// Error says whether the token expired (restart the instance) or was rejected; it never contains the token.
func (e *UnauthorizedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP 401: ", e.Method, e.Endpoint)
	switch {
	case e.NoToken:
		b.WriteString("no token configured")
	case e.Expired && e.ByInstance:
		b.WriteString("the instance refuses the token its own /status hands out (expired): the instance must be restarted (nothing renews its token)")
	case e.Expired:
		fmt.Fprintf(&b, "token expired at %s: the instance must be restarted (nothing renews its token)", e.ExpiredAt.UTC().Format(time.RFC3339))
	case e.Refreshed:
		b.WriteString("token rejected, also after a refresh (wrong token?)")
	default:
		b.WriteString("token rejected (wrong token?)")
	}
	if e.Performance {
		if e.PerformanceTokenConfigured {
			b.WriteString("; the /performance token changes at each instance start (`[SecurityOptimized] API token generated:`)")
		} else {
			b.WriteString("; " + performanceTokenHint)
		}
	}
	return b.String()
}

// UnreachableKind says why no HTTP answer came back.
type UnreachableKind int

const (
	// UnreachableOther is any other transport failure (reset, EOF, DNS, TLS).
	UnreachableOther UnreachableKind = iota
	// UnreachableRefused: connection refused, nothing listens (instance down,
	// or its API disabled).
	UnreachableRefused
	// UnreachableTimeout: no answer within the timeout (engine stalled).
	UnreachableTimeout
)

// String names the kind for logs and metric labels.
func (k UnreachableKind) String() string {
	switch k {
	case UnreachableRefused:
		return "refused"
	case UnreachableTimeout:
		return "timeout"
	default:
		return "other"
	}
}

// UnreachableError means no HTTP answer came back. Use IsConnRefused and
// IsTimeout to tell "instance down" from "engine stalled".
type UnreachableError struct {
	// Method and Endpoint name the request.
	Method, Endpoint string
	// Kind classifies the failure.
	Kind UnreachableKind
	// Timeout is the per-request timeout that applied.
	Timeout time.Duration
	// Err is the underlying transport error.
	Err error
}

// Error says "instance down" for refused connections and "engine stalled" for timeouts.
func (e *UnreachableError) Error() string {
	switch e.Kind {
	case UnreachableRefused:
		return fmt.Sprintf("%s %s: connection refused (instance down or its HTTP API disabled): %v", e.Method, e.Endpoint, e.Err)
	case UnreachableTimeout:
		return fmt.Sprintf("%s %s: no answer within %s (engine stalled?): %v", e.Method, e.Endpoint, e.Timeout, e.Err)
	default:
		return fmt.Sprintf("%s %s: %v", e.Method, e.Endpoint, e.Err)
	}
}

// Unwrap returns the transport error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// IsConnRefused reports whether err is an UnreachableError of kind refused.
func IsConnRefused(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u) && u.Kind == UnreachableRefused
}

// IsTimeout reports whether err is an UnreachableError of kind timeout.
func IsTimeout(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u) && u.Kind == UnreachableTimeout
}

// DecodeError is a 2xx body that could not be decoded. errors.Is(err,
// ErrNotJSON) holds when the body was not JSON at all.
type DecodeError struct {
	// Method and Endpoint name the request.
	Method, Endpoint string
	// Field is the JSON path of the offending field ("engine.fps"), if known.
	Field string
	// Err is the decoder's error.
	Err error
}

// Error names the request and the offending field.
func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s %s: decoding field %q: %v", e.Method, e.Endpoint, e.Field, e.Err)
	}
	return fmt.Sprintf("%s %s: decoding body: %v", e.Method, e.Endpoint, e.Err)
}

// Unwrap returns the decoder error (ErrNotJSON for a non-JSON body).
func (e *DecodeError) Unwrap() error { return e.Err }

// classifyTransport turns an error from http.Client.Do into an
// UnreachableError, or returns it as is when it is the caller's own
// cancellation or a refused redirect.
func classifyTransport(method, endpoint string, timeout time.Duration, parent context.Context, err error) error {
	switch {
	case errors.Is(err, ErrRedirectRefused):
		return fmt.Errorf("%s %s: %w", method, endpoint, unwrapURLError(err))
	case errors.Is(parent.Err(), context.Canceled):
		return fmt.Errorf("%s %s: %w", method, endpoint, context.Canceled)
	}
	kind := UnreachableOther
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = UnreachableRefused
	case errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		kind = UnreachableTimeout
	}
	return &UnreachableError{Method: method, Endpoint: endpoint, Kind: kind, Timeout: timeout, Err: unwrapURLError(err)}
}

// isNetTimeout reports a timeout anywhere in err's chain: a net.Error's,
// or a socket deadline that passed (gorilla hides os.ErrDeadlineExceeded
// behind its own type, which keeps only the Timeout method).
func isNetTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
