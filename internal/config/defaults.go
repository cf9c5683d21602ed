package config

import (
	"net/url"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/labels"
)

// DefaultTargetName is the name of the target used when the file lists none.
const DefaultTargetName = "local"

// Every default lives in this file. The values reproduce the deployment
// checklist (docs/instance.md, "Checklist thresholds"): checks every
// 5 minutes, FPS stable at 85–95, memory under 400 MB, reviews at hours 1, 4
// and 24. The alerting defaults are Alertmanager's (group_wait 30s,
// group_interval 5m, repeat_interval 4h). The doc comments on the fields
// repeat them for readers.

// Default returns the configuration of an empty file: the checklist's
// defaults, one target, "local", on 127.0.0.1's standard ports, and
// alerting without sinks.
func Default() Config {
	return Config{
		Defaults: defaultSettings(),
		Targets:  []Target{defaultTarget()},
		Alerting: defaultAlerting(),
	}
}

// defaultTarget is the target used when the file lists none.
func defaultTarget() Target {
	return newTarget(DefaultTargetName, defaultSettings())
}

// newTarget returns a target on the standard ports that starts from s; a
// target in the file is decoded over it.
func newTarget(name string, s Settings) Target {
	return Target{
		Name:            name,
		APIURL:          mustURL("http://127.0.0.1:8080"),
		TelemetryURLs:   []*url.URL{mustURL("ws://127.0.0.1:8081/")},
		TokenFromStatus: true,
		Settings:        s.clone(),
	}
}

func defaultSettings() Settings {
	return Settings{
		Expected: Expected{
			Environment: "production",
			Scene:       "res://vr_main.tscn",
		},
		KnownGaps:  []KnownGap{},
		Deployment: Deployment{AutoDetect: true},
		Schedule: Schedule{
			Interval: 5 * time.Minute,
			Timeout:  60 * time.Second,
		},
		Checks: Checks{
			FailureThreshold:     2,
			SuccessThreshold:     1,
			RequestTimeout:       5 * time.Second,
			TelemetryTimeout:     10 * time.Second,
			AuthPath:             "/scene/history",
			RateLimitPath:        "/scenes",
			RateLimitPerMinute:   60,
			WhitelistProbeScene:  "res://spacetime_watch/not_whitelisted.tscn",
			ThresholdWindow:      15 * time.Second,
			ThresholdInBandRatio: 0.95,
		},
		Thresholds: Thresholds{
			FPS: FPSThresholds{Min: 85, Max: 95, CriticalMin: 45, For: time.Minute, Hysteresis: 2},
			Memory: MemoryThresholds{
				MaxMB: 400, HysteresisMB: 10, For: time.Minute,
				GrowthMBPerMin: 10, GrowthWindow: 15 * time.Minute,
			},
		},
		Telemetry: Telemetry{
			SilenceTimeout:          90 * time.Second,
			DownFor:                 2 * time.Minute,
			BackoffInitial:          time.Second,
			BackoffMax:              60 * time.Second,
			ReadLimitBytes:          1 << 20,
			PerformancePollInterval: 30 * time.Second,
		},
		Reviews: Reviews{Offsets: []time.Duration{time.Hour, 4 * time.Hour, 24 * time.Hour}},
		// blackbox_exporter users alert on probe_ssl_earliest_cert_expiry
		// at 14 days as a rule; 3 days leaves a weekend to renew.
		TLS: TLS{ExpiryWarning: 14 * 24 * time.Hour, ExpiryCritical: 3 * 24 * time.Hour},
	}
}

