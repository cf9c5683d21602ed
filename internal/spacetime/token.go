package spacetime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// TokenSource provides a bearer token. The client calls Token before each
// authenticated request, and Invalidate after a 401, then Token once more:
// if that yields a different token, the request is retried once with it.
// Implementations must be safe for concurrent use; errors must never
// contain the token.
type TokenSource interface {
	// Token returns the current token.
	Token(ctx context.Context) (Secret, error)
	// Invalidate says the last token was rejected: the next Token call
	// should look again (re-read the file, refetch /status).
	Invalidate()
}

// binder is implemented by sources that fetch through the client they are
// configured on (StatusToken, and FirstOf when it holds one).
type binder interface{ bind(*Client) }

// instanceIssued is implemented by sources whose tokens the instance itself
// hands out (StatusToken): when the instance refuses such a token and hands
// out the same one again, it has expired (docs/instance.md, "Tokens"), even if
// the daemon's clock does not say so yet.
type instanceIssued interface{ issuedByInstance(Secret) bool }

func issuedByInstance(src TokenSource, tok Secret) bool {
	ii, ok := src.(instanceIssued)
	return ok && tok != "" && ii.issuedByInstance(tok)
}

func bindTokenSource(src TokenSource, c *Client) {
	if b, ok := src.(binder); ok {
		b.bind(c)
	}
}

// StaticToken returns a source that always yields tok (for tests, and for
// tokens the daemon's config already resolved). Invalidate does nothing.
func StaticToken(tok Secret) TokenSource { return staticToken(tok) }

type staticToken Secret

func (s staticToken) Token(context.Context) (Secret, error) {
	if s == "" {
		return "", fmt.Errorf("%w: static token is empty", ErrTokenUnavailable)
	}
	secret.Register(string(s))
	return Secret(s), nil
}

func (staticToken) Invalidate() {}

// EnvToken returns a source that reads the environment variable name at
// every call, trimmed of surrounding whitespace. Unset or empty is an error
// naming the variable (never its value).
func EnvToken(name string) TokenSource { return envToken(name) }

type envToken string

func (e envToken) Token(context.Context) (Secret, error) {
	v, ok := os.LookupEnv(string(e))
	switch {
	case !ok:
		return "", fmt.Errorf("%w: environment variable %s is not set", ErrTokenUnavailable, string(e))
	case strings.TrimSpace(v) == "":
		return "", fmt.Errorf("%w: environment variable %s is empty", ErrTokenUnavailable, string(e))
	}
	secret.Register(strings.TrimSpace(v))
	return Secret(strings.TrimSpace(v)), nil
}

func (envToken) Invalidate() {}

// maxTokenFileBytes bounds a token file read (a JWT is well under 1 KiB).
const maxTokenFileBytes = 64 << 10

// FileToken returns a source that reads the token from a file, trimmed of
// surrounding whitespace. It re-reads the file when its identity (an
// atomic replace, a Kubernetes secret update), modification time or size
// changes, and after Invalidate. A missing, unreadable or empty file is an
// error naming the path.
func FileToken(path string) TokenSource { return &fileToken{path: path} }

type fileToken struct {
	path string

	mu    sync.Mutex
	info  fs.FileInfo // of the file the cached token came from
	tok   Secret
	stale bool
}

func (f *fileToken) Token(context.Context) (Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err != nil {
		f.info, f.tok = nil, ""
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: token file %s does not exist", ErrTokenUnavailable, f.path)
		}
		return "", fmt.Errorf("%w: token file: %w", ErrTokenUnavailable, err)
	}
	if !f.stale && f.info != nil && os.SameFile(f.info, info) &&
		f.info.ModTime().Equal(info.ModTime()) && f.info.Size() == info.Size() {
		return f.tok, nil
	}
	if info.IsDir() {
		return "", fmt.Errorf("%w: token file %s is a directory", ErrTokenUnavailable, f.path)
	}
	tok, err := readTokenFile(f.path)
	if err != nil {
		f.info, f.tok = nil, ""
		return "", err
	}
	f.info, f.tok, f.stale = info, tok, false
	return tok, nil
}

func readTokenFile(path string) (Secret, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: token file: %w", ErrTokenUnavailable, err)
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, maxTokenFileBytes+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: token file: %w", ErrTokenUnavailable, err)
	case len(b) > maxTokenFileBytes:
		return "", fmt.Errorf("%w: token file %s is larger than %d bytes: not a token", ErrTokenUnavailable, path, maxTokenFileBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%w: token file %s is empty", ErrTokenUnavailable, path)
	}
	secret.Register(tok)
	return Secret(tok), nil
}

