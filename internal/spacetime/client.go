package spacetime

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// Defaults for Options.
const (
	// DefaultTimeout bounds each HTTP attempt (docs/instance.md, "Transport").
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBodyBytes bounds every response body read.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "spacetime-watch"
	// maxRedirects is how many same-host redirects are followed.
	maxRedirects = 3
	// maxBodyExcerpt is how much of an error body a StatusError keeps.
	maxBodyExcerpt = 200
)

// Options configure a Client. Only BaseURL is required.
type Options struct {
	// BaseURL is the instance's API root, such as http://127.0.0.1:8080 or
	// https://example.org/api. Required; http or https with a host.
	BaseURL string
	// Timeout bounds each HTTP attempt, from dial to the last body byte
	// (default 5s). A 401 retry gets its own Timeout.
	Timeout time.Duration
	// Token provides the API token (the JWT) for authenticated endpoints.
	// Nil sends no Authorization header. A source from StatusToken() is bound
	// to this client, even inside FirstOf.
	Token TokenSource
	// PerformanceToken provides the separate /performance token (64 hex
	// characters on the shipped server). Nil means: use Token.
	PerformanceToken TokenSource
	// TLSConfig configures TLS for an https BaseURL (an ingress with a
	// private CA); nil means the system roots. Ignored with HTTPClient.
	// The chain each answer came with is kept for PeerCert.
	TLSConfig *tls.Config
	// HTTPClient replaces the default HTTP/1.1, no-keep-alive client (for
	// tests). Its CheckRedirect is replaced by the client's own policy.
	HTTPClient *http.Client
	// UserAgent is the User-Agent header (default "spacetime-watch").
	UserAgent string
	// MaxBodyBytes bounds every response body (default 1 MiB).
	MaxBodyBytes int64
	// Now is the clock used for token expiry decisions (default clock.Now).
	Now func() time.Time
	// Observe, if set, is called after every HTTP attempt (retries included)
	// with its outcome, for request metrics. It must not block.
	Observe func(Observation)
}

// Observation describes one HTTP attempt, for metrics.
type Observation struct {
	// Method and Endpoint name the request ("GET", "/status"; no query).
	Method, Endpoint string
	// Code is the HTTP status, 0 when no answer came back.
	Code int
	// Duration is from sending the request to reading the last body byte.
	Duration time.Duration
	// Err is the transport or body-read error, if any.
	Err error
	// Authenticated is set when the request carried a token: a 401 then
	// is a refused token, not a deliberate probe without one.
	Authenticated bool
}

// Meta describes the HTTP exchange behind a typed result.
type Meta struct {
	// Endpoint is the path requested, without query.
	Endpoint string
	// Code is the HTTP status code.
	Code int
	// Duration is the last attempt's time from request to last body byte.
	Duration time.Duration
	// Server is the Server header ("GodotTPD" on the shipped server).
	Server string
	// Attempts is 2 when a 401 led to a token refresh and a retry.
	Attempts int
}

// Client talks to one SpaceTime VR instance's HTTP API. It is safe for
// concurrent use. It speaks plain HTTP/1.1 with a fresh connection per
// request (godottpd closes every connection), never sends OPTIONS or HEAD,
// and never follows a redirect to another host.
type Client struct {
	base      *url.URL
	hc        *http.Client
	timeout   time.Duration
	token     TokenSource
	perfToken TokenSource
	userAgent string
	maxBody   int64
	now       func() time.Time
	observe   func(Observation)

	certMu sync.Mutex
	cert   PeerCert // the latest TLS answer's chain (PeerCert)
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	base, err := parseBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("spacetime client: timeout must not be negative, got %s", opts.Timeout)
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("spacetime client: max body bytes must not be negative, got %d", opts.MaxBodyBytes)
	}
	c := &Client{
		base:      base,
		timeout:   cmp.Or(opts.Timeout, DefaultTimeout),
		token:     opts.Token,
		perfToken: opts.PerformanceToken,
		userAgent: cmp.Or(opts.UserAgent, DefaultUserAgent),
		maxBody:   cmp.Or(opts.MaxBodyBytes, DefaultMaxBodyBytes),
		now:       opts.Now,
		observe:   opts.Observe,
	}
	if c.now == nil {
		c.now = clock.Now
	}
	if opts.HTTPClient != nil {
		hc := *opts.HTTPClient
		c.hc = &hc
	} else {
		c.hc = &http.Client{Transport: newTransport(c.timeout, opts.TLSConfig)}
	}
	c.hc.CheckRedirect = sameHostRedirects
	bindTokenSource(c.token, c)
	bindTokenSource(c.perfToken, c)
	return c, nil
}