// DefaultReviewThresholds are the checklist's review thresholds (see
// ReviewThresholds): the default FPS band and memory ceiling of the
// thresholds section, the rest the documented alert rules'.
func DefaultReviewThresholds() ReviewThresholds {
	th := defaultSettings().Thresholds
	return ReviewThresholds{
		FPSMin: th.FPS.Min, FPSMax: th.FPS.Max,
		FPSInBandPass: 0.95, FPSInBandWarn: 0.90,
		MemoryMaxMB:       th.Memory.MaxMB,
		MemoryWarnHorizon: 24 * time.Hour, MemoryFailHorizon: time.Hour,
		FPSWarnHorizon: 24 * time.Hour,
		TrendMinSpan:   15 * time.Minute,
		CheckPass:      0.99, CheckWarn: 0.95,
		ErrorSpikeFactor: 3, ErrorSpikeMinRate: 0.05, ErrorSpikeMinErrors: 3,
		ErrorRateWarn: 0.01, ErrorRateFail: 0.05,
		LatencyP95Warn: 500 * time.Millisecond, LatencyP95Fail: 2 * time.Second,
		AuthAttackCount: 20, AuthAttackWindow: 15 * time.Minute,
		UptimePass: 0.99, UptimeWarn: 0.95,
		RestartsWarn: 1, RestartsFail: 3,
		MinCoverage: 0.9,
	}
}

// The reviews' own tuning, which no key of the file sets.
const (
	// ReviewSettle is how long a review minute stays open after it ends:
	// the monitor hands over the last minute of telemetry once a minute
	// (ReviewFeedInterval), so a minute's samples can arrive up to a
	// minute after it ended.
	ReviewSettle = time.Minute
	// ReviewMaxSamplesPerMinute bounds the samples a review minute keeps
	// for its percentiles (10 Hz telemetry); counts, min, mean and max stay
	// exact.
	ReviewMaxSamplesPerMinute = 600
	// ReviewMaxPending bounds the open review minutes when nobody flushes,
	// so a stalled consumer cannot grow a recorder without limit.
	ReviewMaxPending = 120
	// ReviewInterval is how often the review minutes are persisted and due
	// reviews looked for: the minutes' length.
	ReviewInterval = time.Minute
	// ReviewTickDelay is how long after each ReviewInterval boundary the
	// review tick comes, so that what was observed at the boundary is in.
	ReviewTickDelay = time.Second
	// ReviewSlack is how long after it could first be computed (its due
	// time, rounded up to the minute, plus ReviewSettle) a review may be
	// delivered before it is marked late.
	ReviewSlack = 2 * time.Minute
	// ReviewMargin is how long after a deployment's last review fell due it
	// is still delivered (late) when the daemon was down: with the last
	// offset of 24h, that is StoreRollupRetention's 48 h of minutes.
	ReviewMargin = 24 * time.Hour
)

// The rule engine's tunables that are not keys of the file: how the
// telemetry rules judge a stream. The daemon builds every target's rules
// from them and the target's thresholds (monitor's ruleConfigFrom).
const (
	// RuleSmoothingWindow: FPS and memory are judged on their mean over
	// this window, so that single jittery frames do not reset `for` timers.
	RuleSmoothingWindow = 5 * time.Second
	// RuleMaxGap is the longest interval between two samples that counts as
	// continuous evidence: a longer gap restarts pending `for` timers.
	RuleMaxGap = 15 * time.Second
	// GrowthHysteresisMBPerMin: memory_growth resolves once the growth rate
	// is this far below thresholds.memory.growth_mb_per_min (a fifth of
	// the rate when that is 2 or less).
	GrowthHysteresisMBPerMin = 2.0
)