func (f *fileToken) Invalidate() {
	f.mu.Lock()
	f.stale = true
	f.mu.Unlock()
}

// StatusToken returns a source that takes the token from GET /status's
// jwt_token (the shipped server hands it out without auth), through the
// client it is configured on: Options.Token, Options.PerformanceToken or
// inside FirstOf. It caches the token and fetches again after Invalidate and
// once the token's exp has passed. /status keeps handing out an expired
// token until the instance restarts; the client then reports
// UnauthorizedError{Expired: true}.
func StatusToken() TokenSource { return &statusToken{sem: make(chan struct{}, 1)} }

type statusToken struct {
	// sem serialises fetches (one /status request at a time) and, unlike a
	// mutex, lets a waiting caller give up when its context ends.
	sem chan struct{}

	client *Client
	tok    Secret
	stale  bool
}

func (s *statusToken) bind(c *Client) {
	s.sem <- struct{}{}
	s.client = c
	<-s.sem
}

func (s *statusToken) Token(ctx context.Context) (Secret, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("%w: waiting for /status: %w", ErrTokenUnavailable, ctx.Err())
	}
	defer func() { <-s.sem }()
	if s.client == nil {
		return "", fmt.Errorf("%w: the /status token source is not configured on a client (put it in Options.Token)", ErrTokenUnavailable)
	}
	if s.tok != "" && !s.stale && !tokenExpired(s.tok, s.client.now()) {
		return s.tok, nil
	}
	st, err := s.client.Status(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrTokenUnavailable, err)
	}
	if st.JWTToken == "" {
		return "", fmt.Errorf("%w: GET /status has no jwt_token (older build, or the checklist contract): configure a token file or environment variable", ErrTokenUnavailable)
	}
	secret.Register(st.JWTToken.Reveal())
	s.tok, s.stale = st.JWTToken, false
	return s.tok, nil
}

func (s *statusToken) issuedByInstance(tok Secret) bool {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	return tok == s.tok
}

func (s *statusToken) Invalidate() {
	// Never blocks for long: holders of sem only wait on a bounded request.
	s.sem <- struct{}{}
	s.stale = true
	<-s.sem
}

// tokenExpired reports whether tok is a JWT whose exp has passed at now.
func tokenExpired(tok Secret, now time.Time) bool {
	_, exp, ok := TokenExpiry(tok)
	return ok && !now.Before(exp)
}

// FirstOf returns a source that tries sources in order and yields the
// first token obtained. After Invalidate it skips a source that still
// yields the token just rejected, as long as a later source yields another
// one, so that a stale file does not hide a fresh /status token (or the
// reverse). If every source yields only rejected tokens, it yields the
// first of them again, so that the client can tell an expired token.
func FirstOf(sources ...TokenSource) TokenSource {
	return &firstOfSource{sources: sources, rejected: map[int]Secret{}, lastIdx: -1}
}

type firstOfSource struct {
	sources []TokenSource

	mu       sync.Mutex
	last     Secret // the token returned last, and its source's index
	lastIdx  int
	rejected map[int]Secret
}

func (c *firstOfSource) bind(cl *Client) {
	for _, s := range c.sources {
		bindTokenSource(s, cl)
	}
}

func (c *firstOfSource) Token(ctx context.Context) (Secret, error) {
	if len(c.sources) == 0 {
		return "", fmt.Errorf("%w: no token source configured", ErrTokenUnavailable)
	}
	var errs []error
	fallback, fallbackIdx := Secret(""), -1
	for i, src := range c.sources {
		tok, err := src.Token(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		rej, wasRejected := c.rejected[i]
		if wasRejected && rej == tok {
			c.mu.Unlock()
			if fallbackIdx < 0 {
				fallback, fallbackIdx = tok, i
			}
			continue
		}
		delete(c.rejected, i)
		c.last, c.lastIdx = tok, i
		c.mu.Unlock()
		return tok, nil
	}
	if fallbackIdx >= 0 {
		c.mu.Lock()
		c.last, c.lastIdx = fallback, fallbackIdx
		c.mu.Unlock()
		return fallback, nil
	}
	return "", fmt.Errorf("no token source yielded a token: %w", errors.Join(errs...))
}

func (c *firstOfSource) issuedByInstance(tok Secret) bool {
	for _, s := range c.sources {
		if issuedByInstance(s, tok) {
			return true
		}
	}
	return false
}

func (c *firstOfSource) Invalidate() {
	c.mu.Lock()
	if c.lastIdx >= 0 {
		c.rejected[c.lastIdx] = c.last
	}
	c.mu.Unlock()
	for _, s := range c.sources {
		s.Invalidate()
	}
}
