package testkit

import (
	"io"
	"net/http"
	"time"
)

// Get fetches url without keep-alives (each call a new connection, so
// that a restarted server is reached afresh) within timeout, and returns
// the status and body; err is set when nothing answers.
func Get(url string, timeout time.Duration) (int, string, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
