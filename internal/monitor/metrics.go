package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are every series the monitor exports. They are created once
// against an injected Registerer (never re-registered on reload) with fixed
// label names; per-target series are deleted when a target is removed. The
// per-target families are GaugeVec and CounterVec (metrics_vec.go), which
// keep their series in label order for fast scrapes.
//
// Conventions: counters for known label values start at 0; a gauge that
// means "passing" (spacetime_check_success, spacetime_up) appears only once
// its value is known, because a 0 at start-up would read as a failure.
type Metrics struct {
	// Up is 1 when the instance's API answered the last scheduled check run, 0 when it did not.
	Up *GaugeVec
	// CheckSuccess is 1 (pass) or 0 (fail) per check; absent until the first result and while skipped.
	CheckSuccess *GaugeVec
	// CheckSkipped is 1 while a check is skipped (known gap, rate limited,
	// not scheduled) and absent otherwise: with CheckSuccess, one series per
	// check.
	CheckSkipped *GaugeVec
	// CheckDuration is how long each check took on its last run: one gauge
	// per check, not a histogram (a round runs every 5 minutes, so
	// quantile_over_time over the gauge gives the percentiles, and buckets
	// per check per target would be most of a target's series).
	CheckDuration *GaugeVec
	// VerifyChecksPassed is the number of checks the last full run passed.
	VerifyChecksPassed *GaugeVec

	// FPS is the latest frame rate from telemetry.
	FPS *GaugeVec
	// FrameTime is the latest frame time from telemetry, in seconds.
	FrameTime *GaugeVec
	// MemoryBytes is the latest memory use from telemetry.
	MemoryBytes *GaugeVec
	// StaticMemoryBytes is static memory use from /performance.
	StaticMemoryBytes *GaugeVec

	// RuleFiring is 1 while a rule's condition holds after its `for`, else 0.
	RuleFiring *GaugeVec
	// RuleState is one series per rule, labelled with the state the rule is
	// in (inactive, pending, firing, unknown), always 1: the series of the
	// previous state is deleted, as Prometheus' ALERTS does with alertstate.
	RuleState *GaugeVec

	// TelemetryConnected is 1 while the telemetry stream is connected and delivering.
	TelemetryConnected *GaugeVec
	// TelemetryFrames counts decoded frames, of every kind together.
	TelemetryFrames *CounterVec
	// TelemetryFramesInvalid counts frames that failed to decode or validate.
	TelemetryFramesInvalid *CounterVec
	// TelemetryReconnects counts reconnections of the telemetry stream.
	TelemetryReconnects *CounterVec
	// TelemetryLastFrame is the Unix time of the last data frame.
	TelemetryLastFrame *GaugeVec
	// TelemetryFrameLag observes, for every data frame that carried a
	// timestamp, the time from that stamp to the frame's rule evaluation.
	// It has no target label: one series set per daemon, whatever the
	// fleet's size.
	TelemetryFrameLag *FrameLagHistogram

	// Restarts counts restarts of the instance detected by the monitor.
	Restarts *CounterVec
	// DeploymentStart is the Unix start time of the target's current deployment.
	DeploymentStart *GaugeVec
	// TokenExpiry is the Unix expiry time of the API token (JWT exp), where known.
	TokenExpiry *GaugeVec
	// TLSCertExpiry is the Unix time the earliest certificate of the chain
	// an https API presents expires, once one was seen.
	TLSCertExpiry *GaugeVec
}

// Label names, fixed.
const (
	labelTarget   = "target"
	labelCheck    = "check"
	labelRule     = "rule"
	labelSeverity = "severity"
	labelState    = "state"
)

