package daemon_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake/slackfaketest"
	"github.com/spacetime-vr/spacetime-watch/internal/daemon"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/sim/simtest"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// alertNames are every alert the daemon may raise for a target.
func alertNames() []string {
	names := append([]string{monitor.ConditionTokenExpired, monitor.ConditionTokenRejected}, monitor.RuleNames()...)
	for _, c := range []string{"instance_up", "health", "status", "telemetry", "scene", "auth", "whitelist", "performance", "thresholds", "rate_limit"} {
		names = append(names, "check_"+c)
	}
	return names
}

// namedAlerts lists, per Slack message, the alerts it names: the fake
// records Block Kit and text, and every alert line carries its name.
func namedAlerts(slack *slackfake.Server) [][]string {
	var out [][]string
	for _, m := range slack.Messages() {
		body := string(m.Blocks) + m.Text
		var names []string
		for _, n := range alertNames() {
			if strings.Contains(body, n+" ") || strings.Contains(body, n+"*") || strings.Contains(body, n+"`") {
				names = append(names, n)
			}
		}
		out = append(out, names)
	}
	return out
}

// daemonAlerts fetches /api/v1/alerts.
func daemonAlerts(t *testing.T, d *runningDaemon) []alert.Alert {
	t.Helper()
	_, body := d.get("/api/v1/alerts")
	var resp daemon.AlertsResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("/api/v1/alerts: %v: %s", err, body)
	}
	return resp.Alerts
}

// inhibitedAlerts lists the alerts /api/v1/alerts marks inhibited, as name<by.
func inhibitedAlerts(t *testing.T, d *runningDaemon) []string {
	t.Helper()
	var out []string
	for _, a := range daemonAlerts(t, d) {
		if a.Inhibited {
			out = append(out, a.Name+"<"+a.InhibitedBy)
		}
	}
	slices.Sort(out)
	return out
}

// alertingSetup tunes startAlertingDaemon's config; zero values keep the
// fast clock of the end-to-end tests.
type alertingSetup struct {
	// interval is schedule.interval (default 1s). A long one makes sure
	// that the scheduled rounds are not what notices an outage.
	interval string
	// target holds more keys of the target, each line indented 4 spaces.
	target string
}

// fastTelemetry scales the telemetry outage down: telemetry_down after 1s
// without data, and a redial within half a second once the instance is
// back.
const fastTelemetry = `  telemetry: {down_for: 1s, backoff_initial: 100ms, backoff_max: 500ms}
`

// startAlertingDaemon runs the daemon on a simulated instance with a fake
// Slack webhook sink, on the fast clock of the end-to-end tests, and
// returns the target's token file.
func startAlertingDaemon(t *testing.T, s *sim.Sim, setup alertingSetup) (*runningDaemon, *slackfake.Server, string) {
	t.Helper()
	slack := slackfaketest.Start(t)
	dir := t.TempDir()
	webhookFile := filepath.Join(dir, "slack-webhook")
	testkit.WriteFile(t, webhookFile, slack.WebhookURL()+"\n")
	cfg := configYAML(t, dir, simTarget{"main", s}) + setup.target
	cfg = strings.Replace(cfg, "defaults:\n", "defaults:\n"+fastRules+fastTelemetry, 1)
	if setup.interval != "" {
		cfg = strings.Replace(cfg, "interval: 1s,", "interval: "+setup.interval+",", 1)
	}
	configFile := filepath.Join(dir, "config.yaml")
	testkit.WriteFile(t, configFile, alertingYAML(webhookFile)+cfg)
	d := startDaemon(t, configFile, daemonSetup{})
	main := map[string]string{"target": "main"}
	waitValue(t, d.reg, 10*time.Second, "spacetime_telemetry_connected", main, 1)
	waitValue(t, d.reg, 10*time.Second, "spacetime_up", main, 1)
	return d, slack, filepath.Join(dir, "main.token")
}

// restartSim starts an instance like s on s's addresses, once s is closed:
// the process came back. The checklist token stays the same.
func restartSim(t *testing.T, s *sim.Sim, opts sim.Options) *sim.Sim {
	t.Helper()
	info := s.Info()
	opts.APIAddress, opts.TelemetryAddress, opts.ControlAddress = info.API, info.Telemetry, info.Control
	if opts.Profile != sim.ProfileGodot {
		opts.Token = info.Token
	}
	return simtest.StartOn(t, opts)
}

// patchFaults applies a fault patch to the sim.
func patchFaults(t *testing.T, s *sim.Sim, patch string) {
	t.Helper()
	if err := s.PatchFaults([]byte(patch)); err != nil {
		t.Fatalf("faults %s: %v", patch, err)
	}
}

// causeEnv is what a scenario's steps act on.
type causeEnv struct {
	sim       *sim.Sim
	opts      sim.Options
	tokenFile string
}

