package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// maxBodyBytes is the request body limit of the shipped server (413 above it).
const maxBodyBytes = 1 << 20

// apiVersion is what /status reports as api_version, a constant in the
// shipped server.
const apiVersion = "1.0.0"

// call is one API request with the instance and fault settings it is
// answered against, read once at its start.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	inst   *instanceState
	faults Faults
	now    time.Time
}

type handlerFunc func(s *Sim, c *call)

// routes maps a path, then a method, to its handler.
type routes map[string]map[string]handlerFunc

// statusRecorder remembers the status code, for the counters.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// apiHandler serves the HTTP API of the sim's profile: the latency and
// error-rate faults first, then the profile's routes, counting every answer.
func (s *Sim) apiHandler() http.Handler {
	rt := checklistRoutes()
	if s.opts.Profile == ProfileGodot {
		rt = godotRoutes()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inst := s.inst()
		inst.requests.Add(1)
		s.stats.client(r.UserAgent()).requests.Add(1)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			switch {
			case rec.code >= 500:
				inst.errors.Add(1)
			case rec.code == http.StatusUnauthorized:
				inst.authFailures.Add(1)
			case rec.code == http.StatusTooManyRequests:
				inst.rateLimited.Add(1)
			}
		}()
		f := s.faults.Get()
		if !clock.Sleep(r.Context(), time.Duration(f.APILatencyMS*float64(time.Millisecond))) {
			return // the client left (or the sim is closing): nobody to answer
		}
		c := &call{w: rec, r: r, inst: inst, faults: f, now: s.now()}
		// Float64 is in [0, 1): a rate of 0 never fails, 1 always does.
		if rand.Float64() < f.APIErrorRate {
			s.writeJSON(c, http.StatusInternalServerError, map[string]any{
				"error": "Internal Server Error", "message": "Simulated failure (api_error_rate fault)",
			})
			return
		}
		s.route(rt, c)
	})
}

// route finds the handler. The shipped server matches exact paths with an
// optional trailing "/", answers 404 "Not found" for anything else (also an
// unknown method on a known path, and HTTP/1.0 requests).
func (s *Sim) route(rt routes, c *call) {
	p := c.r.URL.Path
	godot := s.opts.Profile == ProfileGodot
	if godot && len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	methods, ok := rt[p]
	if !ok || (godot && !c.r.ProtoAtLeast(1, 1)) {
		s.notFound(c)
		return
	}
	h, ok := methods[c.r.Method]
	if !ok {
		if godot {
			s.notFound(c)
			return
		}
		c.w.Header().Set("Allow", strings.Join(slices.Sorted(maps.Keys(methods)), ", "))
		s.writeJSON(c, http.StatusMethodNotAllowed, map[string]any{
			"error": "Method Not Allowed", "message": c.r.Method + " is not allowed on " + p,
		})
		return
	}
	h(s, c)
}

// setHeaders sets the framing of the profile: godottpd sends text/html and
// closes every connection (docs/instance.md, "Transport"); the checklist contract is plain JSON.
func (s *Sim) setHeaders(c *call, contentType string) {
	h := c.w.Header()
	if s.opts.Profile == ProfileGodot {
		h.Set("Server", "GodotTPD")
		h.Set("Content-Type", "text/html")
		h.Set("Connection", "close")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "content-type")
		h.Set("Accept-Ranges", "bytes")
		return
	}
	h.Set("Content-Type", contentType)
}

