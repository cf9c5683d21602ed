package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestDeploymentCommands: `deployment start` declares a deployment through
// the running daemon's API and `deployment list` shows it first; errors
// from the daemon (unknown target) and an unreachable daemon say what is
// wrong and exit non-zero.
func TestDeploymentCommands(t *testing.T) {
	t.Parallel()
	s := simtest.Start(t, sim.Options{})
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", s)))
	url := startDaemon(t, cfg, dir+"/state")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The daemon's first sight of the instance starts a deployment; wait
	// for it, so that the operator's comes after it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := invoke(ctx, "deployment", "--daemon.url", url, "list")
		if r.code == 0 && strings.Contains(r.stdout, "auto-new-target") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no auto-new-target deployment within 10s\n%s", r)
		}
		time.Sleep(20 * time.Millisecond)
	}

	r := invoke(ctx, "deployment", "--daemon.url", url, "start", "--target=main", "--version=1.2.4", "--started-at=2026-11-27T10:00:00Z", "--note=OPS-42 lobby fix")
	if r.code != 0 {
		t.Fatalf("deployment start: %s", r)
	}
	started := regexp.MustCompile(`^deployment (\S+) started: target main, version 1\.2\.4, at 2026-11-27T10:00:00Z\n$`).FindStringSubmatch(r.stdout)
	if started == nil {
		t.Fatalf("deployment start printed %q", r.stdout)
	}
	id := started[1]

	for _, args := range [][]string{
		{"deployment", "--daemon.url", url, "list"},
		{"deployment", "--daemon.url", url, "list", "--target=main"},
	} {
		r = invoke(ctx, args...)
		if r.code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("%v: want a header and rows\n%s", args, r)
		}
		if f := strings.Fields(lines[1]); len(f) != 5 || f[0] != id || f[1] != "main" || f[2] != "1.2.4" || f[4] != "api" {
			t.Errorf("%v: first row %q, want %s main 1.2.4 ... api", args, lines[1], id)
		}
	}

	// --output json: the API's deployments, newest first, for scripts.
	r = invoke(ctx, "deployment", "--daemon.url", url, "list", "--output=json")
	var ds []struct{ ID, Target, Version, Source, Note string }
	if err := json.Unmarshal([]byte(r.stdout), &ds); r.code != 0 || err != nil || len(ds) < 2 || ds[0].ID != id || ds[0].Version != "1.2.4" || ds[0].Source != "api" || ds[0].Note != "OPS-42 lobby fix" {
		t.Errorf("deployment list --output=json: %v, %+v\n%s", err, ds, r)
	}
	// outbox list --output json: {} and [] when nothing waits, never null.
	r = invoke(ctx, "outbox", "--daemon.url", url, "list", "--output=json")
	if r.code != 0 || strings.Join(strings.Fields(r.stdout), "") != `{"pending":{},"dead_letters":[]}` {
		t.Errorf("outbox list --output=json with no sinks:\n%s", r)
	}

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown target", []string{"deployment", "--daemon.url", url, "start", "--target=staging", "--version=1"}, 1, []string{"unknown target", "staging", "main"}},
		{"no daemon", []string{"deployment", "--daemon.url", "http://127.0.0.1:1", "list"}, 1, []string{"127.0.0.1:1", "--daemon.url"}},
		{"missing auth file", []string{"deployment", "--daemon.url", url, "--daemon.auth-file", dir + "/no-such-file", "list"}, 3, []string{"--daemon.auth-file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := invoke(ctx, tc.args...)
			if r.code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q\n%s", w, r)
				}
			}
		})
	}
}
