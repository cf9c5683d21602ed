package spacetime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The typed calls. Each makes one request (two when a 401 leads to a token
// refresh), never retries otherwise, and returns one of the errors of
// errors.go for anything but a decodable 2xx answer.

// Health calls GET /health (no auth). On the shipped server it fails with
// ErrEndpointAbsent: record that as a capability gap, not an outage.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	m, err := c.getJSON(ctx, apiCall{method: http.MethodGet, path: "/health"}, &h)
	h.Meta = m
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Status calls GET /status (no auth). It returns a *LegacyBridgeError
// (errors.Is ErrLegacyBridge) when the deprecated GodotBridge answers instead.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	r := apiCall{method: http.MethodGet, path: "/status"}
	resp, err := c.fetch(ctx, r)
	if err != nil {
		return nil, err
	}
	var legacy legacyStatus
	if err := decodeAPIBody(r, resp.body, &legacy); err != nil {
		return nil, err
	}
	if legacy.isLegacy() {
		return nil, &LegacyBridgeError{Endpoint: r.endpoint(), OverallReady: legacy.OverallReady}
	}
	var s Status
	if err := decodeAPIBody(r, resp.body, &s); err != nil {
		return nil, err
	}
	s.Meta = resp.meta(r.endpoint())
	return &s, nil
}

