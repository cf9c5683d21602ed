package config

import (
	"errors"
	"flag"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the testdata golden files")

// sentinel is the value of every token variable in the test environment: no
// error message or effective config may ever contain it.
const sentinel = "sentinel-3f9a-token-value"

var testEnv = map[string]string{
	"CREDENTIALS_DIRECTORY": "/run/credentials/spacetime-watch.service",
	"SPACETIME_TOKEN":       sentinel,
	"SPACETIME_PERF_TOKEN":  sentinel,
	"SLACK_WEBHOOK_URL":     sentinel,
	"SLACK_BOT_TOKEN":       sentinel,
	"WEBHOOK_URL":           sentinel,
	"WEBHOOK_HMAC_SECRET":   sentinel,
}

// Secrets written into the wrong fields of the error fixtures: a webhook URL
// and a bot token pasted where a file or variable name belongs. No error
// may repeat them.
const (
	sentinelWebhook  = "https://hooks.slack.com/services/T0000/B0000/sentinelwebhook"
	sentinelBotToken = "xoxb-sentinel-bot-token"
)

func getenv(k string) string { return testEnv[k] }

func testOpts(file string) ParseOptions {
	return ParseOptions{Getenv: getenv, BaseDir: "/etc/spacetime-watch", Filename: file}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseErrors runs every testdata/errors/*.yaml fixture and compares the
// whole error text with its .golden file: each kind of problem, its path,
// its line and its fix, all reported at once and in file order.
func TestParseErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			cfg, err := Parse(readFile(t, f), testOpts(filepath.Base(f)))
			if cfg != nil {
				t.Error("Parse returned a config along with an error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want a *ValidationError, got %T: %v", err, err)
			}
			if len(ve.Problems) == 0 {
				t.Fatal("ValidationError without problems")
			}
			text := err.Error()
			for _, secret := range []string{sentinel, "hunter2", "pa ss", "sentinelwebhook", sentinelBotToken} {
				if strings.Contains(text, secret) {
					t.Errorf("error text reveals the secret %q:\n%s", secret, text)
				}
			}
			testkit.CheckGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(text+"\n"), *update)
		})
	}
}

// TestAcceptance is the acceptance case, spelled out: an unknown key,
// a negative interval and an FPS min above max give one error naming all
// three field paths.
func TestAcceptance(t *testing.T) {
	_, err := Parse(readFile(t, "testdata/errors/acceptance.yaml"), testOpts(""))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %v", err)
	}
	if len(ve.Problems) != 3 {
		t.Errorf("want 3 problems, got %d:\n%v", len(ve.Problems), err)
	}
	for _, path := range []string{
		"defaults.schedule.interval:",
		"targets[0].thresholds.fps.min:",
		"targets[0].colour:",
	} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name %s:\n%v", path, err)
		}
	}
}

func TestProblemsSortedByPosition(t *testing.T) {
	_, err := Parse(readFile(t, "testdata/errors/impossible_values.yaml"), testOpts(""))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(ve.Problems, func(a, b Problem) int { return a.Line - b.Line }) {
		t.Errorf("problems not in file order: %v", ve.Problems)
	}
	for _, p := range ve.Problems {
		if p.Line == 0 {
			t.Errorf("problem without a line: %v", p)
		}
	}
}

func TestParseValid(t *testing.T) {
	mustURLs := func(ss ...string) []*url.URL {
		var out []*url.URL
		for _, s := range ss {
			out = append(out, mustURL(s))
		}
		return out
	}
	tests := []struct {
		file  string
		check func(t *testing.T, c *Config)
	}{
		{"empty.yaml", func(t *testing.T, c *Config) {
			if want := Default(); !reflect.DeepEqual(*c, want) {
				t.Errorf("empty file:\n got %+v\nwant %+v", *c, want)
			}
		}},
		{"empty_targets.yaml", func(t *testing.T, c *Config) {
			if want := Default(); !reflect.DeepEqual(*c, want) {
				t.Errorf("targets: []:\n got %+v\nwant %+v", *c, want)
			}
		}},
		{"defaults_only.yaml", func(t *testing.T, c *Config) {
			if want := Default(); !reflect.DeepEqual(*c, want) {
				t.Errorf("defaults-only file:\n got %+v\nwant %+v", *c, want)
			}
		}},
		{"multi_target.yaml", func(t *testing.T, c *Config) {
			if len(c.Targets) != 2 {
				t.Fatalf("want 2 targets, got %d", len(c.Targets))
			}
			main, vr2 := c.Targets[0], c.Targets[1]
			// main: defaults section merged over built-in defaults.
			equal(t, "main.schedule.interval", main.Schedule.Interval, 10*time.Minute)
			equal(t, "main.schedule.timeout", main.Schedule.Timeout, 60*time.Second)
			equal(t, "main.fps.min", main.Thresholds.FPS.Min, 80.0)
			equal(t, "main.fps.max", main.Thresholds.FPS.Max, 95.0)
			equal(t, "main.memory.max_mb", main.Thresholds.Memory.MaxMB, 800.0)
			equal(t, "main.known_gaps", main.KnownGaps, []KnownGap{{CheckHealth, DefaultKnownGapReason}})
			equal(t, "main.offsets", main.Reviews.Offsets, []time.Duration{30 * time.Minute, 2 * time.Hour})
			equal(t, "main.api_url", main.APIURL, mustURL("http://127.0.0.1:8080"))
			equal(t, "main.telemetry_urls", main.TelemetryURLs, mustURLs("ws://127.0.0.1:8081/"))
			// vr-2: its own overrides over the defaults section.
			equal(t, "vr2.api_url", vr2.APIURL.String(), "http://127.0.0.1:8090/api")
			equal(t, "vr2.telemetry_urls", vr2.TelemetryURLs, mustURLs("ws://127.0.0.1:8091/", "wss://vr-2.example:8443/telemetry"))
			equal(t, "vr2.expected", vr2.Expected, Expected{"staging", "res://vr_main.tscn"})
			equal(t, "vr2.known_gaps", vr2.KnownGaps, []KnownGap{})
			equal(t, "vr2.schedule", vr2.Schedule, Schedule{Interval: 10 * time.Minute, Timeout: 30 * time.Second, Intrusive: true})
			equal(t, "vr2.fps", vr2.Thresholds.FPS, FPSThresholds{Min: 80, Max: 100, CriticalMin: 45, For: 5 * time.Minute, Hysteresis: 2})
			equal(t, "vr2.memory.max_mb", vr2.Thresholds.Memory.MaxMB, 800.0)
			equal(t, "vr2.checks.failure_threshold", vr2.Checks.FailureThreshold, 3)
			equal(t, "vr2.checks.success_threshold", vr2.Checks.SuccessThreshold, 1)
			equal(t, "vr2.telemetry", vr2.Telemetry, Telemetry{90 * time.Second, 2 * time.Minute, time.Second, 30 * time.Second, 1 << 20, 30 * time.Second})
			equal(t, "vr2.deployment", vr2.Deployment, Deployment{
				AutoDetect: false, Version: "1.10",
				StartedAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
			})
			// The defaults section itself is kept, merged.
			equal(t, "defaults.interval", c.Defaults.Schedule.Interval, 10*time.Minute)
			// Targets share no slices with the defaults or each other.
			main.Reviews.Offsets[0] = time.Second
			equal(t, "defaults.offsets unchanged", c.Defaults.Reviews.Offsets[0], 30*time.Minute)
		}},
		{"credentials.yaml", func(t *testing.T, c *Config) {
			a, b, d := c.Targets[0], c.Targets[1], c.Targets[2]
			equal(t, "a.token", a.APIToken(), TokenRef{File: "/run/credentials/spacetime-watch.service/api-token"})
			equal(t, "a.perf", a.PerformanceToken(), TokenRef{File: "/run/credentials/spacetime-watch.service/perf-token"})
			equal(t, "a.from_status", a.TokenFromStatus, false)
			equal(t, "b.token (relative, $$)", b.APIToken(), TokenRef{File: "/etc/spacetime-watch/tokens/second$1"})
			equal(t, "b.from_status (explicit)", b.TokenFromStatus, true)
			equal(t, "b.perf", b.PerformanceToken(), TokenRef{Env: "SPACETIME_PERF_TOKEN"})
			equal(t, "d.token", d.APIToken(), TokenRef{Env: "SPACETIME_TOKEN"})
			equal(t, "d.from_status", d.TokenFromStatus, false)
			equal(t, "d.perf", d.PerformanceToken().IsZero(), true)
		}},
		{"cron_override.yaml", func(t *testing.T, c *Config) {
			equal(t, "defaults", c.Defaults.Schedule, Schedule{Cron: "*/5 * * * *", Timeout: time.Minute})
			equal(t, "by-cron", c.Targets[0].Schedule, Schedule{Cron: "*/5 * * * *", Timeout: time.Minute})
			equal(t, "by-interval", c.Targets[1].Schedule, Schedule{Interval: 2 * time.Minute, Timeout: time.Minute})
		}},
		{"known_gaps_forms.yaml", func(t *testing.T, c *Config) {
			tg := &c.Targets[0]
			equal(t, "gaps", tg.KnownGaps, []KnownGap{
				{CheckHealth, DefaultKnownGapReason},
				{CheckStatus, "environment is hard-coded to development"},
				{CheckPerformance, DefaultKnownGapReason},
			})
			reason, ok := tg.KnownGap(CheckStatus)
			equal(t, "KnownGap(status)", [2]any{reason, ok}, [2]any{"environment is hard-coded to development", true})
			_, ok = tg.KnownGap(CheckAuth)
			equal(t, "KnownGap(auth)", ok, false)
		}},
		{"alerting.yaml", func(t *testing.T, c *Config) {
			a := c.Alerting
			equal(t, "group_by", a.GroupBy, []string{"target", "severity"})
			equal(t, "timing", [4]time.Duration{a.GroupWait, a.GroupInterval, a.RepeatInterval, a.GracePeriod},
				[4]time.Duration{0, time.Minute, 5 * time.Minute, 0})
			equal(t, "send_resolved", a.SendResolved, false)
			equal(t, "runbook_url", a.RunbookURL, "https://runbooks.example.com/spacetime/{{.Alert}}")
			equal(t, "outbox", a.Outbox, Outbox{BackoffInitial: 500 * time.Millisecond, BackoffMax: 30 * time.Second})
			if len(a.Sinks) != 7 {
				t.Fatalf("want 7 sinks, got %d", len(a.Sinks))
			}
			// Each sink: its own keys, and its type's defaults for the rest.
			equal(t, "oncall", a.Sinks[0], Sink{
				Name: "oncall", Type: SinkSlackWebhook, Timeout: 10 * time.Second, MinInterval: time.Second,
				WebhookURLFile: "/run/credentials/spacetime-watch.service/slack-webhook",
			})
			equal(t, "oncall.WebhookURL", a.Sinks[0].WebhookURL(), TokenRef{File: "/run/credentials/spacetime-watch.service/slack-webhook"})
			equal(t, "team.WebhookURL", a.Sinks[1].WebhookURL(), TokenRef{Env: "SLACK_WEBHOOK_URL"})
			equal(t, "team.timeout", [2]time.Duration{a.Sinks[1].Timeout, a.Sinks[1].MinInterval}, [2]time.Duration{5 * time.Second, 2 * time.Second})
			equal(t, "bot", a.Sinks[2], Sink{
				Name: "bot", Type: SinkSlackBot, Timeout: 10 * time.Second, MinInterval: time.Second,
				BotTokenFile: "/etc/spacetime-watch/secrets/slack-bot-token", Channel: "C0123456789",
				APIURL: mustURL("https://slack.com/api/"),
			})
			equal(t, "bot.BotToken", a.Sinks[2].BotToken(), TokenRef{File: "/etc/spacetime-watch/secrets/slack-bot-token"})
			equal(t, "am", a.Sinks[3], Sink{
				Name: "am", Type: SinkAlertmanager, Timeout: 10 * time.Second,
				URLs:           mustURLs("http://127.0.0.1:9093", "https://am-2.example:9094/alertmanager"),
				ResendInterval: time.Minute, Heartbeat: true,
			})
			equal(t, "hooks", a.Sinks[4], Sink{
				Name: "hooks", Type: SinkWebhook, Timeout: 10 * time.Second,
				URL: mustURL("http://127.0.0.1:5001/alerts"), HMACSecretFile: "/run/credentials/spacetime-watch.service/webhook-hmac",
			})
			equal(t, "hooks.HMACSecret", a.Sinks[4].HMACSecret(), TokenRef{File: "/run/credentials/spacetime-watch.service/webhook-hmac"})
			equal(t, "hooks.URLSecret", a.Sinks[4].URLSecret().IsZero(), true)
			equal(t, "pager", a.Sinks[5], Sink{
				Name: "pager", Type: SinkWebhook, Timeout: 10 * time.Second,
				URLEnv: "WEBHOOK_URL", HMACSecretEnv: "WEBHOOK_HMAC_SECRET", MaxAlerts: 20,
			})
			equal(t, "pager.URLSecret", a.Sinks[5].URLSecret(), TokenRef{Env: "WEBHOOK_URL"})
			equal(t, "console", a.Sinks[6], Sink{Name: "console", Type: SinkConsole, Timeout: 10 * time.Second})
			if s, ok := a.Sink("bot"); !ok || s != &a.Sinks[2] {
				t.Errorf("Sink(bot) = %p, %v", s, ok)
			}
			if _, ok := a.Sink("nope"); ok {
				t.Error("Sink(nope) found something")
			}
		}},
		{"anchors.yaml", func(t *testing.T, c *Config) {
			second := c.Targets[1]
			equal(t, "second.name", second.Name, "second")
			equal(t, "second.fps.min (merged)", second.Thresholds.FPS.Min, 70.0)
			equal(t, "second.memory.max_mb", second.Thresholds.Memory.MaxMB, 600.0)
		}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".yaml"), func(t *testing.T) {
			c, err := Parse(readFile(t, filepath.Join("testdata/valid", tt.file)), testOpts(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
}

// TestDefaultsReproduceChecklist pins the deployment checklist's numbers.
func TestDefaultsReproduceChecklist(t *testing.T) {
	c := Default()
	if len(c.Targets) != 1 {
		t.Fatalf("want one default target, got %d", len(c.Targets))
	}
	tg := c.Targets[0]
	equal(t, "name", tg.Name, "local")
	equal(t, "api_url", tg.APIURL.String(), "http://127.0.0.1:8080")
	equal(t, "telemetry", tg.TelemetryURLs[0].String(), "ws://127.0.0.1:8081/")
	equal(t, "token_from_status", tg.TokenFromStatus, true)
	equal(t, "interval", tg.Schedule.Interval, 5*time.Minute)
	equal(t, "fps band", [3]float64{tg.Thresholds.FPS.CriticalMin, tg.Thresholds.FPS.Min, tg.Thresholds.FPS.Max}, [3]float64{45, 85, 95})
	equal(t, "memory", tg.Thresholds.Memory.MaxMB, 400.0)
	equal(t, "growth", [2]any{tg.Thresholds.Memory.GrowthMBPerMin, tg.Thresholds.Memory.GrowthWindow}, [2]any{10.0, 15 * time.Minute})
	equal(t, "reviews", tg.Reviews.Offsets, []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour})
	equal(t, "failure/success", [2]int{tg.Checks.FailureThreshold, tg.Checks.SuccessThreshold}, [2]int{2, 1})
	equal(t, "telemetry_timeout", tg.Checks.TelemetryTimeout, 10*time.Second)
	equal(t, "expected", tg.Expected, Expected{"production", "res://vr_main.tscn"})
	equal(t, "silence", tg.Telemetry.SilenceTimeout, 90*time.Second)
	equal(t, "backoff_max", tg.Telemetry.BackoffMax, 60*time.Second)
	equal(t, "threshold window", [2]any{tg.Checks.ThresholdWindow, tg.Checks.ThresholdInBandRatio}, [2]any{15 * time.Second, 0.95})
	// Alerting: Alertmanager's grouping defaults, and no sinks.
	a := c.Alerting
	equal(t, "group_by", a.GroupBy, []string{"target"})
	equal(t, "group timing", [3]time.Duration{a.GroupWait, a.GroupInterval, a.RepeatInterval}, [3]time.Duration{30 * time.Second, 5 * time.Minute, 4 * time.Hour})
	equal(t, "send_resolved, grace", [2]any{a.SendResolved, a.GracePeriod}, [2]any{true, 5 * time.Minute})
	equal(t, "links", [2]string{a.RunbookURL, a.DashboardURL}, [2]string{"", ""})
	equal(t, "outbox", a.Outbox, Outbox{BackoffInitial: time.Second, BackoffMax: 60 * time.Second})
	equal(t, "sinks", a.Sinks, []Sink{})
	if ps := validate(&c, getenv, Known{}); len(ps) != 0 {
		t.Errorf("Default() is not valid: %v", ps)
	}
}

func TestScheduledChecks(t *testing.T) {
	tg := defaultTarget()
	equal(t, "default", tg.ScheduledChecks(), []CheckName{
		CheckInstanceUp, CheckHealth, CheckStatus, CheckTelemetry, CheckScene, CheckAuth, CheckWhitelist, CheckPerformance,
	})
	tg.Schedule.Intrusive = true
	equal(t, "intrusive", tg.ScheduledChecks(), []CheckName{
		CheckInstanceUp, CheckHealth, CheckStatus, CheckTelemetry, CheckScene, CheckAuth, CheckRateLimit, CheckWhitelist, CheckPerformance,
	})
}

func TestConfigTarget(t *testing.T) {
	c := Default()
	if tg, ok := c.Target("local"); !ok || tg != &c.Targets[0] {
		t.Errorf("Target(local) = %p, %v", tg, ok)
	}
	if _, ok := c.Target("nope"); ok {
		t.Error("Target(nope) found something")
	}
}

// TestExampleLoads loads the shipped deploy/config.example.yaml through
// Load, as the daemon would under systemd, and checks what it documents.
func TestExampleLoads(t *testing.T) {
	creds := t.TempDir()
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	c, err := Load("../../deploy/config.example.yaml", Known{})
	if err != nil {
		t.Fatal(err)
	}
	// The example's defaults section shows the built-in defaults, apart from
	// the known gaps of the stock build.
	want := defaultSettings()
	want.KnownGaps = c.Defaults.KnownGaps
	equal(t, "defaults section", c.Defaults, want)
	if len(c.Targets) != 2 {
		t.Fatalf("want 2 targets, got %d", len(c.Targets))
	}
	equal(t, "main.perf token", c.Targets[0].PerformanceToken().Describe(), "file "+filepath.Join(creds, "performance-token"))
	equal(t, "staging.cron", c.Targets[1].Schedule.Cron, "*/15 * * * *")
	equal(t, "staging.fps", [2]float64{c.Targets[1].Thresholds.FPS.Min, c.Targets[1].Thresholds.FPS.Max}, [2]float64{60, 95})
	// The alerting section shows the built-in defaults and one Slack
	// webhook sink whose URL comes from a systemd credential.
	wantAlerting := defaultAlerting()
	wantAlerting.Sinks = c.Alerting.Sinks
	equal(t, "alerting", c.Alerting, wantAlerting)
	if len(c.Alerting.Sinks) != 1 {
		t.Fatalf("want 1 sink, got %d", len(c.Alerting.Sinks))
	}
	s := c.Alerting.Sinks[0]
	equal(t, "sink", [2]any{s.Name, s.Type}, [2]any{"oncall", SinkSlackWebhook})
	equal(t, "sink webhook", s.WebhookURL().Describe(), "file "+filepath.Join(creds, "slack-webhook"))
	equal(t, "sink min_interval", s.MinInterval, time.Second)
}

// TestExampleCommentedSinks uncomments the example's commented-out link
// templates and sinks, which must load as they are: a reader copies them.
func TestExampleCommentedSinks(t *testing.T) {
	data := string(readFile(t, "../../deploy/config.example.yaml"))
	head, alerting, ok := strings.Cut(data, "\nalerting:\n")
	if !ok {
		t.Fatal("the example has no alerting section")
	}
	alerting = regexp.MustCompile(`(?m)^(  )# ((?:runbook|dashboard)_url:)`).ReplaceAllString(alerting, "$1$2")
	alerting = regexp.MustCompile(`(?m)^(    )# (- |  )`).ReplaceAllString(alerting, "$1$2")
	data = head + "\nalerting:\n" + alerting
	c, err := Parse([]byte(data), testOpts("config.example.yaml"))
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	var types []SinkType
	for _, s := range c.Alerting.Sinks {
		types = append(types, s.Type)
	}
	equal(t, "sink types", types, []SinkType{SinkSlackWebhook, SinkSlackBot, SinkAlertmanager, SinkWebhook, SinkConsole})
	bot := c.Alerting.Sinks[1]
	equal(t, "bot token", bot.BotToken(), TokenRef{File: "/run/credentials/spacetime-watch.service/slack-bot-token"})
	equal(t, "am heartbeat", c.Alerting.Sinks[2].Heartbeat, true)
	hooks := c.Alerting.Sinks[3]
	equal(t, "webhook", [3]any{hooks.URL.String(), hooks.HMACSecret(), hooks.MaxAlerts},
		[3]any{"https://receiver.example.com/alerts", TokenRef{File: "/run/credentials/spacetime-watch.service/webhook-hmac"}, 0})
	link, err := RenderLink(c.Alerting.DashboardURL, LinkData{Target: "vr 2", Alert: "fps_low", Severity: "warning"})
	equal(t, "dashboard link", [2]any{link, err}, [2]any{"https://grafana.example.com/d/spacetime-watch?var-target=vr+2", error(nil)})
}

func TestLoad(t *testing.T) {
	t.Run("relative token file is taken from the config's folder", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte("targets:\n  - name: main\n    api_url: http://127.0.0.1:8080\n    token_file: secrets/api-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, Known{})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "token_file", c.Targets[0].TokenFile, filepath.Join(dir, "secrets", "api-token"))
	})
	t.Run("missing file is a read error, not a validation error", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), Known{})
		var ve *ValidationError
		if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ve) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("validation error names the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(path, []byte("bogus: 1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, Known{})
		want := "config file " + path + ": line 1: bogus: unknown field; known fields: defaults, targets, target_files, alerting"
		if err == nil || err.Error() != want {
			t.Errorf("got  %v\nwant %s", err, want)
		}
	})
}

