package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
)

// Client talks to a running daemon's API: the commands that read or change
// its state (`deployment start`, `deployment list`) go through it, because
// the daemon holds the state file's lock.
type Client struct {
	base     *url.URL
	user     string
	password string
	http     *http.Client
}

// NewClient returns a client of the daemon at baseURL (--daemon.url). When
// authFile is set (--daemon.auth-file) it holds the basic-auth credentials
// the daemon's web config requires, as one line "username:password".
func NewClient(baseURL, authFile string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--daemon.url %q: want http(s)://host:port, e.g. http://127.0.0.1:9850", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 10 * time.Second}}
	if authFile != "" {
		b, err := os.ReadFile(authFile)
		if err != nil {
			return nil, fmt.Errorf("--daemon.auth-file: %w", err)
		}
		user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("--daemon.auth-file %s: want one line username:password", authFile)
		}
		c.user, c.password = user, pass
	}
	return c, nil
}

// StartDeployment declares a deployment (POST /api/v1/deployments).
func (c *Client) StartDeployment(ctx context.Context, req StartDeploymentRequest) (Deployment, error) {
	var d Deployment
	err := c.do(ctx, http.MethodPost, "/api/v1/deployments", req, &d)
	return d, err
}

// Deployments lists deployments, newest first (GET /api/v1/deployments);
// target "" lists every target's.
func (c *Client) Deployments(ctx context.Context, target string) ([]Deployment, error) {
	path := "/api/v1/deployments"
	if target != "" {
		path += "?target=" + url.QueryEscape(target)
	}
	var resp DeploymentsResponse
	err := c.do(ctx, http.MethodGet, path, nil, &resp)
	return resp.Deployments, err
}

// Status fetches GET /api/v1/status as raw JSON.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/api/v1/status", nil, &raw)
	return raw, err
}

// Alerts fetches GET /api/v1/alerts: every tracked alert, inhibited and
// silenced ones marked.
func (c *Client) Alerts(ctx context.Context) ([]alert.Alert, error) {
	var resp AlertsResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/alerts", nil, &resp)
	return resp.Alerts, err
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ref, err := url.Parse(path)
	if err != nil {
		return err
	}
	u := c.base.JoinPath(ref.Path)
	u.RawQuery = ref.RawQuery
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("daemon at %s: %w (is spacetime-watch running? set --daemon.url)", c.base.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("daemon at %s: %w", c.base.Redacted(), err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("daemon: %s", e.Error)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return errors.New("daemon: 401 unauthorized: pass the web config's credentials with --daemon.auth-file")
		}
		return fmt.Errorf("daemon: %s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("daemon: %s %s: bad JSON answer: %w", method, path, err)
	}
	return nil
}

// AddSilence silences alerts (POST /api/v1/silences).
func (c *Client) AddSilence(ctx context.Context, req AddSilenceRequest) (alert.Silence, error) {
	var s alert.Silence
	err := c.do(ctx, http.MethodPost, "/api/v1/silences", req, &s)
	return s, err
}

// Silences lists the silences (GET /api/v1/silences).
func (c *Client) Silences(ctx context.Context) ([]alert.Silence, error) {
	var resp SilencesResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/silences", nil, &resp)
	return resp.Silences, err
}

// ExpireSilence ends now the silence with ID id, or whose ID starts with
// id (DELETE /api/v1/silences/{id}), and returns it.
func (c *Client) ExpireSilence(ctx context.Context, id string) (alert.Silence, error) {
	var s alert.Silence
	err := c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(id), nil, &s)
	return s, err
}

// Outbox lists pending notifications and dead letters (GET /api/v1/outbox).
func (c *Client) Outbox(ctx context.Context) (OutboxResponse, error) {
	var resp OutboxResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/outbox", nil, &resp)
	return resp, err
}

// NotifyTest sends a test message through one sink or all (POST /api/v1/notify/test).
func (c *Client) NotifyTest(ctx context.Context, sink string) (NotifyTestResponse, error) {
	var resp NotifyTestResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/notify/test", NotifyTestRequest{Sink: sink}, &resp)
	return resp, err
}

// Review computes a review now (GET /api/v1/reviews): name is e.g.
// "hour-4", or LatestReview for the latest that fell due (as delivered)
// or else the first one computed now; deploymentID empty means the
// target's current deployment.
func (c *Client) Review(ctx context.Context, target, deploymentID, name string) (ReviewResponse, error) {
	q := url.Values{"target": {target}, "review": {name}}
	if deploymentID != "" {
		q.Set("deployment", deploymentID)
	}
	var resp ReviewResponse
	err := c.do(ctx, http.MethodGet, "/api/v1/reviews?"+q.Encode(), nil, &resp)
	return resp, err
}
