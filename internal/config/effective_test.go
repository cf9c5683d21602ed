package config

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestEffectiveGolden pins what check-config prints for an empty file.
func TestEffectiveGolden(t *testing.T) {
	c := Default()
	out, err := c.Effective()
	if err != nil {
		t.Fatal(err)
	}
	testkit.CheckGolden(t, "testdata/effective/default.golden", out, *update)
}

// roundTrip checks that c's effective config parses back to an equal
// Config, and that printing it again gives the same bytes.
func roundTrip(t *testing.T, c *Config, opts ParseOptions) {
	t.Helper()
	out, err := c.Effective()
	if err != nil {
		t.Fatalf("Effective: %v", err)
	}
	if strings.Contains(string(out), sentinel) {
		t.Fatalf("effective config reveals a token:\n%s", out)
	}
	back, err := Parse(out, opts)
	if err != nil {
		t.Fatalf("effective config does not parse back: %v\n%s", err, out)
	}
	// Warnings are about a file, at its lines, not part of the configuration.
	before, after := *c, *back
	before.Warnings, after.Warnings = nil, nil
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("effective config parses back to a different Config\n--- effective:\n%s\n--- before: %+v\n--- after:  %+v", out, *c, *back)
	}
	again, err := back.Effective()
	if err != nil || string(again) != string(out) {
		t.Fatalf("effective config is not stable (err %v):\n%s\n---\n%s", err, out, again)
	}
}

func TestEffectiveRoundTripFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	files = append(files, "../../deploy/config.example.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			opts := testOpts(f)
			c, err := Parse(readFile(t, f), opts)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c, opts)
		})
	}
}

// TestEffectiveRoundTripRandom is a property test: random valid configs,
// full of values that YAML likes to misread (strings such as "yes", "1.0"
// and "null", odd durations, fractional thresholds, $ in paths), survive
// Effective and Parse unchanged.
func TestEffectiveRoundTripRandom(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		c := randomConfig(r)
		for _, f := range validate(c, getenv, Known{}) {
			if !f.warn { // a warning (a capped sink timeout) leaves it valid
				t.Fatalf("seed %d: the generator made an invalid config: %v", seed, f)
			}
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { roundTrip(t, c, testOpts("")) })
	}
}

