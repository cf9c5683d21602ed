package config

import (
	"net/url"
	"time"
)

// Config is a complete, validated configuration: every default filled in,
// every value typed. Load and Parse return one only when the whole file is
// valid, so a *Config in hand is always safe to run with.
//
// Treat a Config as read-only once loaded: the daemon swaps whole configs on
// reload rather than editing one in place.
type Config struct {
	// Defaults are the settings every target starts from before its own
	// overrides. Default: the deployment checklist's values (see Settings).
	Defaults Settings `yaml:"defaults"`
	// Targets are the SpaceTime VR instances to watch, in file order.
	// Default: one target named "local" on 127.0.0.1's standard ports, or
	// none when target_files is set.
	Targets []Target `yaml:"targets"`
	// TargetFiles are glob patterns (filepath.Match syntax, such as
	// /etc/spacetime-watch/targets/*.yaml) of files that list more
	// targets, as Prometheus's file_sd_configs do: each file is a YAML or
	// JSON list of targets with the keys of targets, starting from
	// defaults. The daemon watches them and applies a change without a
	// reload; a bad file keeps the targets it last listed. ${VAR} is
	// expanded and a relative pattern is taken from the config file's
	// folder, as for token_file. Default: none.
	TargetFiles []string `yaml:"target_files,omitempty,expand"`
	// Alerting is how alert events become notifications, for all targets.
	// Default: Alertmanager's grouping and timing, and no sinks (alert
	// events are only logged).
	Alerting Alerting `yaml:"alerting"`

	// Warnings are what the load found valid but not used as written (a
	// capped value), in file order; not part of the configuration, never
	// printed in it. check-config prints them, the daemon logs them.
	// Default: none.
	Warnings []Warning `yaml:"-"`
}

// Target is one SpaceTime VR instance. Its Settings are Config.Defaults with
// the target's own overrides merged over them field by field.
type Target struct {
	// Name identifies the target in metrics, alerts and the store: required,
	// unique, 1 to 63 characters of [a-z0-9_.-] starting with a letter or digit.
	// ${VAR} and $VAR are expanded at load, and the result must be such a
	// name: in a Kubernetes sidecar, name: ${POD_NAME} with POD_NAME from the
	// downward API makes alerts name the pod. An unset variable is an error.
	// Default: "local" for the implicit target of a file without targets.
	Name string `yaml:"name,env"`
	// APIURL is the base URL of the instance's HTTP API (http or https, no
	// credentials, query or fragment; a path prefix is kept, for an ingress
	// such as https://host/api). Required for every target listed under
	// targets; default http://127.0.0.1:8080 only for the implicit "local"
	// target of a file without targets.
	APIURL *url.URL `yaml:"api_url"`
	// TelemetryURLs are the telemetry WebSocket URLs (ws or wss) to try in
	// order: the instance moves to a fallback port when 8081 is busy. An empty
	// list means the instance has no telemetry stream and the watcher stays
	// off. Default: [ws://127.0.0.1:8081/].
	TelemetryURLs []*url.URL `yaml:"telemetry_urls"`
	// TokenFile is a file holding the API bearer token, re-read by the daemon
	// when it needs the token. ${VAR} and $VAR are expanded at load ($$ is a
	// literal $), and a relative path is taken from the config file's folder.
	// Exclusive with TokenEnv. Default: none.
	TokenFile string `yaml:"token_file,omitempty,expand"`
	// TokenEnv names an environment variable holding the API bearer token; it
	// must be set when the config loads. Exclusive with TokenFile. Default: none.
	TokenEnv string `yaml:"token_env,omitempty"`
	// TokenFromStatus takes the API token from GET /status (jwt_token), which
	// hands out the current token without authentication. When a file or
	// variable is also set, /status comes first and the file or variable is
	// the fallback. Default: true when neither token_file nor token_env is
	// set, false otherwise.
	TokenFromStatus bool `yaml:"token_from_status"`
	// PerformanceTokenFile is a file holding the separate token that
	// /performance accepts (its own 64-hex-character token, not the JWT).
	// Expanded like TokenFile. Exclusive with PerformanceTokenEnv. Default:
	// none, and the daemon tries the API token.
	PerformanceTokenFile string `yaml:"performance_token_file,omitempty,expand"`
	// PerformanceTokenEnv names an environment variable holding the
	// /performance token; it must be set when the config loads. Exclusive with
	// PerformanceTokenFile. Default: none.
	PerformanceTokenEnv string `yaml:"performance_token_env,omitempty"`

	// Settings are the knobs a target may override (expected, known_gaps,
	// deployment, schedule, checks, thresholds, telemetry, reviews). Default:
	// Config.Defaults.
	Settings `yaml:",inline"`
}

