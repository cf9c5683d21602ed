package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/version"
)

// The headers of every request besides Content-Type and User-Agent.
const (
	// HeaderMessageID is the notification's ID, the same on every attempt
	// to deliver it.
	HeaderMessageID = "X-Spacetime-Watch-Message-Id"
	// HeaderTimestamp is when the request was signed, in Unix seconds
	// (signed requests only).
	HeaderTimestamp = "X-Spacetime-Watch-Timestamp"
	// HeaderSignature is "sha256=" and the lowercase hex HMAC-SHA256, keyed
	// with the secret, of HeaderTimestamp's value, ".", and the body
	// (signed requests only).
	HeaderSignature = "X-Spacetime-Watch-Signature"
)

// maxAnswer bounds what is read of an answer: a word, or an error page.
const maxAnswer = 64 << 10

// maxAnswerText bounds the start of an error answer kept in the error.
const maxAnswerText = 200

// post sends p for the message id and maps the answer to a verdict.
func (n *Notifier) post(ctx context.Context, id string, p Payload, now time.Time) (bool, error) {
	body, err := json.Marshal(p)
	if err != nil {
		// Only a time outside years 0–9999 gets here.
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(n.url), bytes.NewReader(body))
	if err != nil {
		// The error quotes the URL: not wrapped.
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_url",
			Err: n.redact.Errorf("cannot build the request from the URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spacetime-watch/"+version.Version())
	if id != "" {
		req.Header.Set(HeaderMessageID, id)
	}
	if n.key != nil {
		ts := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, signature(n.key, ts, body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return true, &alert.DeliveryError{Sink: n.name, Reason: alert.TransportReason(err), Err: n.redact.Sanitize(err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return n.verdict(resp.StatusCode, resp.Header, answer, now)
}

// signature is HeaderSignature's value for a request signed at ts.
func signature(key []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// verdict maps an HTTP answer to (retry, error), as Alertmanager's own
// webhook notifier does: 2xx delivered; 429, 408 and 5xx worth another try
// after their Retry-After; anything else (4xx, a redirect) permanent.
func (n *Notifier) verdict(code int, h http.Header, answer []byte, now time.Time) (bool, error) {
	if code/100 == 2 {
		return false, nil
	}
	de := &alert.DeliveryError{Sink: n.name, Code: code, Reason: reason(code)}
	if text := answerText(n.redact.Clean(string(answer))); text != "" {
		de.Err = n.redact.Errorf("HTTP %d: %s", code, text)
	}
	if code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code/100 == 5 {
		de.RetryAfter = alert.ParseRetryAfter(h.Get("Retry-After"), now)
		return true, de
	}
	return false, de
}

// reason names an HTTP status in a word: "service_unavailable".
func reason(code int) string {
	if text := http.StatusText(code); text != "" {
		return strings.ReplaceAll(strings.ToLower(text), " ", "_")
	}
	return "http_" + strconv.Itoa(code)
}

// answerText is the start of an answer on one line, valid UTF-8, at most
// maxAnswerText bytes.
func answerText(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	if len(s) <= maxAnswerText {
		return s
	}
	cut := maxAnswerText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