// The telemetry watcher's tunables that are not keys of the file (its
// redial backoff is telemetry.backoff_initial and backoff_max). The daemon
// builds every target's watcher from them (monitor.WatcherOptionsFrom).
const (
	// WatcherBackoffResetAfter: a telemetry connection that delivered data
	// and lasted this long brings the next redial delay back to
	// telemetry.backoff_initial; a server that accepts and then drops every
	// connection keeps backing off.
	WatcherBackoffResetAfter = 30 * time.Second
	// WatcherTickInterval is how often a watcher judges its rules without a
	// frame, for the time-based transitions (telemetry_down,
	// telemetry_silent, `for` timers). It must stay below RuleMaxGap.
	WatcherTickInterval = time.Second
	// WatcherRingSize bounds the telemetry samples a watcher keeps whatever
	// the rate: 15 minutes at 10 FPS samples per second, the fastest rate
	// documented (binary frames at 10 Hz, docs/instance.md, "Intervals and
	// keep-alive"), which WatcherSampleSpan never needs.
	WatcherRingSize = 9000
	// ReviewFeedInterval is how often the monitor hands each target's
	// telemetry samples to its review recorder: the rollups are per minute.
	ReviewFeedInterval = 30 * time.Second
	// WatcherSampleSpan is how far back a watcher keeps samples: four
	// review feeds, so that a feed a minute or so late still finds every
	// sample since the last one. The daemon keeps the longer of this and
	// checks.threshold_window, check 10's window.
	WatcherSampleSpan = 4 * ReviewFeedInterval
)

// defaultAlerting groups and times notifications as Alertmanager does by
// default, and sends them nowhere: without sinks the daemon logs alert
// events only.
func defaultAlerting() Alerting {
	return Alerting{
		GroupBy:         []string{labels.Target},
		GroupWait:       30 * time.Second,
		GroupInterval:   5 * time.Minute,
		StormFoldGroups: 3,
		RepeatInterval:  4 * time.Hour,
		SendResolved:    true,
		GracePeriod:     5 * time.Minute,
		InhibitRules:    []InhibitRule{},
		InhibitRelease:  2 * time.Minute,
		Outbox: Outbox{
			BackoffInitial: time.Second,
			BackoffMax:     60 * time.Second,
		},
		Sinks: []Sink{},
	}
}

// Sink defaults the sink packages fall back on too.
const (
	// DefaultSinkTimeout bounds one delivery attempt to a sink unless its
	// timeout says otherwise.
	DefaultSinkTimeout = 10 * time.Second
	// SinkAttemptLimit bounds one delivery attempt through the outbox,
	// whatever the sink's timeout: a longer timeout is cut to it, which
	// check-config and the daemon's log warn about.
	SinkAttemptLimit = DefaultSinkTimeout
	// DefaultResendInterval is how often the alertmanager sink re-sends
	// firing alerts.
	DefaultResendInterval = time.Minute
)

// defaultSink returns the defaults of a sink of type t: those common to
// every type, and t's own (none for an unknown type). A sink in the file
// is decoded over a zero Sink, then takes these for the keys it left out.
func defaultSink(t SinkType) Sink {
	s := Sink{Type: t, Timeout: DefaultSinkTimeout}
	switch t {
	case SinkSlackWebhook:
		s.MinInterval = time.Second // Slack: about 1 message per second per channel
	case SinkSlackBot:
		s.MinInterval = time.Second
		s.APIURL = mustURL("https://slack.com/api/")
	case SinkAlertmanager:
		s.ResendInterval = DefaultResendInterval
	}
	return s
}

// The alert outbox's own tuning, which no key of the file sets (its retry
// backoff is alerting.outbox's, its attempt bound SinkAttemptLimit). The
// daemon builds the outbox from them (alert.OutboxOptionsFrom).
const (
	// OutboxJitter is the fraction of each retry backoff drawn at random,
	// so that sinks recovering together are not all hit at once.
	OutboxJitter = 0.2
	// OutboxStopGrace is how long a delivery attempt in flight when the
	// daemon stops may go on before it is cancelled: finishing it avoids a
	// duplicate after the restart. A graceful stop has 10s in all.
	OutboxStopGrace = 5 * time.Second
)