// BaseURL returns the instance's API root as configured.
func (c *Client) BaseURL() string { return c.base.String() }

// parseBaseURL accepts http(s)://host[:port][/prefix] and nothing else.
func parseBaseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, errors.New("spacetime client: base URL is empty; want e.g. http://127.0.0.1:8080")
	}
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("spacetime client: base URL %q: scheme must be http or https (e.g. http://%s)", raw, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("spacetime client: base URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("spacetime client: base URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("spacetime client: base URL %q: missing host; want e.g. http://127.0.0.1:8080", raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("spacetime client: base URL must not carry credentials; use a token source")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("spacetime client: base URL %q: must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// newTransport is HTTP/1.1 only, without keep-alive (godottpd answers
// "Connection: close" and handles each request on a fresh thread) and
// without transparent gzip (one less header for a picky parser).
func newTransport(timeout time.Duration, tlsConfig *tls.Config) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: timeout, KeepAlive: -1}).DialContext,
		ForceAttemptHTTP2:      false,
		TLSClientConfig:        tlsConfig.Clone(),
		TLSNextProto:           map[string]func(string, *tls.Conn) http.RoundTripper{},
		Protocols:              &protocols,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSHandshakeTimeout:    timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// sameHostRedirects follows at most maxRedirects redirects, and only to the
// same scheme and host: a redirect elsewhere could carry the token away.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("%w: more than %d redirects", ErrRedirectRefused, maxRedirects)
	}
	from := via[0].URL
	if !strings.EqualFold(req.URL.Host, from.Host) || req.URL.Scheme != from.Scheme {
		return fmt.Errorf("%w: from %s://%s to another host %s://%s", ErrRedirectRefused, from.Scheme, from.Host, req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// authMode says which token, if any, a request carries.
type authMode int

const (
	authNone        authMode = iota
	authAPI                  // the JWT (Options.Token)
	authPerformance          // Options.PerformanceToken, else Options.Token
)

// apiCall is one logical request.
type apiCall struct {
	method string
	path   string // may carry a raw query; sent as is (the server does not URL-decode)
	body   []byte // POST body, sent as application/json in one write
	auth   authMode
	// noRetry disables the refresh-and-retry on 401 (raw probes).
	noRetry bool
}

// endpoint is the path without query, for errors and metrics.
func (r apiCall) endpoint() string {
	p, _, _ := strings.Cut(r.path, "?")
	return p
}

// apiResponse is a fully read answer.
type apiResponse struct {
	code     int
	header   http.Header
	body     []byte
	duration time.Duration
	attempts int
	// token is the token sent last (zero for authNone), to judge expiry.
	token Secret
	// sameAfterRefresh is true when a 401 led to a refresh that yielded the
	// very token refused.
	sameAfterRefresh bool
}

func (r *apiResponse) meta(endpoint string) Meta {
	return Meta{Endpoint: endpoint, Code: r.code, Duration: r.duration, Server: r.header.Get("Server"), Attempts: r.attempts}
}

// do sends r and reads the answer. On a 401 with a token it invalidates the
// source and, if a different token comes back, retries once. It returns an
// error only when no complete answer was read; status codes are left to the
// caller (see check).
func (c *Client) do(ctx context.Context, r apiCall) (*apiResponse, error) {
	src := c.source(r.auth)
	var tok Secret
	if src != nil {
		var err error
		if tok, err = src.Token(ctx); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w", r.method, r.endpoint(), c.tokenName(r.auth), err)
		}
	}
	resp, err := c.attempt(ctx, r, tok)
	if err != nil {
		return nil, err
	}
	resp.attempts, resp.token = 1, tok
	if resp.code != http.StatusUnauthorized || src == nil || r.noRetry {
		return resp, nil
	}
	if r.auth == authPerformance && c.perfToken == nil {
		// The shipped /performance refuses the JWT whatever its state: do
		// not mark the API token rejected (nor refetch it) for that.
		return resp, nil
	}
	src.Invalidate()
	fresh, err := src.Token(ctx)
	if err != nil || fresh == tok {
		// Nothing new to try: the caller judges the token it sent.
		resp.sameAfterRefresh = err == nil
		return resp, nil
	}
	retry, err := c.attempt(ctx, r, fresh)
	if err != nil {
		return nil, err
	}
	retry.attempts, retry.token = 2, fresh
	return retry, nil
}

// source returns the token source for mode, or nil.
func (c *Client) source(mode authMode) TokenSource {
	switch mode {
	case authAPI:
		return c.token
	case authPerformance:
		if c.perfToken != nil {
			return c.perfToken
		}
		return c.token
	}
	return nil
}

func (c *Client) tokenName(mode authMode) string {
	if mode == authPerformance && c.perfToken != nil {
		return "performance token"
	}
	return "API token"
}

// attempt performs one HTTP exchange under its own timeout.
func (c *Client) attempt(ctx context.Context, r apiCall, tok Secret) (*apiResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, r, tok)
	if err != nil {
		return nil, err
	}
	start := clock.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.noteExpiredCert(err)
		err = classifyTransport(r.method, r.endpoint(), c.timeout, ctx, err)
		c.record(r, 0, clock.Since(start), err)
		return nil, err
	}
	c.notePeerCert(resp.TLS)
	body, err := c.readBody(ctx, r, resp)
	d := clock.Since(start)
	if err != nil {
		c.record(r, resp.StatusCode, d, err)
		return nil, err
	}
	c.record(r, resp.StatusCode, d, nil)
	return &apiResponse{code: resp.StatusCode, header: resp.Header, body: body, duration: d}, nil
}