// TestWarnings: a value the daemon accepts but will not use as written is a
// Warning with its path and line, and the config still loads; a file with
// nothing to say has none.
func TestWarnings(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"sink timeout above the attempt limit",
			"alerting:\n  sinks:\n    - {name: a, type: console, timeout: 11s}\n    - {name: b, type: console, timeout: 10s}\n",
			[]string{"line 3: alerting.sinks[0].timeout: 11s is above the outbox's limit on one delivery attempt (10s): each attempt is cut at 10s and retried; set 10s or less"}},
		{"remote API, telemetry left to this host",
			"targets:\n  - name: far\n    api_url: https://vr.example:8443/api\n  - name: none\n    api_url: http://vr-3.example:8080\n    telemetry_urls: []\n",
			[]string{"line 2: targets[0].telemetry_urls: not set, so the telemetry stream is looked for on this host (ws://127.0.0.1:8081/) while api_url is on vr.example; give the instance's stream, e.g. ws://vr.example:8081/, or [] when it runs no telemetry server"}},
		{"nothing to say", "targets:\n  - name: main\n    api_url: http://127.0.0.1:8080\n", nil},
		{"API on localhost, telemetry left to this host", "targets:\n  - name: main\n    api_url: http://localhost:8090\n", nil},
		{"the implicit local target", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), ParseOptions{Getenv: getenv})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range c.Warnings {
				got = append(got, w.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
