package slackfake

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxBody bounds what the fake reads of a request.
const maxBody = 1 << 20

// args are a post's or an update's arguments, from a form (as slack-go
// sends them) or a JSON body (as the webhook and other clients send them).
type args struct {
	Token   string          `json:"-"`
	Channel string          `json:"channel"`
	Text    string          `json:"text"`
	Blocks  json.RawMessage `json:"blocks"`
	// Attachments are legacy attachments (webhook only): a post carrying
	// only these has content, as Slack sees it.
	Attachments json.RawMessage `json:"attachments"`
	ThreadTS    string          `json:"thread_ts"`
	TS          string          `json:"ts"`
}

// readArgs parses r's body; ok is false when it is neither a form nor JSON
// of the right shape.
func readArgs(r *http.Request) (args, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return args{}, false
	}
	var a args
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		if err := json.Unmarshal(body, &a); err != nil {
			return args{}, false
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return args{}, false
		}
		if p := form.Get("payload"); p != "" { // the webhook's form encoding
			if err := json.Unmarshal([]byte(p), &a); err != nil {
				return args{}, false
			}
			break
		}
		a = args{Token: form.Get("token"), Channel: form.Get("channel"), Text: form.Get("text"),
			ThreadTS: form.Get("thread_ts"), TS: form.Get("ts")}
		if b := form.Get("blocks"); b != "" {
			a.Blocks = json.RawMessage(b)
		}
	default:
		return args{}, false
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && a.Token == "" {
		a.Token = tok
	}
	return a, true
}

// hasItems reports whether raw is a non-empty JSON array.
func hasItems(raw json.RawMessage) bool {
	var items []json.RawMessage
	return json.Unmarshal(raw, &items) == nil && len(items) > 0
}

// begin pops ep's next fault and, when there is one, answers with it.
// It returns true when the request was answered.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, ep Endpoint) bool {
	s.mu.Lock()
	now := s.now()
	f, ok := s.nextFault(ep)
	if !ok {
		s.mu.Unlock()
		return false
	}
	switch {
	case f.Hang:
		s.recordRequest(Request{Endpoint: ep, Error: "hang", Received: now})
	case f.Reset:
		s.recordRequest(Request{Endpoint: ep, Error: "reset", Received: now})
	}
	s.mu.Unlock()
	switch {
	case f.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		panic(http.ErrAbortHandler) // no answer at all
	case f.Reset:
		reset(w)
	default:
		s.answerFault(w, ep, f, now)
	}
	return true
}

// reset closes the connection under w with an RST (SO_LINGER 0) where it
// can be hijacked, and aborts the handler otherwise (Transport turns the
// abort into ECONNRESET).
func reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) answerFault(w http.ResponseWriter, ep Endpoint, f Fault, now time.Time) {
	code := f.Code
	if code == 0 {
		code = http.StatusOK
	}
	word := f.Error
	if word == "" {
		word = defaultWord(ep, code)
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	s.mu.Lock()
	s.recordRequest(Request{Endpoint: ep, Code: code, Error: word, Received: now})
	s.mu.Unlock()
	switch {
	case f.Body != "":
		w.WriteHeader(code)
		_, _ = io.WriteString(w, f.Body)
	case ep == Webhook:
		writeText(w, code, word)
	default:
		writeJSON(w, code, map[string]any{"ok": false, "error": word})
	}
}

// defaultWord is Slack's word for code when a fault names none.
func defaultWord(ep Endpoint, code int) string {
	if ep == Webhook {
		switch code {
		case http.StatusTooManyRequests:
			return "rate_limited"
		case http.StatusBadRequest:
			return "invalid_payload"
		case http.StatusForbidden:
			return "invalid_token"
		case http.StatusNotFound:
			return "no_service"
		case http.StatusGone:
			return "channel_is_archived"
		}
		return strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "_"))
	}
	switch {
	case code == http.StatusTooManyRequests:
		return "ratelimited"
	case code >= 500:
		return "internal_error"
	}
	return "fatal_error"
}

func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if s.begin(w, r, Webhook) {
		return
	}
	a, ok := readArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	fail := func(code int, word string, h http.Header) {
		s.recordRequest(Request{Endpoint: Webhook, Code: code, Error: word, Received: now})
		for k, v := range h {
			w.Header()[k] = v
		}
		writeText(w, code, word)
	}
	if !ok {
		fail(http.StatusBadRequest, "invalid_payload", nil)
		return
	}
	if word := s.limits.check(a.Text, a.Blocks); word != "" && (word != "no_text" || !hasItems(a.Attachments)) {
		fail(http.StatusBadRequest, word, nil)
		return
	}
	if wait := s.tooSoon(WebhookChannel, now); wait > 0 {
		fail(http.StatusTooManyRequests, "rate_limited", http.Header{"Retry-After": {retryAfterSeconds(wait)}})
		return
	}
	s.lastPost[WebhookChannel] = now
	s.recordRequest(Request{Endpoint: Webhook, Code: http.StatusOK, Received: now})
	s.recordMessage(Message{Kind: Webhook, Channel: WebhookChannel, TS: s.nextTS(), ThreadTS: a.ThreadTS,
		Text: a.Text, Blocks: a.Blocks, Attachments: a.Attachments, Received: now})
	writeText(w, http.StatusOK, "ok")
}