// APIToken returns where the API token comes from, besides /status.
func (t *Target) APIToken() TokenRef {
	return TokenRef{File: t.TokenFile, Env: t.TokenEnv}
}

// PerformanceToken returns where the /performance token comes from. A zero
// TokenRef means "use the API token".
func (t *Target) PerformanceToken() TokenRef {
	return TokenRef{File: t.PerformanceTokenFile, Env: t.PerformanceTokenEnv}
}

// KnownGap returns the declared reason when check c is a known gap of this
// target's build.
func (t *Target) KnownGap(c CheckName) (reason string, ok bool) {
	for _, g := range t.KnownGaps {
		if g.Check == c {
			return g.Reason, true
		}
	}
	return "", false
}

// ScheduledChecks returns the checks the daemon runs on schedule, in runbook
// order: all but rate_limit (it drains a rate-limit bucket that operators
// share, so it runs only when schedule.intrusive is set) and thresholds (the
// telemetry watcher evaluates those continuously). Known gaps stay in the
// list: the daemon reports them as skipped.
func (t *Target) ScheduledChecks() []CheckName {
	out := make([]CheckName, 0, len(allChecks))
	for _, c := range allChecks {
		switch {
		case c == CheckThresholds:
		case c == CheckRateLimit && !t.Schedule.Intrusive:
		default:
			out = append(out, c)
		}
	}
	return out
}

// Target returns the target called name.
func (c *Config) Target(name string) (*Target, bool) {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i], true
		}
	}
	return nil, false
}

// Settings are the per-target knobs: the defaults section sets them for every
// target and a target may override any field. Lists (known_gaps, offsets)
// are replaced whole, not merged.
type Settings struct {
	// Expected is what a healthy instance reports. Default: production, res://vr_main.tscn.
	Expected Expected `yaml:"expected"`
	// KnownGaps are checks this build cannot pass. verify still reports them
	// as failed, with the reason; scheduled checks report them as skipped and
	// never alert. Written as a check name or as {check, reason}. Default: none.
	KnownGaps []KnownGap `yaml:"known_gaps"`
	// Deployment says when the current deployment started. Default: detected.
	Deployment Deployment `yaml:"deployment"`
	// Schedule is when scheduled checks run. Default: every 5m.
	Schedule Schedule `yaml:"schedule"`
	// Checks tunes the individual checks. Default: see Checks.
	Checks Checks `yaml:"checks"`
	// Thresholds are the telemetry alert rules. Default: FPS 85–95, memory below 400 MB.
	Thresholds Thresholds `yaml:"thresholds"`
	// Telemetry tunes the WebSocket watcher. Default: see Telemetry.
	Telemetry Telemetry `yaml:"telemetry"`
	// Reviews are the post-deployment reviews. Default: at 1h, 4h and 24h.
	Reviews Reviews `yaml:"reviews"`
	// TLS is how an https api_url and wss telemetry_urls are verified, and
	// when the certificate's expiry alerts. Default: see TLS.
	TLS TLS `yaml:"tls"`
}

// TLS configures the connections to an https api_url and wss
// telemetry_urls, as Prometheus's tls_config does, and the
// tls_cert_expiring condition. It is ignored for http and ws URLs.
type TLS struct {
	// CAFile is a PEM file of the CA certificates that sign the instance's
	// certificate (an ingress with a private CA). Expanded like token_file.
	// Default: none (the system roots).
	CAFile string `yaml:"ca_file,omitempty,expand"`
	// ServerName is the name the certificate must be valid for, when it is
	// not the URL's host (an IP address, a tunnel). Default: the URL's host.
	ServerName string `yaml:"server_name,omitempty"`
	// InsecureSkipVerify accepts any certificate: the chain and the name
	// go unchecked (the expiry is still watched). Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// ExpiryWarning is how long before the certificate's expiry
	// tls_cert_expiring fires as a warning. Default: 336h (14 days).
	ExpiryWarning time.Duration `yaml:"expiry_warning"`
	// ExpiryCritical is how long before the expiry tls_cert_expiring
	// becomes critical; below expiry_warning. Default: 72h (3 days).
	ExpiryCritical time.Duration `yaml:"expiry_critical"`
}

