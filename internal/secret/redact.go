package secret

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// minNeedle is the shortest text redacted on its own: shorter parts of a
// secret (a URL's "T000" segment) are too common to remove from every line.
const minNeedle = 8

// publicSegments are URL path segments known not to be secret.
var publicSegments = []string{"services", "hooks", "webhook", "webhooks", "api", "v1", "v2"}

// Redactor removes every registered secret from text, by value: in any
// letter case, URL-escaped (query and path forms), base64 (standard and URL
// alphabets) and, for a URL, its path, query, credentials and each long
// path segment. The zero value is ready; it is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	values  map[string]bool
	needles []string
	re      *regexp.Regexp // nil while no needle
}

var std Redactor

// Register adds v to the process-wide redactor. Reading a Source does it;
// call it for a secret that comes another way.
func Register(v string) { std.Add(v) }

// Clean returns s with every secret the process has read replaced by "<secret>".
func Clean(s string) string { return std.Clean(s) }

// CleanBytes is Clean for bytes; it returns b itself when nothing matched.
func CleanBytes(b []byte) []byte { return std.CleanBytes(b) }

// Add registers v (and its forms). A value shorter than minNeedle
// characters is still removed as a whole.
func (r *Redactor) Add(v string) {
	if v == "" {
		return
	}
	r.mu.RLock()
	known := r.values[v]
	r.mu.RUnlock()
	if known {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.values == nil {
		r.values = map[string]bool{}
	}
	r.values[v] = true
	seen := map[string]bool{}
	for _, n := range r.needles {
		seen[strings.ToLower(n)] = true
	}
	for _, n := range forms(v) {
		if k := strings.ToLower(n); !seen[k] {
			seen[k] = true
			r.needles = append(r.needles, n)
		}
	}
	// Longest first: a whole URL goes before its path, its path before a
	// segment, so that nothing of a longer form is left around.
	slices.SortStableFunc(r.needles, func(a, b string) int { return len(b) - len(a) })
	quoted := make([]string, len(r.needles))
	for i, n := range r.needles {
		quoted[i] = regexp.QuoteMeta(n)
	}
	r.re = regexp.MustCompile("(?i)" + strings.Join(quoted, "|"))
}

// Clean returns s with every registered secret replaced by "<secret>".
func (r *Redactor) Clean(s string) string {
	re := r.regexp()
	if re == nil || s == "" {
		return s
	}
	return re.ReplaceAllLiteralString(s, Redacted)
}

// CleanBytes is Clean for bytes; it returns b itself when nothing matched.
func (r *Redactor) CleanBytes(b []byte) []byte {
	re := r.regexp()
	if re == nil || !re.Match(b) {
		return b
	}
	return re.ReplaceAllLiteral(b, []byte(Redacted))
}

func (r *Redactor) regexp() *regexp.Regexp {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.re
}

// forms lists the texts under which v may show: v and, when v is a URL,
// its parts; each of them escaped and in base64.
func forms(v string) []string {
	parts := []string{v}
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		parts = append(parts, urlParts(u)...)
	}
	var out []string
	add := func(s string) {
		if len(s) >= minNeedle || s == v {
			out = append(out, s)
		}
	}
	for _, p := range parts {
		add(p)
		add(url.QueryEscape(p))
		add(url.PathEscape(p))
		add(base64.RawStdEncoding.EncodeToString([]byte(p)))
		add(base64.RawURLEncoding.EncodeToString([]byte(p)))
	}
	return out
}

// urlParts are the secret parts of a URL: its path (a Slack webhook's
// /services/T000/B000/XXXX), each long path segment but the public ones,
// its query, and its credentials, as written and as Basic auth sends them.
func urlParts(u *url.URL) []string {
	parts := []string{u.Path, u.EscapedPath(), u.RawQuery}
	for _, seg := range strings.Split(u.Path, "/") {
		if !slices.Contains(publicSegments, strings.ToLower(seg)) {
			parts = append(parts, seg)
		}
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if _, val, ok := strings.Cut(kv, "="); ok {
			parts = append(parts, val)
		}
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		parts = append(parts, u.User.String(), pass, u.User.Username()+":"+pass)
	}
	return parts
}
