package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profiler takes the daemon's profiles in the telemetry phase of each N
// (--profile.dir): a CPU profile over its own window after the measured
// one (profiling costs CPU, so it never overlaps the figures), then the
// heap and goroutine profiles, each with a `go tool pprof -top` summary
// beside it.
type profiler struct {
	dir    string        // where the profiles go; "" is off
	window time.Duration // the CPU profile's length
}

func (p profiler) enabled() bool { return p.dir != "" }

// take writes N-cpu.pprof, N-heap.pprof and N-goroutine.pprof (and their
// .top.txt summaries) from the daemon whose /metrics is metricsURL.
func (p profiler) take(ctx context.Context, n int, metricsURL string) error {
	base := strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/"
	secs := max(1, int(p.window.Seconds()))
	client := &http.Client{Timeout: p.window + 30*time.Second}
	for _, prof := range []struct{ name, path, topFlags string }{
		{"cpu", fmt.Sprintf("profile?seconds=%d", secs), ""},
		{"heap", "heap", "-sample_index=inuse_space"},
		{"goroutine", "goroutine", ""},
	} {
		file := filepath.Join(p.dir, fmt.Sprintf("%d-%s.pprof", n, prof.name))
		if err := fetch(ctx, client, base+prof.path, file); err != nil {
			return fmt.Errorf("%s profile: %w", prof.name, err)
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=40"}
		if prof.topFlags != "" {
			args = append(args, prof.topFlags)
		}
		out, err := exec.CommandContext(ctx, "go", append(args, file)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof %s: %w: %s", file, err, out)
		}
		if err := os.WriteFile(strings.TrimSuffix(file, ".pprof")+".top.txt", out, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchfleet: N = %d: profiles in %s\n", n, p.dir)
	return nil
}

// fetch writes the body of GET url to file.
func fetch(ctx context.Context, client *http.Client, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