// Expected holds the values a healthy instance reports.
type Expected struct {
	// Environment is the /status environment checked by check 3. The stock
	// build always reports "development": declare status a known gap there
	// rather than weakening this. Default: production.
	Environment string `yaml:"environment"`
	// Scene is the scene check 5 expects to be loaded (res://….tscn).
	// Default: res://vr_main.tscn.
	Scene string `yaml:"scene"`
}

// KnownGap declares that the target's build cannot pass one check.
type KnownGap struct {
	// Check is the check that cannot pass; instance_up cannot be a gap.
	// Required.
	Check CheckName `yaml:"check"`
	// Reason says why, for verify's report. Default: "declared known gap"
	// (DefaultKnownGapReason) when the short form "- health" is used.
	Reason string `yaml:"reason"`
}

// DefaultKnownGapReason is the reason of a known gap written without one.
const DefaultKnownGapReason = "declared known gap"

// Deployment describes the current deployment of a target.
type Deployment struct {
	// AutoDetect starts a new deployment when the daemon sees a new instance
	// (a restart or a new version). Default: true.
	AutoDetect bool `yaml:"auto_detect"`
	// Version is the deployed version, for reviews and alerts. Default: "".
	Version string `yaml:"version"`
	// StartedAt, when set, is the start of the current deployment (RFC 3339),
	// kept in UTC. Default: zero (unset).
	StartedAt time.Time `yaml:"started_at,omitempty"`
}

// Schedule is when the daemon runs its scheduled checks against a target.
// Exactly one of Interval and Cron is set; setting one in a target's
// overrides replaces the other inherited from defaults.
type Schedule struct {
	// Interval runs the checks every Interval (at least 1s). Default: 5m.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Cron runs the checks on a robfig/cron standard spec instead
	// ("*/5 * * * *", "@every 5m", optional CRON_TZ= prefix). Default: "".
	Cron string `yaml:"cron,omitempty"`
	// Timeout bounds one scheduled run of all checks; it may not exceed
	// Interval. Default: 60s.
	Timeout time.Duration `yaml:"timeout"`
	// Intrusive adds check 7 (rate_limit) to scheduled runs. Default: false.
	Intrusive bool `yaml:"intrusive"`
}

// Checks tunes the individual checks.
type Checks struct {
	// FailureThreshold is how many consecutive failures make a check count
	// as failing (and alert). Default: 2.
	FailureThreshold int `yaml:"failure_threshold"`
	// SuccessThreshold is how many consecutive successes make a failing
	// check count as recovered. Default: 1.
	SuccessThreshold int `yaml:"success_threshold"`
	// RequestTimeout bounds each HTTP request of a check; below
	// schedule.timeout. Default: 5s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// TelemetryTimeout is how long check 4 waits for a data frame; below
	// schedule.timeout. Default: 10s.
	TelemetryTimeout time.Duration `yaml:"telemetry_timeout"`
	// AuthPath is the endpoint check 6 calls without and with the token.
	// Default: /scene/history (100/min bucket, read-only).
	AuthPath string `yaml:"auth_path"`
	// RateLimitPath is the endpoint check 7 bursts. Avoid /scene: its 30/min
	// bucket is shared with operators. Default: /scenes.
	RateLimitPath string `yaml:"rate_limit_path"`
	// RateLimitPerMinute is the limit the instance enforces on RateLimitPath;
	// check 7 passes when a 429 arrives before limit+5 requests. Default: 60.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute"`
	// WhitelistProbeScene is the scene check 8 asks to load, expecting 403.
	// It must be outside every whitelist; the default does not exist either,
	// so even a broken whitelist loads nothing. Default:
	// res://spacetime_watch/not_whitelisted.tscn.
	WhitelistProbeScene string `yaml:"whitelist_probe_scene"`
	// ThresholdWindow is how long check 10 samples telemetry. Default: 15s.
	ThresholdWindow time.Duration `yaml:"threshold_window"`
	// ThresholdInBandRatio is the share of FPS samples check 10 needs inside
	// thresholds.fps min–max, in (0, 1]. Default: 0.95.
	ThresholdInBandRatio float64 `yaml:"threshold_in_band_ratio"`
}

