package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// maxAnswer bounds what is read of Slack's answer: a word, or an error page.
const maxAnswer = 64 << 10

// post sends p and maps Slack's answer to a verdict.
func (n *Notifier) post(ctx context.Context, p Payload) (bool, error) {
	body, err := p.JSON()
	if err != nil {
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_message", Err: fmt.Errorf("slack webhook: encoding the message: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(n.url), bytes.NewReader(body))
	if err != nil {
		// The error quotes the URL: not wrapped.
		return false, &alert.DeliveryError{Sink: n.name, Reason: "invalid_url",
			Err: n.redact.Errorf("cannot build the request from the webhook URL")}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := n.client.Do(req)
	if err != nil {
		return true, &alert.DeliveryError{Sink: n.name, Reason: alert.TransportReason(err), Err: n.redact.Sanitize(err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return n.verdict(resp.StatusCode, resp.Header, answer, n.now())
}

// wordPattern matches Slack's error words (invalid_token, no_service, …).
var wordPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// verdict maps an HTTP answer to (retry, error): 2xx delivered; 429, 408
// and 5xx worth another try; anything else permanent.
func (n *Notifier) verdict(code int, h http.Header, answer []byte, now time.Time) (bool, error) {
	if code >= 200 && code < 300 {
		return false, nil
	}
	text := n.redact.Clean(strings.TrimSpace(string(answer)))
	var j struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(answer, &j) == nil && j.Error != "" {
		text = n.redact.Clean(j.Error) // a JSON answer: {"ok":false,"error":"…"}
	}
	de := &alert.DeliveryError{Sink: n.name, Code: code, Reason: text}
	if !wordPattern.MatchString(text) {
		// Not one of Slack's words (an HTML error page, a proxy's text):
		// name the status, keep the start of the answer for the log.
		de.Reason = strings.ReplaceAll(strings.ToLower(http.StatusText(code)), " ", "_")
		if text != "" {
			de.Err = n.redact.Errorf("HTTP %d: %s", code, oneLine(text, 200))
		}
	}
	switch {
	case code == http.StatusTooManyRequests:
		de.RetryAfter = retryAfter(h.Get("Retry-After"), answer, now)
		return true, de
	case code == http.StatusRequestTimeout, code >= 500:
		de.RetryAfter = retryAfter(h.Get("Retry-After"), nil, now)
		return true, de
	default:
		return false, de
	}
}

// retryAfter reads the wait Slack asked for: the Retry-After header, else
// a JSON body's retry_after (seconds), else 0.
func retryAfter(header string, body []byte, now time.Time) time.Duration {
	if d := alert.ParseRetryAfter(header, now); d > 0 {
		return d
	}
	var b struct {
		RetryAfter *float64 `json:"retry_after"`
	}
	if len(body) > 0 && json.Unmarshal(body, &b) == nil && b.RetryAfter != nil && *b.RetryAfter > 0 {
		return alert.RetryAfterSeconds(*b.RetryAfter)
	}
	return 0
}
