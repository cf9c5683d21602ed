package spacetime_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeGodot is a raw TCP server that reads a request the way godottpd does
// (docs/instance.md, "Transport"): ONE read, a request line that must match
// `METHOD SP path SP HTTP/1.1` exactly, headers only in the form
// "Name: value", the body being whatever came with that read. It answers
// with godottpd's framing (Server: GodotTPD, Content-Type: text/html,
// Connection: close) and closes the connection. Unmatched paths get a
// plain-text 404 "Not found". It records every request, so that tests can
// assert what went over the wire.
type fakeGodot struct {
	t      *testing.T
	ln     net.Listener
	routes map[string]godotHandler // "GET /status" → handler

	mu    sync.Mutex
	reqs  []godotRequest
	conns int

	wg sync.WaitGroup
}

// godotHandler answers one request: code and body (always sent as text/html).
type godotHandler func(r godotRequest) (int, string)

// godotRequest is one request as the fake parsed it.
type godotRequest struct {
	Line    string            // the request line as received
	Method  string            // "" when the request line did not match
	Target  string            // path with its raw query
	Path    string            // path without query
	Headers map[string]string // names as received (case kept)
	Body    string
	// Complete is false when the single read did not hold the whole body
	// announced by Content-Length: godottpd would have mis-parsed it.
	Complete bool
}

var godotRequestLine = regexp.MustCompile(`^(GET|POST|HEAD|PUT|PATCH|DELETE|OPTIONS) (\S+) HTTP/1\.1$`)

func newFakeGodot(t *testing.T, routes map[string]godotHandler) *fakeGodot {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGodot{t: t, ln: ln, routes: routes}
	f.wg.Go(f.serve)
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeGodot) URL() string { return "http://" + f.ln.Addr().String() }

func (f *fakeGodot) serve() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns++
		f.mu.Unlock()
		f.wg.Go(func() { f.handle(conn) })
	}
}

func (f *fakeGodot) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64<<10)
	n, err := conn.Read(buf) // one read, as godottpd does
	if err != nil {
		return
	}
	req := parseGodotRequest(buf[:n])
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()

	code, body := http.StatusNotFound, "Not found"
	if h, ok := f.routes[req.Method+" "+req.Path]; ok && req.Method != "" {
		code, body = h(req)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\n", code, http.StatusText(code))
	fmt.Fprintf(&out, "Server: GodotTPD\r\nContent-Length: %d\r\nConnection: close\r\n", len(body))
	out.WriteString("Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: POST, GET, OPTIONS\r\n")
	out.WriteString("Access-Control-Allow-Headers: content-type\r\nAccept-Ranges: bytes\r\nContent-Type: text/html\r\n\r\n")
	out.WriteString(body)
	_, _ = conn.Write(out.Bytes())
}

func parseGodotRequest(raw []byte) godotRequest {
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	req := godotRequest{Line: lines[0], Headers: map[string]string{}, Body: body, Complete: true}
	if m := godotRequestLine.FindStringSubmatch(lines[0]); m != nil {
		req.Method, req.Target = m[1], m[2]
		req.Path, _, _ = strings.Cut(m[2], "?")
	}
	for _, l := range lines[1:] {
		// godottpd's header regex: "Name: value", one space after the colon.
		if name, value, ok := strings.Cut(l, ": "); ok {
			req.Headers[name] = value
		}
	}
	if cl, ok := req.Headers["Content-Length"]; ok {
		n, err := strconv.Atoi(cl)
		req.Complete = err == nil && len(body) >= n
	}
	return req
}

// requests returns a copy of what the fake received.
func (f *fakeGodot) requests() []godotRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]godotRequest(nil), f.reqs...)
}

func (f *fakeGodot) connCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

// bearerHandler wraps h with godottpd's JWT check: "Authorization: Bearer
// <tok>" exactly, or the shipped 401 body.
func bearerHandler(tok string, h godotHandler) godotHandler {
	return func(r godotRequest) (int, string) {
		auth, ok := r.Headers["Authorization"]
		if !ok {
			auth = r.Headers["authorization"]
		}
		if auth != "Bearer "+tok {
			return http.StatusUnauthorized, unauthorizedBody
		}
		return h(r)
	}
}

// fixed answers code and body whatever the request.
func fixed(code int, body string) godotHandler {
	return func(godotRequest) (int, string) { return code, body }
}

// jsonBodyHandler is POST /scene as scene_router.gd parses it: JSON only
// with Content-Type exactly application/json, {} rejected (an empty
// dictionary is falsy), a missing scene_path defaulting to the main scene.
func jsonBodyHandler(h func(scenePath string) (int, string)) godotHandler {
	return func(r godotRequest) (int, string) {
		if r.Headers["Content-Type"] != "application/json" || !r.Complete {
			return http.StatusBadRequest, badRequestBody
		}
		var body map[string]any
		if err := jsonUnmarshalString(r.Body, &body); err != nil || len(body) == 0 {
			return http.StatusBadRequest, badRequestBody
		}
		p, ok := body["scene_path"].(string)
		if !ok {
			p = "res://vr_main.tscn"
		}
		return h(p)
	}
}

const (
	unauthorizedBody = `{"error":"Unauthorized","message":"Missing or invalid authentication token","details":"Include 'Authorization: Bearer <token>' header"}`
	badRequestBody   = `{"error":"Bad Request","message":"Invalid JSON body or missing Content-Type: application/json"}`
)