// Thresholds are the rules applied to the telemetry stream.
type Thresholds struct {
	// FPS is the frame-rate band. Default: 85–95, critical below 45.
	FPS FPSThresholds `yaml:"fps"`
	// Memory is the memory ceiling and growth rule. Default: below 400 MB, growth under 10 MB/min.
	Memory MemoryThresholds `yaml:"memory"`
}

// FPSThresholds is the frame-rate band: a warning below Min or above Max, a
// critical alert below CriticalMin (0 < CriticalMin < Min < Max).
type FPSThresholds struct {
	// Min is the warning floor in frames per second. Default: 85.
	Min float64 `yaml:"min"`
	// Max is the warning ceiling in frames per second. Default: 95.
	Max float64 `yaml:"max"`
	// CriticalMin is the critical floor in frames per second. Default: 45.
	CriticalMin float64 `yaml:"critical_min"`
	// For is how long a breach must last before it fires. Default: 1m.
	For time.Duration `yaml:"for"`
	// Hysteresis is how far back inside the band (in FPS) the value must come
	// before a breach resolves; less than half of Max−Min. Default: 2.
	Hysteresis float64 `yaml:"hysteresis"`
}

// MemoryThresholds is the memory ceiling and growth rule. MB are 2^20 bytes.
type MemoryThresholds struct {
	// MaxMB is the warning ceiling in MB. Default: 400.
	MaxMB float64 `yaml:"max_mb"`
	// HysteresisMB is how far below MaxMB memory must fall before the breach
	// resolves; below MaxMB. Default: 10.
	HysteresisMB float64 `yaml:"hysteresis_mb"`
	// For is how long a breach must last before it fires. Default: 1m.
	For time.Duration `yaml:"for"`
	// GrowthMBPerMin is the growth rate, in MB per minute over GrowthWindow,
	// that raises a warning. Default: 10.
	GrowthMBPerMin float64 `yaml:"growth_mb_per_min"`
	// GrowthWindow is the window the growth rate is measured over; at least
	// 1m. Default: 15m.
	GrowthWindow time.Duration `yaml:"growth_window"`
}

// Telemetry tunes the telemetry WebSocket watcher.
type Telemetry struct {
	// SilenceTimeout is how long a connected stream may stay silent before it
	// counts as down and is redialled. A value under 63.75s (the heartbeat's
	// PongWait, 60s, plus its slack) makes every frame move the read
	// deadline, which costs CPU on a busy stream. Default: 90s.
	SilenceTimeout time.Duration `yaml:"silence_timeout"`
	// DownFor is how long the stream may stay without data (disconnected,
	// or silent past SilenceTimeout) before telemetry_down or
	// telemetry_silent fires; when the stream drops, the daemon probes the
	// API within the first half of it, so that a crashed instance is one
	// alert (check_instance_up). 0 turns both rules off; at least 1s when
	// set. Default: 2m.
	DownFor time.Duration `yaml:"down_for"`
	// BackoffInitial is the first reconnect delay, doubled (with jitter) on
	// each failure. Default: 1s.
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	// BackoffMax caps the reconnect delay; at least BackoffInitial. Default: 60s.
	BackoffMax time.Duration `yaml:"backoff_max"`
	// ReadLimitBytes is the largest frame accepted; a larger one closes the
	// connection (1009). Default: 1048576 (1 MiB).
	ReadLimitBytes int64 `yaml:"read_limit_bytes"`
	// PerformancePollInterval is how often memory is read from /performance
	// (with the target's performance token) while the stream carries none,
	// as the binary encoding does; the memory rules then judge those
	// readings. 0 turns the fallback off: memory_high and memory_growth are
	// then unknown, and memory_unwatched fires, whenever the stream carries
	// no memory. At least 1s when set. Default: 30s.
	PerformancePollInterval time.Duration `yaml:"performance_poll_interval"`
}

// Reviews are the post-deployment reviews.
type Reviews struct {
	// Offsets are the review times after the deployment start, strictly
	// ascending. Default: [1h, 4h, 24h].
	Offsets []time.Duration `yaml:"offsets"`
}
