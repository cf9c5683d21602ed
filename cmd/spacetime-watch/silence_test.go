package main

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestSilenceCommands: `silence add` takes matchers as arguments (and
// --target/--alert as shorthands) and the daemon refuses names it does not
// know with the closest one, unless --force; `silence list` shows each
// silence's state and hides expired ones unless --all; `silence expire`
// takes an ID prefix in any case.
func TestSilenceCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := testkit.WriteFileIn(t, dir, "config.yaml", fastConfig(targetYAML(t, dir, "main", simtest.Start(t, sim.Options{})), targetYAML(t, dir, "vr-2", simtest.Start(t, sim.Options{}))))
	url := startDaemon(t, cfg, dir+"/state")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	silence := func(args ...string) result {
		return invoke(ctx, append([]string{"silence", "--daemon.url", url}, args...)...)
	}
	const why = "--comment=GPU driver rollout"

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"unknown target", []string{"add", "--target=nosuch", "--for=1h", why},
			"daemon: silence: matcher `target=nosuch`: \"nosuch\" is not a configured target; targets: main, spacetime-watch, vr-2; add --force to keep it\n"},
		{"target typo", []string{"add", "--target=mian", "--for=1h", why}, `"mian" is not a configured target (did you mean main?)`},
		{"alert typo", []string{"add", "--alert=fps_lwo", "--for=1h", why}, `"fps_lwo" is not a known alert (did you mean fps_low?); alerts: `},
		{"severity typo, forced", []string{"add", "severity=warnign", "--force", "--for=1h", why},
			"daemon: silence: matcher `severity=warnign`: \"warnign\" is not a severity (did you mean warning?); severities: critical, warning, info\n"},
		{"regex matching nothing", []string{"add", `alert=~"fsp_.*"`, "--for=1h", why}, "the regex matches no known alert"},
		{"bad regex", []string{"add", `alert=~"fps_(.*"`, "--for=1h", why}, "daemon: silence: matcher `alert=~\"fps_(.*\"`: bad regex \"fps_(.*\": missing closing ): `fps_(.*`\n"},
		{"no matcher", []string{"add", "--for=1h", why}, "daemon: silence: matchers: at least one is required, e.g. alert=fps_low or target=main\n"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := silence(tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 1 and stderr with %q\n%s", tc.want, r)
			}
		})
	}

	added := regexp.MustCompile(`^silence ([A-Z2-7]{26}) (\w+): (.+), \S+ to \S+\n$`)
	add := func(wantState, wantMatchers string, args ...string) string {
		t.Helper()
		r := silence(append([]string{"add", "--for=1h", why}, args...)...)
		m := added.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil || m[2] != wantState || m[3] != wantMatchers {
			t.Fatalf("add %q: want %s [%s]\n%s", args, wantState, wantMatchers, r)
		}
		return m[1]
	}
	fps := add("active", `alert=~"fps_.*", target!=vr-2`, `alert=~fps_.*`, "target!=vr-2") // as a shell leaves alert=~"fps_.*"
	short := add("active", "target=vr-2, alert=token_expired", "--target=vr-2", "--alert=token_expired")
	later := add("pending", "target=canary", "target=canary", "--force", "--starts-at="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339))

	// list shows the state of each; an expired one only with --all.
	rows := func(args ...string) map[string]string {
		t.Helper()
		r := silence(append([]string{"list"}, args...)...)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], " STATE ") || !strings.Contains(lines[0], " MATCHERS ") {
			t.Fatalf("list %q: want a header\n%s", args, r)
		}
		out := map[string]string{}
		for _, l := range lines[1:] {
			if !strings.Contains(l, "GPU driver rollout") {
				t.Errorf("row %q lacks the comment", l)
			}
			f := strings.Fields(l)
			out[f[0]] = f[1]
		}
		return out
	}
	want := map[string]string{fps: "active", short: "active", later: "pending"}
	if got := rows(); !maps.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}

	r := silence("expire", strings.ToLower(fps[:8]))
	if r.code != 0 || r.stdout != "silence "+fps+` expired: alert=~"fps_.*", target!=vr-2`+"\n" {
		t.Fatalf("expire by prefix:\n%s", r)
	}
	delete(want, fps)
	r = silence("list")
	if got := rows(); !maps.Equal(got, want) || !strings.Contains(r.stderr, "1 expired silence(s) not shown (--all shows them)") {
		t.Errorf("list after expiry = %v, want %v\n%s", got, want, r)
	}
	// --output json lists the same silences as the table, as the API has them.
	if got := jsonRows(t, silence("list", "--output=json")); !maps.Equal(got, want) {
		t.Errorf("list --output=json = %v, want %v", got, want)
	}
	want[fps] = "expired"
	if got := rows("--all"); !maps.Equal(got, want) {
		t.Errorf("list --all = %v, want %v", got, want)
	}
	if got := jsonRows(t, silence("list", "--all", "--output=json")); !maps.Equal(got, want) {
		t.Errorf("list --all --output=json = %v, want %v", got, want)
	}

	for _, tc := range []struct{ ref, want string }{
		{fps, "daemon: silence " + fps + ": already ended at "},
		{"1NOSUCH", `daemon: silence "1NOSUCH": silence not found`}, // 1 is not in the IDs' alphabet
	} {
		if r := silence("expire", tc.ref); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("expire %s: want exit 1 and %q\n%s", tc.ref, tc.want, r)
		}
	}
}

// jsonRows reads `silence list --output=json` as ID to state.
func jsonRows(t *testing.T, r result) map[string]string {
	t.Helper()
	var list []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil {
		t.Fatalf("list --output=json: %v\n%s", err, r)
	}
	out := map[string]string{}
	for _, s := range list {
		out[s.ID] = s.State
	}
	return out
}