func (c *Client) record(r apiCall, code int, d time.Duration, err error) {
	if c.observe != nil {
		c.observe(Observation{Method: r.method, Endpoint: r.endpoint(), Code: code, Duration: d, Err: err, Authenticated: r.auth != authNone})
	}
}

func (c *Client) newRequest(ctx context.Context, r apiCall, tok Secret) (*http.Request, error) {
	u, err := url.Parse(c.base.String() + r.path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: bad path: %w", r.method, r.endpoint(), err)
	}
	var body io.Reader = http.NoBody
	if r.body != nil {
		// A bytes.Reader gives the request a ContentLength, so headers and
		// body leave in one write: godottpd parses only its first read.
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.endpoint(), err)
	}
	req.Close = true
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		// Exactly this value: godottpd parses JSON bodies only when the
		// header is exactly "application/json", without charset.
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	}
	return req, nil
}

// readBody reads at most maxBody bytes and closes the body.
func (c *Client) readBody(ctx context.Context, r apiCall, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if resp.ContentLength > c.maxBody {
		return nil, fmt.Errorf("%s %s: HTTP %d with Content-Length %d, over the %d-byte limit: %w",
			r.method, r.endpoint(), resp.StatusCode, resp.ContentLength, c.maxBody, ErrBodyTooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if int64(len(body)) > c.maxBody {
		return nil, fmt.Errorf("%s %s: HTTP %d body over the %d-byte limit: %w",
			r.method, r.endpoint(), resp.StatusCode, c.maxBody, ErrBodyTooLarge)
	}
	if err != nil {
		return nil, classifyTransport(r.method, r.endpoint(), c.timeout, ctx, err)
	}
	return body, nil
}

// unwrapURLError drops *url.Error's "Get "http://…":" prefix: the errors
// built here name method and endpoint already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