// oneCause is one inhibition scenario: a cause, the one alert it must
// notify, the alerts it must list as inhibited, and the recovery.
type oneCause struct {
	name  string
	opts  sim.Options
	setup func(t *testing.T, s *sim.Sim) alertingSetup
	// cause breaks the instance; recovery mends it.
	cause, recovery func(t *testing.T, e *causeEnv)
	// alert is the one alert notified, firing then resolved.
	alert string
	// inhibited must all be listed as inhibited (name<by) while it fires;
	// any other inhibited alert must be explained by alert or by them.
	inhibited []string
	// firing checks the firing notification's text and the alert as
	// /api/v1/alerts lists it, when set.
	firing func(t *testing.T, e *causeEnv, text string, a alert.Alert)
	// afterRecovery runs once the recovery step is done (at recovered),
	// while the resolution is on its way, when set.
	afterRecovery func(t *testing.T, d *runningDaemon, recovered time.Time)
}

// TestOneCauseOneAlert: the fault scenarios of inhibition, against the
// simulator and the fake Slack, counting alerts, not messages: every
// notification names exactly one alert, the others the cause explains are
// listed as inhibited, and the recovery is one resolved notification
// naming the same alert.
func TestOneCauseOneAlert(t *testing.T) {
	godotTarget := func(t *testing.T, s *sim.Sim) alertingSetup {
		perfFile := filepath.Join(t.TempDir(), "performance.token")
		testkit.WriteFile(t, perfFile, s.Info().PerformanceToken+"\n")
		return alertingSetup{target: "    token_from_status: true\n    performance_token_file: " + perfFile +
			"\n    known_gaps: [health, status]\n"}
	}
	cases := []oneCause{
		{
			name:      "API down",
			cause:     func(t *testing.T, e *causeEnv) { patchFaults(t, e.sim, `{"api_down": true}`) },
			recovery:  func(t *testing.T, e *causeEnv) { patchFaults(t, e.sim, `{"api_down": false}`) },
			alert:     "check_instance_up",
			inhibited: []string{"check_scene<check_instance_up", "check_status<check_instance_up"},
		},
		{
			// The process stops: API and stream go together. The stream's
			// drop makes the daemon probe the API at once, so
			// check_instance_up fires within half of down_for although the
			// next scheduled round is a minute away, and telemetry_down,
			// when it comes, is inhibited. The stream coming back runs the
			// checks at once, which resolves it.
			name:  "sim stopped",
			setup: func(*testing.T, *sim.Sim) alertingSetup { return alertingSetup{interval: "1m"} },
			cause: func(t *testing.T, e *causeEnv) {
				if err := e.sim.Close(); err != nil {
					t.Fatal(err)
				}
			},
			recovery:  func(t *testing.T, e *causeEnv) { e.sim = restartSim(t, e.sim, e.opts) },
			alert:     "check_instance_up",
			inhibited: []string{"telemetry_down<check_instance_up"},
		},
		{
			name: "wrong token file",
			cause: func(t *testing.T, e *causeEnv) {
				testkit.WriteFile(t, e.tokenFile, "not-the-instance-token\n")
			},
			recovery:  func(t *testing.T, e *causeEnv) { testkit.WriteFile(t, e.tokenFile, e.sim.Info().Token+"\n") },
			alert:     "token_rejected",
			inhibited: []string{"check_auth<token_rejected", "check_scene<token_rejected"},
			firing: func(t *testing.T, e *causeEnv, text string, a alert.Alert) {
				for _, fix := range []string{e.tokenFile, "/status", "jwt_token"} {
					if !strings.Contains(text, fix) {
						t.Errorf("the notification does not say %q (the token file and how to fix it): %s", fix, text)
					}
				}
				if !strings.Contains(a.Hint, "a restarted instance has a new token") {
					t.Errorf("token_rejected's hint does not say that a restart changes the token: %q", a.Hint)
				}
			},
			afterRecovery: func(t *testing.T, d *runningDaemon, fixed time.Time) {
				// The round in flight when the file changed may have read
				// the old one; the next one must resolve it.
				rounds := map[time.Time]bool{}
				testkit.Eventually(t, 10*time.Second, "token_rejected resolved", func() (bool, string) {
					if last := d.status().Targets[0].LastRound; last.After(fixed) {
						rounds[last] = true
					}
					a, ok := alertNamed(t, d, "token_rejected")
					return !ok || a.State != alert.StateFiring, fmt.Sprintf("%d rounds since the fix, token_rejected %s", len(rounds), a.State)
				})
				if len(rounds) > 2 {
					t.Errorf("token_rejected resolved %d rounds after the file was fixed, want at the next one", len(rounds))
				}
			},
		},
		{
			name:      "JWT expired (godot)",
			opts:      sim.Options{Profile: sim.ProfileGodot},
			setup:     godotTarget,
			cause:     func(t *testing.T, e *causeEnv) { patchFaults(t, e.sim, `{"token_expired": true}`) },
			recovery:  func(t *testing.T, e *causeEnv) { e.sim.Restart("") },
			alert:     "token_expired",
			inhibited: []string{"check_auth<token_expired", "check_scene<token_expired"},
			firing: func(t *testing.T, e *causeEnv, text string, _ alert.Alert) {
				if !strings.Contains(text, "restart the instance") {
					t.Errorf("the notification does not say to restart the instance: %s", text)
				}
				if strings.Contains(strings.ToLower(text), " down") {
					t.Errorf("the notification calls the instance down: %s", text)
				}
			},
		},
		{
			// The stream's listener goes, the API stays: the probe finds
			// the API answering, telemetry_down is the one alert, and the
			// telemetry check, failing on later rounds (interval 5s, so
			// after telemetry_down's 1s), is inhibited by it.
			name:      "telemetry listener down",
			setup:     func(*testing.T, *sim.Sim) alertingSetup { return alertingSetup{interval: "5s"} },
			cause:     func(t *testing.T, e *causeEnv) { patchFaults(t, e.sim, `{"telemetry_down": true}`) },
			recovery:  func(t *testing.T, e *causeEnv) { patchFaults(t, e.sim, `{"telemetry_down": false}`) },
			alert:     "telemetry_down",
			inhibited: []string{"check_telemetry<telemetry_down"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			defer func() { t.Logf("%s: %v", tc.name, time.Since(began).Round(10*time.Millisecond)) }()
			runOneCause(t, tc)
		})
	}
}

