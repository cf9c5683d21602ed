package monitor

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/spacetime"
)

// CheckTarget is one instance as the ten checks see it: a client, a
// telemetry probe, what a healthy instance reports, its known gaps and the
// knobs of the checks. NewCheckTarget builds one from a config.Target;
// tests may also fill one by hand. Treat it as read-only while checks run.
type CheckTarget struct {
	// Name is the target's name, for reports and metrics.
	Name string
	// Client talks to the instance's HTTP API.
	Client *spacetime.Client
	// APIToken is the API token source, bound to Client (nil when none is
	// configured). Check 6 uses it to tell an expired token from a wrong
	// one; a telemetry watcher answers auth_required with it.
	APIToken spacetime.TokenSource
	// Telemetry gives checks 4 and 10 their data; nil when the target has
	// no telemetry URL (both checks then fail, saying so).
	Telemetry TelemetryProbe
	// ExpectedEnvironment is the /status environment check 3 wants.
	// Default (config): production.
	ExpectedEnvironment string
	// ExpectedScene is the scene check 5 wants. Default (config):
	// res://vr_main.tscn.
	ExpectedScene string
	// KnownGaps maps the checks this build cannot pass to the declared reason.
	KnownGaps map[config.CheckName]string
	// Scheduled is the checks a scheduled run performs when RunChecks is
	// given no list (config.Target.ScheduledChecks).
	Scheduled []config.CheckName
	// Intrusive allows check 7 (rate_limit) in scheduled runs
	// (schedule.intrusive). Default: false.
	Intrusive bool
	// Settings tune the individual checks.
	Settings CheckSettings
	// Now is the clock for durations and samples. Default: clock.Now.
	Now func() time.Time

	// ownedProbe is the DialProbe NewCheckTarget built, closed by Close.
	ownedProbe *DialProbe
}

// CheckSettings are the knobs of the checks, typed and defaulted by the
// config (see config.Checks and config.Thresholds for the defaults).
type CheckSettings struct {
	// AuthPath is what check 6 requests without and with the token.
	// Default: /scene/history.
	AuthPath string
	// RateLimitPath is what check 7 bursts; no other check touches it.
	// Default: /scenes.
	RateLimitPath string
	// RateLimitPerMinute is the instance's limit on RateLimitPath; check 7
	// passes when a 429 arrives within RateLimitPerMinute+5 requests.
	// Default: 60.
	RateLimitPerMinute int
	// RequestTimeout bounds each HTTP request. Default: 5s.
	RequestTimeout time.Duration
	// TelemetryTimeout is how long check 4 waits for a data frame,
	// connection included. Default: 10s.
	TelemetryTimeout time.Duration
	// ThresholdWindow is how long check 10 samples telemetry. Default: 15s.
	ThresholdWindow time.Duration
	// WhitelistProbeScene is the scene check 8 asks to load, expecting 403
	// (config checks.whitelist_probe_scene).
	WhitelistProbeScene string
	// ThresholdInBandRatio is the share of FPS samples check 10 needs
	// within FPSMin–FPSMax. Default: 0.95.
	ThresholdInBandRatio float64
	// FPSMin and FPSMax are the FPS band, inclusive. Default: 85–95.
	FPSMin, FPSMax float64
	// MemoryMaxMB is the ceiling peak memory must stay below, in MiB.
	// Default: 400.
	MemoryMaxMB float64
}

// TargetOptions are what NewCheckTarget needs besides the config.
type TargetOptions struct {
	// Telemetry, if set, returns the probe of checks 4 and 10, given the
	// stream options derived from the target (URLs, the API token source
	// bound to the client for auth_required, read limit, timeouts). The
	// daemon returns its watcher's probe here, so that the instance sees a
	// single telemetry connection (it may cap them); the caller owns what
	// it returns. Nil: NewCheckTarget builds a DialProbe (for verify),
	// which CheckTarget.Close closes. Not called when the target has no
	// telemetry URL.
	Telemetry func(spacetime.StreamOptions) TelemetryProbe
	// Now is the clock. Default: clock.Now.
	Now func() time.Time
	// Observe is handed to the client, for request metrics. Default: none.
	Observe func(spacetime.Observation)
	// TLSConfig configures TLS for an https api_url and wss telemetry_urls.
	// Default: the target's tls block (targetTLSConfig).
	TLSConfig *tls.Config
	// HTTPClient replaces the client's HTTP client (tests). Default: the
	// client's own HTTP/1.1, no-keep-alive client.
	HTTPClient *http.Client
	// UserAgent is the client's User-Agent. Default: spacetime-watch.
	UserAgent string
}