// NewMetrics creates the monitor's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	gauge, counter := newGaugeVec, newCounterVec
	m := &Metrics{
		Up:                     gauge("spacetime_up", "1 if the SpaceTime VR instance's API answered the last scheduled check run, 0 if not.", labelTarget),
		CheckSuccess:           gauge("spacetime_check_success", "1 if the post-deployment check passed on its last run, 0 if it failed; absent until known and while skipped.", labelTarget, labelCheck),
		CheckSkipped:           gauge("spacetime_check_skipped", "1 while the check is skipped (known gap, rate limited, not scheduled); absent otherwise.", labelTarget, labelCheck),
		CheckDuration:          gauge("spacetime_check_duration_seconds", "How long the post-deployment check took on its last run.", labelTarget, labelCheck),
		VerifyChecksPassed:     gauge("spacetime_verify_checks_passed", "Number of checks passed by the last run of the checks.", labelTarget),
		FPS:                    gauge("spacetime_fps", "Frames per second reported by the telemetry stream.", labelTarget),
		FrameTime:              gauge("spacetime_frame_time_seconds", "Frame time reported by the telemetry stream.", labelTarget),
		MemoryBytes:            gauge("spacetime_memory_bytes", "Memory use reported by the telemetry stream.", labelTarget),
		StaticMemoryBytes:      gauge("spacetime_static_memory_bytes", "Static memory use reported by /performance.", labelTarget),
		RuleFiring:             gauge("spacetime_rule_firing", "1 while the threshold rule's condition has held for its `for` duration, else 0.", labelTarget, labelRule, labelSeverity),
		RuleState:              gauge("spacetime_rule_state", "Always 1, labelled with the state the threshold rule is in: inactive, pending, firing, or unknown while it has nothing to judge.", labelTarget, labelRule, labelState),
		TelemetryConnected:     gauge("spacetime_telemetry_connected", "1 while the telemetry WebSocket is connected and delivering frames.", labelTarget),
		TelemetryFrames:        counter("spacetime_telemetry_frames_total", "Telemetry frames decoded, of every kind.", labelTarget),
		TelemetryFramesInvalid: counter("spacetime_telemetry_frames_invalid_total", "Telemetry frames that failed to decode or validate.", labelTarget),
		TelemetryReconnects:    counter("spacetime_telemetry_reconnects_total", "Reconnections of the telemetry WebSocket.", labelTarget),
		TelemetryLastFrame:     gauge("spacetime_telemetry_last_frame_timestamp_seconds", "Unix time of the last telemetry data frame.", labelTarget),
		TelemetryFrameLag:      newFrameLagHistogram(),
		Restarts:               counter("spacetime_restarts_total", "Restarts of the instance detected by the monitor.", labelTarget),
		DeploymentStart:        gauge("spacetime_deployment_start_timestamp_seconds", "Unix start time of the target's current deployment.", labelTarget),
		TokenExpiry:            gauge("spacetime_token_expiry_timestamp_seconds", "Unix expiry time of the instance's API token (JWT exp), where known.", labelTarget),
		TLSCertExpiry:          gauge("spacetime_tls_cert_expiry_timestamp_seconds", "Unix time the earliest-expiring certificate of the chain the https API presents expires (as blackbox_exporter's probe_ssl_earliest_cert_expiry).", labelTarget),
	}
	reg.MustRegister(
		m.Up, m.CheckSuccess, m.CheckSkipped, m.CheckDuration, m.VerifyChecksPassed,
		m.FPS, m.FrameTime, m.MemoryBytes, m.StaticMemoryBytes, m.RuleFiring, m.RuleState,
		m.TelemetryConnected, m.TelemetryFrames, m.TelemetryFramesInvalid, m.TelemetryReconnects, m.TelemetryLastFrame, m.TelemetryFrameLag,
		m.Restarts, m.DeploymentStart, m.TokenExpiry, m.TLSCertExpiry,
	)
	return m
}

// InitTarget starts the target's counters at 0, so that rate() and
// increase() work from the first scrape.
func (m *Metrics) InitTarget(target string) {
	m.TelemetryFrames.WithLabelValues(target)
	m.TelemetryFramesInvalid.WithLabelValues(target)
	m.TelemetryReconnects.WithLabelValues(target)
	m.Restarts.WithLabelValues(target)
}

// ForgetTarget deletes every series of a target removed from the config.
func (m *Metrics) ForgetTarget(target string) {
	match := prometheus.Labels{labelTarget: target}
	for _, v := range m.perTarget() {
		v.DeletePartialMatch(match)
	}
}

// perTarget returns the families labelled by target.
func (m *Metrics) perTarget() []*seriesVec {
	return []*seriesVec{
		m.Up.seriesVec, m.CheckSuccess.seriesVec, m.CheckSkipped.seriesVec, m.CheckDuration.seriesVec, m.VerifyChecksPassed.seriesVec,
		m.FPS.seriesVec, m.FrameTime.seriesVec, m.MemoryBytes.seriesVec, m.StaticMemoryBytes.seriesVec, m.RuleFiring.seriesVec, m.RuleState.seriesVec,
		m.TelemetryConnected.seriesVec, m.TelemetryFrames.seriesVec, m.TelemetryFramesInvalid.seriesVec, m.TelemetryReconnects.seriesVec, m.TelemetryLastFrame.seriesVec,
		m.Restarts.seriesVec, m.DeploymentStart.seriesVec, m.TokenExpiry.seriesVec, m.TLSCertExpiry.seriesVec,
	}
}
