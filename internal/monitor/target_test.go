package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// TestNewCheckTargetSettings: every knob of the config reaches the checks.
func TestNewCheckTargetSettings(t *testing.T) {
	t.Parallel()
	ct := checkTargetFromYAML(t, `
targets:
  - name: main
    api_url: http://127.0.0.1:1
    telemetry_urls: []
    expected: {environment: staging, scene: res://other.tscn}
    known_gaps:
      - health
      - {check: performance, reason: separate token}
    schedule: {interval: 1m, intrusive: true}
    checks:
      request_timeout: 3s
      telemetry_timeout: 4s
      auth_path: /scene
      rate_limit_path: /scene/history
      rate_limit_per_minute: 100
      threshold_window: 20s
      threshold_in_band_ratio: 0.9
    thresholds:
      fps: {min: 70, max: 80, critical_min: 30}
      memory: {max_mb: 512}
`)
	want := CheckSettings{
		AuthPath: "/scene", RateLimitPath: "/scene/history", RateLimitPerMinute: 100,
		RequestTimeout: 3 * time.Second, TelemetryTimeout: 4 * time.Second,
		ThresholdWindow: 20 * time.Second, ThresholdInBandRatio: 0.9,
		FPSMin: 70, FPSMax: 80, MemoryMaxMB: 512,
		WhitelistProbeScene: config.Default().Defaults.Checks.WhitelistProbeScene,
	}
	if ct.Settings != want {
		t.Errorf("settings %+v, want %+v", ct.Settings, want)
	}
	if ct.Name != "main" || ct.ExpectedEnvironment != "staging" || ct.ExpectedScene != "res://other.tscn" || !ct.Intrusive {
		t.Errorf("target %+v", ct)
	}
	if ct.KnownGaps[config.CheckHealth] != config.DefaultKnownGapReason || ct.KnownGaps[config.CheckPerformance] != "separate token" || len(ct.KnownGaps) != 2 {
		t.Errorf("known gaps %v", ct.KnownGaps)
	}
	if len(ct.Scheduled) != 9 { // all but thresholds, rate_limit included (intrusive)
		t.Errorf("scheduled %v", ct.Scheduled)
	}
	if ct.Telemetry != nil {
		t.Errorf("a probe without telemetry URLs")
	}
	if got := thresholdsExpected(ct); got != "≥90% of FPS samples in 70–80, peak memory < 512 MB" {
		t.Errorf("thresholds expected %q", got)
	}
}

// fakeProbe is a TelemetryProbe that records nothing and answers nothing.
type fakeProbe struct{}

func (fakeProbe) FirstDataFrame(context.Context, time.Duration) (spacetime.Frame, error) {
	return spacetime.Frame{Kind: spacetime.KindFPS}, nil
}

func (fakeProbe) Window(context.Context, time.Duration) ([]Sample, error) {
	return []Sample{{At: time.Unix(1, 0), FPS: 90, HasFPS: true, MemoryMB: 100, HasMemory: true}}, nil
}

// TestNewCheckTargetTelemetryFactory: the daemon's probe replaces the
// dialling one, and gets the stream options derived from the target.
func TestNewCheckTargetTelemetryFactory(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(`
targets:
  - name: main
    api_url: http://127.0.0.1:1
    telemetry_urls: [ws://127.0.0.1:8081/, ws://127.0.0.1:8083/]
    token_file: /nonexistent/token
    telemetry: {read_limit_bytes: 4096, silence_timeout: 30s}
    checks: {request_timeout: 5s, telemetry_timeout: 2s}
`), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got spacetime.StreamOptions
	ct, err := NewCheckTarget(cfg.Targets[0], TargetOptions{Telemetry: func(o spacetime.StreamOptions) TelemetryProbe {
		got = o
		return fakeProbe{}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	if _, ok := ct.Telemetry.(fakeProbe); !ok || ct.ownedProbe != nil {
		t.Errorf("probe %T, owned %v", ct.Telemetry, ct.ownedProbe)
	}
	if strings.Join(got.URLs, " ") != "ws://127.0.0.1:8081/ ws://127.0.0.1:8083/" || got.ReadLimit != 4096 ||
		got.SilenceTimeout != 30*time.Second || got.DialTimeout != 2*time.Second || got.Token == nil || got.Now == nil {
		t.Errorf("stream options %+v", got)
	}
	if got.Token != ct.APIToken {
		t.Errorf("the stream does not answer auth_required with the API token source")
	}
	// The fake probe's samples pass check 10 with the memory they carry.
	r := RunChecks(context.Background(), ct, ModeVerify, []config.CheckName{config.CheckThresholds, config.CheckTelemetry})
	for _, res := range r {
		if res.Status != CheckPass {
			t.Errorf("%s: %s %q", res.Check, res.Status, res.Reason)
		}
	}
}

// TestNewCheckTargetErrors: a target without api_url is refused.
func TestNewCheckTargetErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewCheckTarget(config.Target{Name: "x"}, TargetOptions{}); err == nil || !strings.Contains(err.Error(), "api_url") {
		t.Errorf("err %v", err)
	}
}

// TestTokenSources: the token comes from /status first and from the file
// or variable as the fallback, as the config documents.
func TestTokenSources(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		profile sim.Profile
		fileTok func(info sim.Info) string
	}{
		// The checklist /status hands out no token: the file serves.
		{"checklist: file behind /status", sim.ProfileChecklist, func(i sim.Info) string { return i.Token }},
		// The godot /status hands out the JWT: a stale file does not hide it.
		{"godot: /status before a stale file", sim.ProfileGodot, func(sim.Info) string { return "a-stale-token-0123456789" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startCheckSim(t, sim.Options{Profile: tc.profile})
			ct := checkTargetFor(t, s, simTarget{token: tc.fileTok(s.Info()), extra: "token_from_status: true"})
			r := runOnly(t, ct, config.CheckAuth, config.CheckScene)
			for _, res := range r {
				wantResult(t, res, CheckPass, "")
			}
			// /status comes first: the token needed no refresh.
			if auth := resultOf(t, r, config.CheckAuth); strings.Contains(auth.Reason, "after refreshing") {
				t.Errorf("auth: %q: the stale file was tried first", auth.Reason)
			}
		})
	}
}

// TestTokenFromEnv: token_env reads the variable.
func TestTokenFromEnv(t *testing.T) {
	s := startCheckSim(t, sim.Options{Profile: sim.ProfileChecklist})
	t.Setenv("SPACETIME_WATCH_TEST_TOKEN", s.Info().Token)
	info := s.Info()
	cfg, err := config.Parse([]byte("targets:\n  - name: env\n    api_url: http://"+info.API+"\n    telemetry_urls: []\n    token_env: SPACETIME_WATCH_TEST_TOKEN\n"), config.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ct, err := NewCheckTarget(cfg.Targets[0], TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	wantResult(t, resultOf(t, runOnly(t, ct, config.CheckAuth), config.CheckAuth), CheckPass, "")
}