var trickyStrings = []string{
	"production", "staging", "yes", "no", "null", "~", "1.0", "1e3", "0x1F", "true",
	"a: b", "#hash", " leading", "trailing ", "ünïcødé", "'single'", `"double"`,
	"two\nlines", "tab\there", "- dash", "[flow]", "{map}", "*alias", "&anchor", "!tag", "%pct", "@at", "`tick",
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func randomDuration(r *rand.Rand, lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(r.Int64N(int64(hi-lo)))
	if r.IntN(2) == 0 {
		d = d.Truncate(time.Second) // round values as well as odd ones
	}
	return max(d, lo)
}

func randomSettings(r *rand.Rand) Settings {
	s := defaultSettings()
	s.Expected = Expected{pick(r, trickyStrings), "res://" + pick(r, []string{"vr_main", "a b/c", "x:y", "yes"}) + ".tscn"}
	s.KnownGaps = []KnownGap{}
	for _, c := range allChecks[1:] {
		if r.IntN(4) == 0 {
			s.KnownGaps = append(s.KnownGaps, KnownGap{c, pick(r, trickyStrings)})
		}
	}
	s.Deployment = Deployment{AutoDetect: r.IntN(2) == 0, Version: pick(r, append(trickyStrings, ""))}
	if r.IntN(2) == 0 {
		s.Deployment.StartedAt = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
	}
	s.Schedule.Intrusive = r.IntN(2) == 0
	s.Schedule.Timeout = randomDuration(r, 10*time.Second, 2*time.Minute)
	if r.IntN(2) == 0 {
		s.Schedule.Interval = s.Schedule.Timeout + randomDuration(r, time.Millisecond, 24*time.Hour)
	} else {
		s.Schedule.Interval = 0
		s.Schedule.Cron = pick(r, []string{"*/5 * * * *", "@every 1h30m", "CRON_TZ=UTC 0 * * * *", "@hourly"})
	}
	k := &s.Checks
	k.FailureThreshold, k.SuccessThreshold = 1+r.IntN(9), 1+r.IntN(9)
	k.RequestTimeout = randomDuration(r, time.Millisecond, s.Schedule.Timeout)
	k.TelemetryTimeout = randomDuration(r, time.Millisecond, s.Schedule.Timeout)
	k.AuthPath = pick(r, []string{"/scene/history", "/status", "/a%20b", "/x:y"})
	k.RateLimitPath = pick(r, []string{"/scenes", "/scene/history"})
	k.RateLimitPerMinute = 1 + r.IntN(1000)
	k.ThresholdWindow = randomDuration(r, time.Millisecond, time.Hour)
	k.ThresholdInBandRatio = 1 - r.Float64()*0.999
	f := &s.Thresholds.FPS
	f.Min = 1 + r.Float64()*200
	f.Max = f.Min + 0.001 + r.Float64()*100
	f.CriticalMin = f.Min * (0.001 + r.Float64()*0.998)
	f.For = randomDuration(r, 0, time.Hour)
	f.Hysteresis = (f.Max - f.Min) / 2 * r.Float64() * 0.999
	m := &s.Thresholds.Memory
	m.MaxMB = 1 + r.Float64()*1e5
	m.HysteresisMB = m.MaxMB * r.Float64() * 0.999
	m.For = randomDuration(r, 0, time.Hour)
	m.GrowthMBPerMin = 0.001 + r.Float64()*100
	m.GrowthWindow = randomDuration(r, time.Minute, 24*time.Hour)
	tel := &s.Telemetry
	tel.SilenceTimeout = randomDuration(r, time.Millisecond, time.Hour)
	tel.DownFor = randomDuration(r, time.Second, time.Hour)
	tel.BackoffInitial = randomDuration(r, time.Millisecond, time.Minute)
	tel.BackoffMax = tel.BackoffInitial + randomDuration(r, 0, time.Hour)
	tel.ReadLimitBytes = 1024 + r.Int64N(1<<40)
	tel.DownFor = randomDuration(r, 0, time.Hour)
	tel.PerformancePollInterval = randomDuration(r, time.Second, time.Hour)
	s.Reviews.Offsets = []time.Duration{}
	for off := time.Duration(0); r.IntN(4) != 0; {
		off += randomDuration(r, time.Millisecond, 48*time.Hour)
		s.Reviews.Offsets = append(s.Reviews.Offsets, off)
	}
	return s
}

// linkTemplates are valid runbook and dashboard templates, with the quotes,
// colons, hashes and pipes that YAML and text/template both care about.
var linkTemplates = []string{
	"",
	"https://runbooks.example.com/spacetime/{{.Alert}}",
	"http://grafana.example.com/d/x?var-target={{.Target | urlquery}}&var-alert={{.Alert}}",
	`https://r.example/{{if eq .Severity "critical"}}page{{else}}ticket{{end}}/{{.Alert}}`,
	`https://r.example/{{- /* a comment */ -}}{{$.Target}}#{{.Alert}}: "quoted"`,
	"https://r.example/{{with $t := .Target}}{{$t}}{{end}}?q=yes #x",
	`https://r.example/{{printf "%s-%s" .Target .Severity}}`,
}

// randomMatchers are valid matchers with the quotes, escapes and
// operators that YAML and the matcher syntax both care about.
var randomMatchers = func() []labels.Matcher {
	var out []labels.Matcher
	for _, s := range []string{"alert=check_instance_up", `alert=~"fps_.*"`, "severity!=info", `cause!~"token_.*|x"`,
		`source="a \"b\" #c"`, "kind=check", `alert=""`, "source=yes", "cause=null"} {
		m, err := labels.ParseMatcher(s)
		if err != nil {
			panic(err)
		}
		out = append(out, m)
	}
	return out
}()

func randomAlerting(r *rand.Rand) Alerting {
	a := defaultAlerting()
	a.GroupBy = []string{}
	for _, i := range r.Perm(len(groupByLabels)) {
		if r.IntN(2) == 0 {
			a.GroupBy = append(a.GroupBy, groupByLabels[i])
		}
	}
	a.GroupWait = randomDuration(r, 0, time.Hour)
	a.GroupInterval = randomDuration(r, time.Millisecond, time.Hour)
	a.RepeatInterval = max(MinRepeatInterval, a.GroupInterval) + randomDuration(r, 0, 24*time.Hour)
	a.SendResolved = r.IntN(2) == 0
	a.GracePeriod = randomDuration(r, 0, time.Hour)
	a.RunbookURL, a.DashboardURL = pick(r, linkTemplates), pick(r, linkTemplates)
	a.InhibitRelease = randomDuration(r, 0, time.Hour)
	for range r.IntN(3) {
		rule := InhibitRule{Equal: []string{}}
		for range 1 + r.IntN(2) {
			rule.SourceMatchers = append(rule.SourceMatchers, pick(r, randomMatchers))
			rule.TargetMatchers = append(rule.TargetMatchers, pick(r, randomMatchers))
		}
		if r.IntN(2) == 0 {
			rule.Equal = append(rule.Equal, pick(r, []string{"severity", "kind", "cause"}))
		}
		a.InhibitRules = append(a.InhibitRules, rule)
	}
	a.Outbox.BackoffInitial = randomDuration(r, time.Millisecond, time.Minute)
	a.Outbox.BackoffMax = a.Outbox.BackoffInitial + randomDuration(r, time.Millisecond, time.Hour)
	for i := range r.IntN(6) {
		s := defaultSink(pick(r, sinkTypes[:]))
		s.Name = fmt.Sprintf("s%d%s", i, pick(r, []string{"", "-a", "_b", "-yes"}))
		s.Timeout = randomDuration(r, time.Millisecond, time.Minute)
		s.MinInterval = randomDuration(r, 0, 10*time.Second)
		secretFile := "/run/credentials/" + pick(r, []string{"slack-webhook", "a$$b", "sp ace", "yes", "null", "#x"})
		switch s.Type {
		case SinkSlackWebhook:
			if r.IntN(2) == 0 {
				s.WebhookURLFile = secretFile
			} else {
				s.WebhookURLEnv = "SLACK_WEBHOOK_URL"
			}
		case SinkSlackBot:
			if r.IntN(2) == 0 {
				s.BotTokenFile = secretFile
			} else {
				s.BotTokenEnv = "SLACK_BOT_TOKEN"
			}
			s.Channel = pick(r, []string{"C0123456789", "G0123456789AB", "#spacetime-oncall", "#yes", "#null", "#1"})
			s.APIURL = pick(r, []*url.URL{mustURL("https://slack.com/api/"), mustURL("http://127.0.0.1:39999/api/"), mustURL("http://[::1]:8/")})
		case SinkAlertmanager:
			s.URLs = []*url.URL{}
			for j := range 1 + r.IntN(3) {
				s.URLs = append(s.URLs, &url.URL{Scheme: pick(r, []string{"http", "https"}), Host: fmt.Sprintf("127.0.0.1:%d", 9093+j), Path: pick(r, []string{"", "/am", "/a b/"})})
			}
			s.ResendInterval = randomDuration(r, time.Second, time.Hour)
			s.Heartbeat = r.IntN(2) == 0
		case SinkWebhook:
			switch r.IntN(3) {
			case 0:
				s.URL = pick(r, []*url.URL{mustURL("https://receiver.example.com/alerts"), mustURL("http://127.0.0.1:5001/"), mustURL("http://[::1]:8/a%20b")})
			case 1:
				s.URLFile = secretFile
			default:
				s.URLEnv = "WEBHOOK_URL"
			}
			switch r.IntN(3) {
			case 1:
				s.HMACSecretFile = secretFile
			case 2:
				s.HMACSecretEnv = "WEBHOOK_HMAC_SECRET"
			}
			s.MaxAlerts = r.IntN(3) * 50
		}
		a.Sinks = append(a.Sinks, s)
	}
	return a
}

func randomConfig(r *rand.Rand) *Config {
	c := &Config{Defaults: randomSettings(r), Alerting: randomAlerting(r)}
	for i := range 1 + r.IntN(3) {
		tg := newTarget(fmt.Sprintf("t%d.%s", i, pick(r, []string{"a", "b-c", "d_e", "1"})), randomSettings(r))
		if tg.Deployment.StartedAt.IsZero() {
			// A file cannot unset an inherited time; keep to configs a file can express.
			tg.Deployment.StartedAt = c.Defaults.Deployment.StartedAt
		}
		tg.APIURL = &url.URL{Scheme: pick(r, []string{"http", "https"}), Host: fmt.Sprintf("127.0.0.%d:%d", i+1, 8080+i), Path: pick(r, []string{"", "/api", "/a b"})}
		tg.TelemetryURLs = []*url.URL{}
		for j := range r.IntN(3) {
			tg.TelemetryURLs = append(tg.TelemetryURLs, &url.URL{Scheme: pick(r, []string{"ws", "wss"}), Host: fmt.Sprintf("127.0.0.%d:%d", i+1, 9000+j), Path: "/"})
		}
		switch r.IntN(3) {
		case 0:
			tg.TokenFile = "/run/" + pick(r, []string{"tok", "$HOME/x", "a$$b", "sp ace", "yes"})
		case 1:
			tg.TokenEnv = "SPACETIME_TOKEN"
		}
		tg.TokenFromStatus = (tg.TokenFile == "" && tg.TokenEnv == "") || r.IntN(2) == 0
		switch r.IntN(3) {
		case 0:
			tg.PerformanceTokenFile = "/run/credentials/" + pick(r, trickyStrings[:5])
		case 1:
			tg.PerformanceTokenEnv = "SPACETIME_PERF_TOKEN"
		}
		c.Targets = append(c.Targets, tg)
	}
	return c
}

// FuzzParse: Parse never panics, returns either a config or a
// *ValidationError with problems, and every config it accepts survives the
// effective round trip.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/*/*.yaml", "../../deploy/config.example.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("targets: [&a {name: x, <<: *a}]"))
	f.Add([]byte("a: &a [*a, *a]\ntargets: [{name: x, known_gaps: *a}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := testOpts("fuzz.yaml")
		c, err := Parse(data, opts)
		if err != nil {
			var ve *ValidationError
			if c != nil || !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Parse = %v, %T %v", c, err, err)
			}
			_ = err.Error()
			return
		}
		roundTrip(t, c, opts)
	})
}