// runOneCause plays one scenario: cause, one firing notification naming
// the alert while the others are listed as inhibited, recovery, one
// resolved notification naming it, and nothing more.
func runOneCause(t *testing.T, tc oneCause) {
	opts := tc.opts
	s := simtest.Start(t, opts)
	var setup alertingSetup
	if tc.setup != nil {
		setup = tc.setup(t, s)
	}
	d, slack, tokenFile := startAlertingDaemon(t, s, setup)
	e := &causeEnv{sim: s, opts: opts, tokenFile: tokenFile}

	tc.cause(t, e)
	testkit.Eventually(t, 20*time.Second, tc.alert+" notified, the alerts it explains inhibited", func() (bool, string) {
		inh := inhibitedAlerts(t, d)
		return len(slack.Messages()) >= 1 && containsAll(inh, tc.inhibited), fmt.Sprintf("messages %v, inhibited %v", namedAlerts(slack), inh)
	})
	for _, a := range inhibitedAlerts(t, d) {
		by := a[strings.Index(a, "<")+1:]
		if by != tc.alert && !slices.ContainsFunc(tc.inhibited, func(i string) bool { return strings.HasPrefix(i, by+"<") }) {
			t.Errorf("%s: inhibited by something %s does not explain", a, tc.alert)
		}
	}
	if got, want := namedAlerts(slack), [][]string{{tc.alert}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("notifications while the cause lasts name %v, want %v", got, want)
	}
	if tc.firing != nil {
		m := slack.Messages()[0]
		a, _ := alertNamed(t, d, tc.alert)
		tc.firing(t, e, string(m.Blocks)+m.Text, a)
	}

	recovered := time.Now()
	tc.recovery(t, e)
	if tc.afterRecovery != nil {
		tc.afterRecovery(t, d, recovered)
	}
	testkit.Eventually(t, 20*time.Second, tc.alert+" resolved", func() (bool, string) {
		return len(slack.Messages()) >= 2, fmt.Sprint(namedAlerts(slack))
	})
	waitSettled(t, d)
	want := [][]string{{tc.alert}, {tc.alert}}
	if got := namedAlerts(slack); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("notifications name %v, want %v", got, want)
	}
}

// waitSettled waits until the daemon has nothing left to notify: no alert
// firing or pending (an inhibited one still firing would be notified on
// its own once released), and every notification delivered.
func waitSettled(t *testing.T, d *runningDaemon) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, "every alert resolved and every notification delivered", func() (bool, string) {
		var open []string
		for _, a := range daemonAlerts(t, d) {
			if a.State != alert.StateResolved {
				open = append(open, a.Name+" "+string(a.State))
			}
		}
		_, body := d.get("/api/v1/outbox")
		var out daemon.OutboxResponse
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("/api/v1/outbox: %v: %s", err, body)
		}
		pending := 0
		for _, n := range out.Pending {
			pending += n
		}
		return len(open) == 0 && pending == 0, fmt.Sprintf("open alerts %v, %d notifications pending", open, pending)
	})
}

// containsAll reports whether every one of want is in have.
func containsAll(have, want []string) bool {
	return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(have, w) })
}

// alertNamed finds the alert called name in /api/v1/alerts.
func alertNamed(t *testing.T, d *runningDaemon, name string) (alert.Alert, bool) {
	t.Helper()
	for _, a := range daemonAlerts(t, d) {
		if a.Name == name {
			return a, true
		}
	}
	return alert.Alert{}, false
}