// writeJSON answers v as JSON, without Go's HTML escaping (neither server
// writes "\u003c" for "<").
func (s *Sim) writeJSON(c *call, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // only our own types are encoded: a bug, answered as one
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"Internal Server Error"}`)
	}
	body := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	s.setHeaders(c, "application/json")
	c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(code)
	_, _ = c.w.Write(body)
}

func (s *Sim) notFound(c *call) {
	if s.opts.Profile == ProfileGodot {
		s.setHeaders(c, "")
		c.w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(c.w, "Not found")
		return
	}
	s.writeJSON(c, http.StatusNotFound, map[string]any{
		"error": "Not Found", "message": "Endpoint not found: " + c.r.URL.Path,
	})
}

// unauthorized is the 401 body of every authenticated router (docs/instance.md, "Error bodies").
func (s *Sim) unauthorized(c *call) {
	s.writeJSON(c, http.StatusUnauthorized, map[string]any{
		"error":   "Unauthorized",
		"message": "Missing or invalid authentication token",
		"details": "Include 'Authorization: Bearer <token>' header",
	})
}

// guard runs the checks protected endpoints share, in the shipped order:
// auth (401), then the endpoint's rate-limit bucket (429), so that a 401
// spends no token. It reports whether the handler may go on.
func (s *Sim) guard(c *call, authorized func(*Sim, *call) bool, bucket string) bool {
	if !c.faults.AuthDisabled && !authorized(s, c) {
		s.unauthorized(c)
		return false
	}
	return s.rateLimit(c, bucket)
}

// rateLimit spends a token of bucket; a 429 carries the body only in the
// godot profile, plus Retry-After (whole seconds, rounded up) in checklist.
func (s *Sim) rateLimit(c *call, bucket string) bool {
	if c.faults.RateLimitDisabled {
		return true
	}
	ok, retry := c.inst.limiter.take(bucket, c.now)
	if ok {
		return true
	}
	if s.opts.Profile == ProfileChecklist {
		c.w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry)))))
	}
	s.writeJSON(c, http.StatusTooManyRequests, map[string]any{
		"error": "Too Many Requests", "message": "Rate limit exceeded", "retry_after_seconds": retry,
	})
	return false
}

// bearer returns the token of an "Authorization: Bearer <token>" header;
// the prefix must be exact (capital B, one space).
func bearer(r *http.Request) (string, bool) {
	return strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// staticTokenOK checks the checklist token; token_expired makes it fail.
func staticTokenOK(s *Sim, c *call) bool {
	tok, ok := bearer(c.r)
	return ok && !c.faults.TokenExpired && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
}

// jwtOK checks the godot JWT: at least 16 characters, signed by this
// instance's secret, not past exp, and not expired by the token_expired fault.
func jwtOK(s *Sim, c *call) bool {
	tok, ok := bearer(c.r)
	return ok && len(tok) >= 16 && !c.faults.TokenExpired && verifyJWT(c.inst.jwtSecret, tok, c.now) == nil
}

// perfTokenOK checks the separate 64-hex /performance token of the godot
// profile (security_config_optimized.gd): the JWT never passes.
func perfTokenOK(s *Sim, c *call) bool {
	tok, ok := bearer(c.r)
	return ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.PerformanceToken)) == 1
}

// errBodyTooLarge and errBadBody are what readSceneBody reports.
var (
	errBodyTooLarge = errors.New("body too large")
	errBadBody      = errors.New("bad body")
)

// readSceneBody reads the {"scene_path": ...} body of POST and PUT /scene.
// The godot profile parses JSON only with Content-Type exactly
// application/json, refuses {} (an empty dictionary is falsy in GDScript)
// and defaults a missing scene_path to the main scene; the checklist
// contract requires scene_path.
func (s *Sim) readSceneBody(c *call) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(c.r.Body, maxBodyBytes+1))
	if err != nil {
		return "", errBadBody
	}
	if len(raw) > maxBodyBytes {
		// Drain a little more, so that the client, still writing, reads
		// the 413 instead of a connection reset.
		_, _ = io.CopyN(io.Discard, c.r.Body, 8*maxBodyBytes)
		return "", errBodyTooLarge
	}
	godot := s.opts.Profile == ProfileGodot
	if godot && c.r.Header.Get("Content-Type") != "application/json" {
		return "", errBadBody
	}
	var body map[string]any
	if json.Unmarshal(raw, &body) != nil || len(body) == 0 {
		return "", errBadBody
	}
	v, present := body["scene_path"]
	if !present && godot {
		return DefaultScene, nil
	}
	p, ok := v.(string)
	if !ok || p == "" {
		return "", errBadBody
	}
	return p, nil
}

// gdFloat is a number as Godot's JSON.stringify writes a float: always with
// a fractional part ("89.0", not "89"), so that clients decode floats.
type gdFloat float64

func (f gdFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("0.0"), nil
	}
	b := strconv.AppendFloat(nil, v, 'f', -1, 64)
	if !strings.ContainsAny(string(b), ".e") {
		b = append(b, '.', '0')
	}
	return b, nil
}
