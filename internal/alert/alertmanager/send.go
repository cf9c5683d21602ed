package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/version"
)

// post sends alerts to every Alertmanager at once (one slow replica must
// not delay the others by its timeout) and waits for all the answers.
func (n *Notifier) post(ctx context.Context, alerts []postableAlert) (outcome, error) {
	body, err := json.Marshal(alerts)
	if err != nil {
		// Only a time outside years 0–9999 gets here.
		return nil, fmt.Errorf("cannot encode the alerts: %w", err)
	}
	out := make(outcome, len(n.endpoints))
	var wg sync.WaitGroup
	for i, ep := range n.endpoints {
		wg.Go(func() { out[i] = n.postOne(ctx, ep, body) })
	}
	wg.Wait()
	return out, nil
}

func (n *Notifier) postOne(ctx context.Context, ep endpoint, body []byte) *postError {
	res := &postError{Endpoint: ep.display}
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		// The URL was checked by New; a request error would name it.
		res.Err = errors.New("cannot build the request")
		return res
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "spacetime-watch/"+version.Version())
	resp, err := n.opts.HTTPClient.Do(req)
	if err != nil {
		res.Timeout = errors.Is(ctx.Err(), context.DeadlineExceeded)
		res.Err = transportError(err, res.Timeout, n.opts.Timeout)
		return res
	}
	defer resp.Body.Close()
	res.Code = resp.StatusCode
	if res.Code/100 != 2 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		res.Body = summarize(head)
		if res.Code == http.StatusTooManyRequests || res.Code == http.StatusServiceUnavailable {
			res.RetryAfter = alert.ParseRetryAfter(resp.Header.Get("Retry-After"), n.opts.Now())
		}
	}
	// Drain a little so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return res
}

// transportError says why no answer came, without the URL: *url.Error
// repeats it, user name included.
func transportError(err error, timedOut bool, timeout time.Duration) error {
	if timedOut {
		return fmt.Errorf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// summarize turns the start of an error answer into one short line.
// Alertmanager answers a 400 with a JSON string ("start time must be
// before end time").
func summarize(b []byte) string {
	var s string
	if json.Unmarshal(b, &s) != nil {
		s = strings.ToValidUTF8(string(b), "")
	}
	s = strings.Join(strings.Fields(s), " ")
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// postError is one Alertmanager's answer to one post; a nil Err and a 2xx
// Code mean accepted.
type postError struct {
	// Endpoint is the alerts endpoint, without user information.
	Endpoint string
	// Code is the HTTP status, 0 when no answer came.
	Code int
	// Body is the start of an error answer, on one line.
	Body string
	// RetryAfter is the wait a 429 or 503 asked for.
	RetryAfter time.Duration
	// Err is the transport failure, free of the URL.
	Err error
	// Timeout is true when Err is the per-request timeout.
	Timeout bool
}

func (e *postError) ok() bool { return e.Err == nil && e.Code/100 == 2 }

// retryable is true for failures that a later attempt can overcome.
func (e *postError) retryable() bool {
	if e.Err != nil {
		return true
	}
	return e.Code/100 == 5 || e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout
}

// reason is the failure in a word or two, for DeliveryError.Reason.
func (e *postError) reason() string {
	switch {
	case e.Timeout:
		return "timeout"
	case e.Err != nil:
		return "unreachable"
	case e.Code == http.StatusBadRequest:
		return "invalid alerts"
	case e.Code == http.StatusTooManyRequests:
		return "rate limited"
	case e.Code/100 == 5:
		return "server error"
	default:
		return strings.ToLower(http.StatusText(e.Code))
	}
}

// Error names the endpoint and what went wrong there.
func (e *postError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("POST %s: %v", e.Endpoint, e.Err)
	case e.Body != "":
		return fmt.Sprintf("POST %s: HTTP %d: %s", e.Endpoint, e.Code, e.Body)
	default:
		return fmt.Sprintf("POST %s: HTTP %d", e.Endpoint, e.Code)
	}
}

func (e *postError) Unwrap() error { return e.Err }

// outcome is one post's answers, one per Alertmanager, in URL order.
type outcome []*postError

func (o outcome) delivered() bool {
	for _, r := range o {
		if r.ok() {
			return true
		}
	}
	return false
}

func (o outcome) failed() bool {
	for _, r := range o {
		if !r.ok() {
			return true
		}
	}
	return false
}

// verdict is Notify's answer: delivered when any Alertmanager accepted;
// otherwise retry when any failure was transient.
func (o outcome) verdict(sink string) (bool, error) {
	if o.delivered() {
		return false, nil
	}
	retry := false
	for _, r := range o {
		retry = retry || r.retryable()
	}
	return retry, o.err(sink)
}

// err describes the failed posts; nil when none failed.
func (o outcome) err(sink string) error {
	var failures []*postError
	for _, r := range o {
		if !r.ok() {
			failures = append(failures, r)
		}
	}
	if len(failures) == 0 {
		return nil
	}
	de := &alert.DeliveryError{Sink: sink, Code: failures[0].Code, Reason: failures[0].reason()}
	for _, f := range failures {
		if f.Code != de.Code {
			de.Code = 0
		}
		if f.reason() != de.Reason {
			de.Reason = fmt.Sprintf("%d of %d Alertmanagers failed", len(failures), len(o))
		}
		de.RetryAfter = max(de.RetryAfter, f.RetryAfter)
	}
	if len(failures) == 1 {
		de.Err = failures[0]
	} else {
		de.Err = joined(failures)
	}
	return de
}

// joined is several endpoints' failures on one line (errors.Join would
// put them on several).
type joined []*postError

func (j joined) Error() string {
	parts := make([]string, len(j))
	for i, e := range j {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (j joined) Unwrap() []error {
	errs := make([]error, len(j))
	for i, e := range j {
		errs[i] = e
	}
	return errs
}
