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
	resp, err := httpClient.Do(req)
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
