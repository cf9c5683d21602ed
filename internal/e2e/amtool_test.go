package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/alertmanager"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// Receivers of deploy/alertmanager/alertmanager.yml.
const (
	receiverPaging  = "oncall"
	receiverChannel = "team-channel" // pages no one
	receiverDrop    = "blackhole"
)

// alertmanagerExample is the routing example, relative to the repository.
var alertmanagerExample = filepath.Join("deploy", "alertmanager", "alertmanager.yml")

// TestAlertmanagerRouting checks deploy/alertmanager/alertmanager.yml with
// amtool (Debian's prometheus-alertmanager): the config is valid, the
// alert of `spacetime-watch notify test` goes to the channel that pages no
// one, the daemon's alerts page, what path A drops is dropped, and every
// alert of deploy/prometheus/rules.yml pages except SpacetimeAlertFiring.
// The sink's alerts are routed with the very labels the sink posts.
func TestAlertmanagerRouting(t *testing.T) {
	amtool := testkit.Tool(t, "amtool")
	t.Parallel()
	root := repoRoot(t)
	config := filepath.Join(root, alertmanagerExample)
	if out, err := exec.CommandContext(t.Context(), amtool, "check-config", config).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerExample, err, out)
	}

	type routeCase struct {
		name   string
		labels map[string]string
		want   string
	}
	fps := alert.Alert{Fingerprint: "main-fps_low", Target: "main", Name: "fps_low", Severity: alert.SeverityCritical,
		State: alert.StateFiring, Summary: "FPS below 85 on main"}
	memory := fps
	memory.Fingerprint, memory.Name, memory.Severity = "main-memory_high", "memory_high", alert.SeverityWarning
	failing := fps
	failing.Fingerprint, failing.Target, failing.Name = "internal-nf", alert.InternalTarget, "NotificationsFailing"
	recovered := failing
	recovered.Fingerprint, recovered.Name, recovered.Severity = "internal-sr", "StateRecovered", alert.SeverityWarning
	cases := []routeCase{
		{"notify test", sinkLabels(t, alert.Message{ID: "test-1", Kind: alert.KindTest, Target: "main",
			Title: "spacetime-watch test notification"}), receiverChannel},
		{"daemon fps_low critical", sinkAlertLabels(t, fps), receiverPaging},
		{"daemon memory_high warning", sinkAlertLabels(t, memory), receiverPaging},
		{"daemon NotificationsFailing", sinkAlertLabels(t, failing), receiverDrop},
		{"daemon StateRecovered", sinkAlertLabels(t, recovered), receiverDrop},
		{"heartbeat", map[string]string{"alertname": alertmanager.HeartbeatAlertName, "severity": "none",
			"job": alertmanager.Job, "instance": "host-1"}, receiverDrop},
	}
	for _, g := range loadRules(t, root).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			labels := map[string]string{"alertname": r.Alert, "job": alertmanager.Job, "target": "main"}
			for k, v := range r.Labels {
				if strings.Contains(v, "{{") {
					v = "critical" // a templated severity: the worst it can be
				}
				labels[k] = v
			}
			want := receiverPaging
			if r.Alert == "SpacetimeAlertFiring" {
				want = receiverDrop // path A: the sink delivers these itself
			}
			cases = append(cases, routeCase{"rule " + r.Alert, labels, want})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"config", "routes", "test", "--config.file=" + config}
			for _, k := range slices.Sorted(maps.Keys(tc.labels)) {
				args = append(args, k+"="+tc.labels[k])
			}
			cmd := exec.CommandContext(t.Context(), amtool, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, &stdout, &stderr)
			}
			if got := strings.TrimSpace(stdout.String()); got != tc.want {
				t.Errorf("%s routes to %q, want %q\n(amtool %s)", tc.name, got, tc.want, strings.Join(args, " "))
			}
		})
	}
}

// sinkAlertLabels are the labels the alertmanager sink posts for a.
func sinkAlertLabels(t *testing.T, a alert.Alert) map[string]string {
	t.Helper()
	return sinkLabels(t, alert.Message{ID: "m-" + a.Name, Kind: alert.KindAlerts, Alerts: []alert.Alert{a}, Target: a.Target})
}

// sinkLabels are the labels of the one alert the alertmanager sink posts
// for m, caught by a loopback Alertmanager stand-in.
func sinkLabels(t *testing.T, m alert.Message) map[string]string {
	t.Helper()
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case bodies <- b:
		default:
		}
	}))
	defer srv.Close()
	n, err := alertmanager.New(alertmanager.Options{Name: "am", URLs: []string{srv.URL}, Timeout: 5 * time.Second,
		ExternalLabels: map[string]string{"instance": "host-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(t.Context(), m); err != nil {
		t.Fatalf("Notify: retry=%v: %v", retry, err)
	}
	var posted []struct {
		Labels map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(<-bodies, &posted); err != nil || len(posted) != 1 {
		t.Fatalf("the sink posted %d alerts (%v), want 1", len(posted), err)
	}
	return posted[0].Labels
}

// TestAlertmanagerExampleQuoted: deploy/README.md quotes
// deploy/alertmanager/alertmanager.yml whole, so that the routing users
// read is the routing TestAlertmanagerRouting checks.
func TestAlertmanagerExampleQuoted(t *testing.T) {
	root := repoRoot(t)
	file, err := os.ReadFile(filepath.Join(root, alertmanagerExample))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(file), "\n")
	var quotes []string
	for _, block := range fencedBlocks(string(readme), "yaml") {
		if strings.HasPrefix(block, first+"\n") {
			quotes = append(quotes, block)
		}
	}
	if len(quotes) != 1 {
		t.Fatalf("deploy/README.md has %d yaml blocks starting with %q, want 1: the whole of %s", len(quotes), first, alertmanagerExample)
	}
	if quotes[0] != string(file) {
		want, got := strings.Split(string(file), "\n"), strings.Split(quotes[0], "\n")
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		t.Errorf("deploy/README.md's quote of %s differs at its line %d:\n README: %q\n file:   %q\ncopy the file into the README",
			alertmanagerExample, i+1, line(got, i), line(want, i))
	}
}

func line(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end)"
}

// fencedBlocks returns the content of every ```lang block of a Markdown
// text, each line ending in a newline.
func fencedBlocks(md, lang string) []string {
	var blocks []string
	var cur *strings.Builder
	for l := range strings.Lines(md) {
		trimmed := strings.TrimRight(l, "\n")
		switch {
		case cur == nil && trimmed == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(l)
		}
	}
	return blocks
}