// The state store's bounds, which no key of the file sets: the hour-24
// review's data with a day to spare. The daemon opens its store with them.
const (
	// StoreLockTimeout is how long the daemon waits for another holder of
	// its state dir to let go.
	StoreLockTimeout = time.Second
	// StoreBackupInterval is how often the daemon copies its state to
	// state.db.bak, the last good copy.
	StoreBackupInterval = time.Hour
	// StoreDeploymentHistory is how many deployments are kept per target,
	// the newest.
	StoreDeploymentHistory = 50
	// StoreCheckHistory is how many check records are kept per target, the
	// newest: 48 h of ten checks every 5 minutes is 5760.
	StoreCheckHistory = 10000
	// StoreCheckRetention is how long check records are kept: the +24 h
	// review with a day to spare.
	StoreCheckRetention = 48 * time.Hour
	// StoreDeadLetters is how many dead letters are kept per sink, the
	// newest.
	StoreDeadLetters = 1000
	// StoreRollupRetention is how long the reviews' per-minute rollups are
	// kept per target: the +24 h review with a day to spare.
	StoreRollupRetention = 48 * time.Hour
	// StoreRollupHistory is how many rollups are kept per target, the
	// newest: 48 h of one a minute is 2880.
	StoreRollupHistory = 3000
)

// HealthBudget is how long a busy step of one of the daemon's loops may
// take, without a systemd watchdog, before /-/healthy reports the loop
// stuck; under a watchdog the budget is half its interval
// (health.BudgetFor).
const HealthBudget = 30 * time.Second

// DefaultStatusInterval is how often the daemon looks whether its one-line
// status for systemd (STATUS=, the "Status:" of systemctl status) changed;
// it sends the line only when it did.
const DefaultStatusInterval = 5 * time.Second

// clone returns a deep copy, so targets that start from the same defaults
// share no slices.
func (s Settings) clone() Settings {
	s.KnownGaps = append([]KnownGap{}, s.KnownGaps...)
	s.Reviews.Offsets = append([]time.Duration{}, s.Reviews.Offsets...)
	return s
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic("config: bad built-in URL " + s) // a constant above; tests catch it
	}
	return u
}

// DefaultAutoReloadDebounce is how long --config.auto-reload waits after
// the last change in the config file's directory before it compares the
// file's checksum: an editor's or a ConfigMap update's burst of writes and
// renames is one reload.
const DefaultAutoReloadDebounce = time.Second

// DefaultStatusPageRefresh is how often the status page at / refreshes
// itself (its script in place, or a meta refresh without JavaScript).
const DefaultStatusPageRefresh = 10 * time.Second

// DefaultStatusPageSize is how many targets one page of the status page's
// fleet view lists, worst first.
const DefaultStatusPageSize = 50

// DefaultTargetFilesDebounce is how long the daemon waits after the last
// change in a target_files folder before it reads the files again: a burst
// of writes is one apply.
const DefaultTargetFilesDebounce = time.Second

// DefaultTargetFilesRefresh is how often the daemon reads the target files
// again even without a change event (as Prometheus's file_sd
// refresh_interval), for file systems that send none.
const DefaultTargetFilesRefresh = 5 * time.Minute

// SpreadStartsAbove is how many targets may start at once (the daemon's
// start, a reload, a target file's change) before their starts are
// spread: above it, each target's first check round waits a share of its
// interval and its first telemetry dial a share of MaxDialSpread (or of the
// interval when shorter), both taken from a hash of its name, so that a
// fleet added at once does not dial and check in one burst. At or below
// it, targets start at once.
const SpreadStartsAbove = 10

// MaxDialSpread bounds how far apart the first telemetry dials of targets
// started at once are spread (see SpreadStartsAbove).
const MaxDialSpread = 30 * time.Second

// DefaultDemoScale is how many times as fast as the wall clock the demo's
// story runs (spacetime-watch demo --scale): an hour of a deployment's
// life in a minute, so that the hour-4 review comes within 5 minutes.
const DefaultDemoScale = 60

// GCPercent is the Go garbage collector's target (what the GOGC variable
// sets) the daemon runs with unless GOGC is set in its environment: the
// heap grows by half of what is live between collections, not by all of it.
// README.md, "Memory", says why it suits the daemon.
const GCPercent = 50
