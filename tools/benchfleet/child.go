package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// child is one process the benchmark started and must stop: a sim fleet,
// a daemon, the bare reader, the blackbox exporter.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // why it exited; set before done closes
}

// startChild starts bin with args, its stderr (and stdout, unless
// wantStdout) appended to logPath. With wantStdout, the caller reads the
// returned stdout and must keep reading it until the process exits.
func startChild(name, logPath string, wantStdout bool, bin string, args ...string) (*child, *bufio.Reader, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = log.Close() }() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stderr = log
	var out *bufio.Reader
	if wantStdout {
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		out = bufio.NewReader(pipe)
	} else {
		cmd.Stdout = log
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, out, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports an error if the process has already exited.
func (c *child) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited early: %v (see its log)", c.name, c.err)
	default:
		return nil
	}
}

// stop sends SIGTERM and waits for the exit, then SIGKILL after grace.
func (c *child) stop(grace time.Duration) {
	if c == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// freeAddr returns a loopback address with a port free a moment ago, for
// a child that must be told its port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

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
func waitFor(ctx context.Context, what string, timeout, step time.Duration, watch []*child, cond func() (bool, error)) error {
	deadline := clock.Deadline(timeout)
	var last error
	for {
		for _, c := range watch {
			if err := c.alive(); err != nil {
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