func (s *Server) servePostMessage(w http.ResponseWriter, r *http.Request) {
	if s.begin(w, r, PostMessage) {
		return
	}
	a, ok := readArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if word := s.checkCall(a, ok); word != "" {
		s.apiError(w, PostMessage, word, now)
		return
	}
	if a.Channel == "" {
		s.apiError(w, PostMessage, "channel_not_found", now)
		return
	}
	if word := s.limits.check(a.Text, a.Blocks); word != "" {
		s.apiError(w, PostMessage, word, now)
		return
	}
	id := channelID(a.Channel)
	if wait := s.tooSoon(id, now); wait > 0 {
		s.recordRequest(Request{Endpoint: PostMessage, Code: http.StatusTooManyRequests, Error: "ratelimited", Received: now})
		w.Header().Set("Retry-After", retryAfterSeconds(wait))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return
	}
	s.lastPost[id] = now
	m := Message{Kind: PostMessage, Channel: id, TS: s.nextTS(), ThreadTS: a.ThreadTS, Text: a.Text, Blocks: a.Blocks, Received: now}
	s.recordRequest(Request{Endpoint: PostMessage, Code: http.StatusOK, Received: now})
	s.recordMessage(m)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": id, "ts": m.TS, "message": messageJSON(m)})
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request) {
	if s.begin(w, r, Update) {
		return
	}
	a, ok := readArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if word := s.checkCall(a, ok); word != "" {
		s.apiError(w, Update, word, now)
		return
	}
	if !isChannelID(a.Channel) {
		// chat.update takes a channel ID only, not a #name.
		s.apiError(w, Update, "channel_not_found", now)
		return
	}
	orig, found := s.stored[a.Channel+"/"+a.TS]
	if !found {
		s.apiError(w, Update, "message_not_found", now)
		return
	}
	if word := s.limits.check(a.Text, a.Blocks); word != "" {
		s.apiError(w, Update, word, now)
		return
	}
	m := Message{Kind: Update, Channel: a.Channel, TS: a.TS, ThreadTS: orig.ThreadTS, Text: a.Text, Blocks: a.Blocks, Received: now}
	s.recordRequest(Request{Endpoint: Update, Code: http.StatusOK, Received: now})
	s.recordMessage(m)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text, "message": messageJSON(m)})
}

func (s *Server) serveAuthTest(w http.ResponseWriter, r *http.Request) {
	if s.begin(w, r, AuthTest) {
		return
	}
	a, ok := readArgs(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if word := s.checkCall(a, ok); word != "" {
		s.apiError(w, AuthTest, word, now)
		return
	}
	s.recordRequest(Request{Endpoint: AuthTest, Code: http.StatusOK, Received: now})
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "url": "https://fake.slack.com/", "team": "Fake Workspace",
		"user": "spacetime-watch", "team_id": "T00000000", "user_id": "U00000000", "bot_id": "B00000000"})
}

func (s *Server) serveUnknownMethod(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiError(w, Endpoint(strings.TrimPrefix(r.URL.Path, "/api/")), "unknown_method", s.now())
}

// checkCall returns the Web API's word for a request it cannot parse or
// authenticate; the caller holds s.mu.
func (s *Server) checkCall(a args, parsed bool) string {
	switch {
	case !parsed:
		return "invalid_arguments"
	case a.Token == "":
		return "not_authed"
	case s.token != "" && a.Token != s.token:
		return "invalid_auth"
	}
	return ""
}

// apiError answers a Web API error as Slack does: HTTP 200, ok:false; the
// caller holds s.mu.
func (s *Server) apiError(w http.ResponseWriter, ep Endpoint, word string, now time.Time) {
	s.recordRequest(Request{Endpoint: ep, Code: http.StatusOK, Error: word, Received: now})
	writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": word})
}

// tooSoon returns how long a post to channel must still wait under
// WithMinInterval, 0 when it may go now; the caller holds s.mu.
func (s *Server) tooSoon(channel string, now time.Time) time.Duration {
	if s.minInterval <= 0 {
		return 0
	}
	last, ok := s.lastPost[channel]
	if !ok {
		return 0
	}
	if wait := s.minInterval - now.Sub(last); wait > 0 {
		return wait
	}
	return 0
}

var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)

func isChannelID(c string) bool { return channelIDPattern.MatchString(c) }

// channelID is the ID of channel: itself when it is one, a stable made-up
// ID for a name ("#oncall" and "oncall" get the same).
func channelID(channel string) string {
	if isChannelID(channel) {
		return channel
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.TrimPrefix(channel, "#")))
	return "C" + hex32(h.Sum32())
}

func hex32(v uint32) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// messageJSON is the "message" object of a chat.postMessage or chat.update answer.
func messageJSON(m Message) map[string]any {
	out := map[string]any{"type": "message", "subtype": "bot_message", "text": m.Text, "ts": m.TS,
		"user": "U00000000", "bot_id": "B00000000"}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	return out
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// errAbort reports whether a recovered panic value is the handler abort.
func errAbort(v any) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, http.ErrAbortHandler)
}