// NewCheckTarget builds the checks' view of t: the HTTP client with its
// token sources, the telemetry probe, the expected values and the check
// settings. Token sources follow the config's contract: token_from_status
// first (the instance hands out its current token there), then token_file
// or token_env as the fallback; the /performance token comes from
// performance_token_file or performance_token_env, else the API token.
// Call Close when done.
func NewCheckTarget(t config.Target, opts TargetOptions) (*CheckTarget, error) {
	if t.APIURL == nil {
		return nil, fmt.Errorf("target %q: api_url is not set", t.Name)
	}
	now := opts.Now
	if now == nil {
		now = clock.Now
	}
	tlsConfig := opts.TLSConfig
	if tlsConfig == nil {
		var err error
		if tlsConfig, err = targetTLSConfig(t.TLS, now); err != nil {
			return nil, fmt.Errorf("target %q: tls: %w", t.Name, err)
		}
	}
	apiToken := targetAPITokenSource(t)
	client, err := spacetime.New(spacetime.Options{
		BaseURL:          t.APIURL.String(),
		Timeout:          t.Checks.RequestTimeout,
		Token:            apiToken,
		PerformanceToken: targetTokenSource(t.PerformanceTokenFile, t.PerformanceTokenEnv),
		TLSConfig:        tlsConfig,
		HTTPClient:       opts.HTTPClient,
		UserAgent:        opts.UserAgent,
		Now:              now,
		Observe:          opts.Observe,
	})
	if err != nil {
		return nil, fmt.Errorf("target %q: api_url: %w", t.Name, err)
	}
	ct := &CheckTarget{
		Name:                t.Name,
		Client:              client,
		APIToken:            apiToken,
		ExpectedEnvironment: t.Expected.Environment,
		ExpectedScene:       t.Expected.Scene,
		KnownGaps:           make(map[config.CheckName]string, len(t.KnownGaps)),
		Scheduled:           t.ScheduledChecks(),
		Intrusive:           t.Schedule.Intrusive,
		Settings: CheckSettings{
			AuthPath:             t.Checks.AuthPath,
			RateLimitPath:        t.Checks.RateLimitPath,
			RateLimitPerMinute:   t.Checks.RateLimitPerMinute,
			RequestTimeout:       t.Checks.RequestTimeout,
			TelemetryTimeout:     t.Checks.TelemetryTimeout,
			ThresholdWindow:      t.Checks.ThresholdWindow,
			ThresholdInBandRatio: t.Checks.ThresholdInBandRatio,
			WhitelistProbeScene:  t.Checks.WhitelistProbeScene,
			FPSMin:               t.Thresholds.FPS.Min,
			FPSMax:               t.Thresholds.FPS.Max,
			MemoryMaxMB:          t.Thresholds.Memory.MaxMB,
		},
		Now: now,
	}
	for _, g := range t.KnownGaps {
		reason := g.Reason
		if reason == "" {
			reason = config.DefaultKnownGapReason
		}
		ct.KnownGaps[g.Check] = reason
	}
	if len(t.TelemetryURLs) > 0 {
		so := targetStreamOptions(t, apiToken, now)
		so.TLSConfig = tlsConfig
		if opts.Telemetry != nil {
			ct.Telemetry = opts.Telemetry(so)
		} else {
			ct.ownedProbe = NewDialProbe(so, now)
			ct.Telemetry = ct.ownedProbe
		}
	}
	return ct, nil
}

// Close closes the telemetry probe NewCheckTarget dialled itself (never one
// passed in through TargetOptions.Telemetry). It is safe to call twice.
func (t *CheckTarget) Close() error {
	if t.ownedProbe != nil {
		return t.ownedProbe.Close()
	}
	return nil
}

// now returns the target's clock reading.
func (t *CheckTarget) now() time.Time {
	if t.Now == nil {
		return clock.Now()
	}
	return t.Now()
}

// targetAPITokenSource combines the configured API token sources: /status first,
// then the file or variable (config.Target.TokenFromStatus). FirstOf skips
// a source that still yields a rejected token when another yields a new one.
func targetAPITokenSource(t config.Target) spacetime.TokenSource {
	var sources []spacetime.TokenSource
	if t.TokenFromStatus {
		sources = append(sources, spacetime.StatusToken())
	}
	if src := targetTokenSource(t.TokenFile, t.TokenEnv); src != nil {
		sources = append(sources, src)
	}
	switch len(sources) {
	case 0:
		return nil
	case 1:
		return sources[0]
	}
	return spacetime.FirstOf(sources...)
}

// tokenSource is the file or environment source, or nil when neither is
// set (the config makes them exclusive; a file wins if both are).
func targetTokenSource(file, env string) spacetime.TokenSource {
	switch {
	case file != "":
		return spacetime.FileToken(file)
	case env != "":
		return spacetime.EnvToken(env)
	}
	return nil
}

// streamOptions derives the telemetry stream's options from the target.
func targetStreamOptions(t config.Target, token spacetime.TokenSource, now func() time.Time) spacetime.StreamOptions {
	urls := make([]string, 0, len(t.TelemetryURLs))
	for _, u := range t.TelemetryURLs {
		if u != nil {
			urls = append(urls, u.String())
		}
	}
	dial := t.Checks.RequestTimeout
	if tt := t.Checks.TelemetryTimeout; tt > 0 && (dial <= 0 || tt < dial) {
		dial = tt
	}
	return spacetime.StreamOptions{
		URLs:           urls,
		DialTimeout:    dial,
		ReadLimit:      t.Telemetry.ReadLimitBytes,
		SilenceTimeout: t.Telemetry.SilenceTimeout,
		Token:          token,
		Now:            now,
	}
}

// targetTLSConfig is what the target's https api_url and wss
// telemetry_urls are verified with: its tls block, on the daemon's clock
// (a certificate's validity is judged at now, as every expiry is).
func targetTLSConfig(t config.TLS, now func() time.Time) (*tls.Config, error) {
	c := &tls.Config{
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, // the operator's explicit choice (tls.insecure_skip_verify)
		MinVersion:         tls.VersionTLS12,
		Time:               now,
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	return c, nil
}

// errCheckNoTelemetry is what checks 4 and 10 report for a target without a
// telemetry URL.
var errCheckNoTelemetry = errors.New("no telemetry URL configured (telemetry_urls is empty): the target declares no telemetry stream")
