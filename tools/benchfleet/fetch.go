package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// httpClient is the harness's own client: loopback only, short timeouts.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// postClient sends the harness's writes: a daemon's reload of 1,000
// targets stops and starts each of them before it answers.
var postClient = &http.Client{Timeout: 2 * time.Minute}

// get fetches url and returns its body, or an error for a status above 299.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode > 299 {
		return body, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// waitFor polls cond every step until it reports done, it fails, the
// child dies or timeout passes.
func waitFor(ctx context.Context, what string, timeout, step time.Duration, watch []*child.Process, cond func() (bool, error)) error {
	deadline := clock.Deadline(timeout)
	var last error
	for {
		for _, c := range watch {
			if err := c.Alive(); err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
		}
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if clock.Now().After(deadline) {
			if last == nil {
				last = errors.New("not yet")
			}
			return fmt.Errorf("waiting for %s: gave up after %s: %w", what, timeout, last)
		}
		if !clock.Sleep(ctx, step) {
			return ctx.Err()
		}
	}
}

// post sends a JSON body to url and wants a status below 300.
func post(ctx context.Context, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := postClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode > 299 {
		return fmt.Errorf("POST %s %s: %s %s", url, body, resp.Status, b)
	}
	return nil
}

// timedGets GETs url one request after another, count of them or as many
// as budget holds (at least one), and returns each one's time in
// milliseconds, from the request to the last byte, and the last body.
func timedGets(ctx context.Context, url string, count int, budget time.Duration) ([]float64, []byte, error) {
	var took []float64
	var last []byte
	deadline := clock.Deadline(budget)
	for len(took) < count && (len(took) == 0 || clock.Now().Before(deadline)) {
		start := clock.Now()
		b, err := get(ctx, url)
		if err != nil {
			return nil, nil, err
		}
		took = append(took, float64(clock.Now().Sub(start))/float64(time.Millisecond))
		last = b
	}
	return took, last, nil
}