// Performance calls GET /performance with Options.PerformanceToken (or
// Options.Token when unset). The shipped server checks a separate token
// there: with the JWT it answers 401, reported as an *UnauthorizedError
// whose message says where that token comes from.
func (c *Client) Performance(ctx context.Context) (*Performance, error) {
	var p Performance
	m, err := c.getJSON(ctx, apiCall{method: http.MethodGet, path: "/performance", auth: authPerformance}, &p)
	p.Meta = m
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Scene calls GET /scene (JWT; shares a 30/min bucket with operators, so
// poll it at most once or twice a minute).
func (c *Client) Scene(ctx context.Context) (*Scene, error) {
	var s Scene
	m, err := c.getJSON(ctx, apiCall{method: http.MethodGet, path: "/scene", auth: authAPI}, &s)
	s.Meta = m
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// SceneHistory calls GET /scene/history (JWT; 100/min bucket).
func (c *Client) SceneHistory(ctx context.Context) (*SceneHistory, error) {
	var h SceneHistory
	m, err := c.getJSON(ctx, apiCall{method: http.MethodGet, path: "/scene/history", auth: authAPI}, &h)
	h.Meta = m
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Scenes calls GET /scenes (JWT; 60/min bucket).
func (c *Client) Scenes(ctx context.Context, q ScenesQuery) (*Scenes, error) {
	path, err := q.path()
	if err != nil {
		return nil, err
	}
	var s Scenes
	m, err := c.getJSON(ctx, apiCall{method: http.MethodGet, path: path, auth: authAPI}, &s)
	s.Meta = m
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// path builds /scenes?dir=…&include_addons=true, unescaped: the server
// splits the query on '&' and '=' and never URL-decodes.
func (q ScenesQuery) path() (string, error) {
	var params []string
	if q.Dir != "" {
		if !strings.HasPrefix(q.Dir, "res://") {
			return "", fmt.Errorf("GET /scenes: dir %q must start with res://", q.Dir)
		}
		if strings.ContainsAny(q.Dir, "&=#? \t\r\n%") {
			return "", fmt.Errorf("GET /scenes: dir %q must not contain '&', '=', '#', '?', '%%' or spaces (the server does not URL-decode)", q.Dir)
		}
		params = append(params, "dir="+q.Dir)
	}
	if q.IncludeAddons {
		params = append(params, "include_addons=true")
	}
	if len(params) == 0 {
		return "/scenes", nil
	}
	return "/scenes?" + strings.Join(params, "&"), nil
}

// WhitelistProbePrefix starts the scene path ProbeWhitelist sends; the rest
// is random, then ".tscn". No instance whitelists or ships such a file.
const WhitelistProbePrefix = "res://spacetime-watch/whitelist-probe-"

// ProbeWhitelist checks that the scene whitelist is enforced without ever
// loading anything: it POSTs /scene with a path that is neither
// whitelisted nor present. 403 (refused, as it must be), a JSON 404 (passed
// the whitelist, then not found) and 200 are results; anything else is an
// error (401, 429, 400, a plain-text 404 when the scene router is missing).
// scenePath is the scene asked for; empty picks a random path under
// WhitelistProbePrefix. The caller must keep it outside every whitelist and
// absent from the instance.
func (c *Client) ProbeWhitelist(ctx context.Context, scenePath string) (*WhitelistProbe, error) {
	if scenePath == "" {
		var nonce [8]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, fmt.Errorf("POST /scene: whitelist probe name: %w", err)
		}
		scenePath = WhitelistProbePrefix + hex.EncodeToString(nonce[:]) + ".tscn"
	}
	// Always send scene_path: the shipped server rejects {} with 400, and
	// without the key it would default to loading the main scene.
	body, err := json.Marshal(struct {
		ScenePath string `json:"scene_path"`
	}{scenePath})
	if err != nil {
		return nil, fmt.Errorf("POST /scene: %w", err)
	}
	r := apiCall{method: http.MethodPost, path: "/scene", body: body, auth: authAPI}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.code == http.StatusOK, resp.code == http.StatusForbidden,
		resp.code == http.StatusNotFound && !absent404(resp.body):
	default:
		if err := c.check(r, resp); err != nil {
			return nil, err
		}
		return nil, &StatusError{Method: r.method, Endpoint: r.endpoint(), Code: resp.code, Body: bodyExcerpt(resp.body)}
	}
	var eb errorBody
	if err := decodeAPIBody(r, resp.body, &eb); err != nil {
		return nil, err
	}
	return &WhitelistProbe{Path: scenePath, Code: resp.code, Error: eb.Error, Message: eb.Message, Meta: resp.meta(r.endpoint())}, nil
}

// RawResponse is the outcome of Get and GetUnauthenticated: whatever HTTP
// status came back, undecoded.
type RawResponse struct {
	// Endpoint is the path requested, without query.
	Endpoint string
	// Code is the HTTP status.
	Code int
	// Duration is from request to last body byte.
	Duration time.Duration
	// Server is the Server header.
	Server string
	// RateLimited is set for a 429, with the delay from Retry-After or the body.
	RateLimited *RateLimitedError
	// Absent is true for a 404 meaning "no such endpoint" (see ErrEndpointAbsent).
	Absent bool
	// Body is the response body (at most Options.MaxBodyBytes).
	Body []byte
}

// Get sends one GET with the API token and returns whatever came back,
// without refreshing the token on a 401 and without retrying anything: for
// probes that count status codes, such as the rate-limit check. path starts
// with "/" and may carry a query, sent as is. The error is non-nil only
// when no answer was read (UnreachableError, ErrBodyTooLarge, no token).
func (c *Client) Get(ctx context.Context, path string) (*RawResponse, error) {
	return c.raw(ctx, path, authAPI)
}

// GetUnauthenticated is Get without any Authorization header: the auth
// check expects 401 from protected endpoints.
func (c *Client) GetUnauthenticated(ctx context.Context, path string) (*RawResponse, error) {
	return c.raw(ctx, path, authNone)
}

func (c *Client) raw(ctx context.Context, path string, mode authMode) (*RawResponse, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("GET %q: path must start with /", path)
	}
	r := apiCall{method: http.MethodGet, path: path, auth: mode, noRetry: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	out := &RawResponse{
		Endpoint: r.endpoint(), Code: resp.code, Duration: resp.duration,
		Server: resp.header.Get("Server"), Body: resp.body,
	}
	switch resp.code {
	case http.StatusTooManyRequests:
		out.RateLimited = c.rateLimited(r, resp)
	case http.StatusNotFound:
		out.Absent = absent404(resp.body)
	}
	return out, nil
}

// fetch performs r and turns any non-2xx answer into an error.
func (c *Client) fetch(ctx context.Context, r apiCall) (*apiResponse, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := c.check(r, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// getJSON performs r and decodes a 2xx body into v.
func (c *Client) getJSON(ctx context.Context, r apiCall, v any) (Meta, error) {
	resp, err := c.fetch(ctx, r)
	if err != nil {
		return Meta{Endpoint: r.endpoint()}, err
	}
	return resp.meta(r.endpoint()), decodeAPIBody(r, resp.body, v)
}

// check maps a status code to nil (2xx) or to the matching error.
func (c *Client) check(r apiCall, resp *apiResponse) error {
	switch code := resp.code; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusUnauthorized:
		return c.unauthorized(r, resp)
	case code == http.StatusTooManyRequests:
		return c.rateLimited(r, resp)
	case code == http.StatusNotFound && absent404(resp.body):
		return &StatusError{Method: r.method, Endpoint: r.endpoint(), Code: code, Body: bodyExcerpt(resp.body), Absent: true, LegacyBridge: legacy404(resp.body)}
	default:
		return &StatusError{Method: r.method, Endpoint: r.endpoint(), Code: code, Body: bodyExcerpt(resp.body)}
	}
}

// unauthorized builds the error of a final 401. The token sent last is
// expired when its exp claim has passed, or when the instance refused a
// token its own /status hands out again: nothing renews an expired JWT, so
// the instance must be restarted. Any other 401 means a wrong token.
func (c *Client) unauthorized(r apiCall, resp *apiResponse) *UnauthorizedError {
	e := &UnauthorizedError{
		Method: r.method, Endpoint: r.endpoint(),
		NoToken:                    c.source(r.auth) == nil,
		Performance:                r.auth == authPerformance,
		PerformanceTokenConfigured: r.auth == authPerformance && c.perfToken != nil,
		Refreshed:                  resp.attempts > 1,
	}
	_, exp, ok := TokenExpiry(resp.token)
	if ok {
		e.ExpiredAt = exp
	}
	switch {
	case ok && !c.now().Before(exp):
		e.Expired = true
	case r.auth == authAPI && resp.sameAfterRefresh && issuedByInstance(c.source(r.auth), resp.token):
		// The instance refuses the token it still hands out: only expiry
		// does that, whatever the daemon's clock says. (Not on
		// /performance, which refuses the JWT anyway.)
		e.Expired, e.ByInstance = true, true
	default:
		e.ExpiredAt = time.Time{}
	}
	return e
}

// maxRetryAfter caps absurd delays (and keeps the float conversion in range).
const maxRetryAfter = 24 * time.Hour

// rateLimited reads the delay of a 429 from Retry-After (seconds or an HTTP
// date) if sent, else from the body's retry_after_seconds (a float: the
// shipped server sends no header).
func (c *Client) rateLimited(r apiCall, resp *apiResponse) *RateLimitedError {
	e := &RateLimitedError{Method: r.method, Endpoint: r.endpoint()}
	var eb errorBody
	if json.Unmarshal(resp.body, &eb) == nil {
		e.Message = eb.Message
	}
	if h := strings.TrimSpace(resp.header.Get("Retry-After")); h != "" {
		if secs, err := strconv.ParseFloat(h, 64); err == nil && secs >= 0 {
			e.RetryAfter, e.FromHeader = retrySeconds(secs), true
		} else if t, err := http.ParseTime(h); err == nil {
			e.RetryAfter, e.FromHeader = max(0, min(t.Sub(c.now()), maxRetryAfter)), true
		}
	}
	if !e.FromHeader && eb.RetryAfterSeconds != nil && *eb.RetryAfterSeconds > 0 {
		e.RetryAfter = retrySeconds(*eb.RetryAfterSeconds)
	}
	return e
}

func retrySeconds(s float64) time.Duration {
	if s >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(s * float64(time.Second))
}

// absent404 reports whether a 404 body means "no such endpoint": anything
// that is not a JSON object (godottpd's plain-text "Not found"), or the
// "Endpoint not found" JSON of the legacy bridge and of the checklist
// contract. A JSON 404 such as "Scene file not found" is a real answer.
func absent404(body []byte) bool {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return true
	}
	return strings.HasPrefix(eb.Message, "Endpoint not found")
}

// legacy404 reports the legacy bridge's JSON 404, which adds status_code.
func legacy404(body []byte) bool {
	var eb errorBody
	return json.Unmarshal(body, &eb) == nil && eb.StatusCode != nil && strings.HasPrefix(eb.Message, "Endpoint not found")
}

var utf8BOM = []byte("\xef\xbb\xbf")

// decodeAPIBody decodes body into v whatever the Content-Type said (the
// shipped server labels JSON text/html), naming the field on a type error.
func decodeAPIBody(r apiCall, body []byte, v any) error {
	body = bytes.TrimPrefix(body, utf8BOM)
	if !json.Valid(body) {
		return &DecodeError{Method: r.method, Endpoint: r.endpoint(), Err: fmt.Errorf("%w: body %q", ErrNotJSON, bodyExcerpt(body))}
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &DecodeError{Method: r.method, Endpoint: r.endpoint(), Field: te.Field, Err: fmt.Errorf("want %s, got JSON %s", typeName(te), te.Value)}
		}
		return &DecodeError{Method: r.method, Endpoint: r.endpoint(), Err: err}
	}
	return nil
}

func typeName(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "another type"
	}
	return te.Type.String()
}

// bodyExcerpt returns the start of body as valid, trimmed UTF-8, for errors.
func bodyExcerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > maxBodyExcerpt {
		s = s[:maxBodyExcerpt]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.ToValidUTF8(s, "?")
}
