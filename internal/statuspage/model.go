// Package statuspage is the daemon's status page at /: a fleet view (one
// row per target, worst first, filtered and paged) and a page per target
// (charts, check history, alerts, deployments and their reviews, silences,
// the outbox). Build turns the daemon's state (a Source) into plain view
// structs; the renderer (html/template, SVG drawn in Go) sees only those,
// so it is tested with hostile values without a daemon.
package statuspage

import (
	"context"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// Source is the daemon's state as the page reads it. Every method is safe
// from any goroutine.
type Source interface {
	// Targets is every target's status (monitor.Monitor.Status).
	Targets() []monitor.TargetStatus
	// Alerts are the alerts tracked, silenced and inhibited marked.
	Alerts() []alert.Alert
	// Silences are the silences, expired ones included.
	Silences() []alert.Silence
	// Minutes are target's per-minute rollups with from <= At < to.
	Minutes(target string, from, to time.Time) ([]review.Minute, error)
	// CheckHistory is target's check results since a time, oldest first.
	CheckHistory(target string, since time.Time) ([]store.CheckRecord, error)
	// Deployments are target's deployments, newest first.
	Deployments(target string) ([]store.Deployment, error)
	// Reviews are a deployment's delivered reviews, in offset order; when
	// none was delivered yet, the first computed now (computed true).
	Reviews(ctx context.Context, target, deploymentID string) (list []review.Review, computed bool, err error)
	// Outbox is the notifications waiting per sink and the dead letters.
	Outbox() (pending map[string]int, dead []DeadLetter, err error)
	// Thresholds are the FPS band and memory ceiling target is judged by
	// (its thresholds section), drawn on its charts.
	Thresholds(target string) config.ReviewThresholds
}

// DeadLetter is a notification a sink gave up on.
type DeadLetter struct {
	Sink, Reason, Summary string
	At                    time.Time
}

// State is a target's overall state on the page.
type State string

// The states, worst first (the fleet view's order).
const (
	StateDown      State = "down"      // instance_up failing
	StateDegraded  State = "degraded"  // a check failing, a rule or an alert firing
	StateInhibited State = "inhibited" // only silenced or inhibited alerts firing
	StateGaps      State = "known gaps"
	StateOK        State = "ok"
)

// rank orders states worst first.
func (s State) rank() int {
	switch s {
	case StateDown:
		return 0
	case StateDegraded:
		return 1
	case StateInhibited:
		return 2
	case StateGaps:
		return 3
	}
	return 4
}

// Icon is the state's symbol, so colour is never the only signal.
func (s State) Icon() string {
	switch s {
	case StateDown:
		return "✖"
	case StateDegraded:
		return "▲"
	case StateInhibited:
		return "◐"
	case StateGaps:
		return "◇"
	}
	return "✔"
}

// Class is the state's CSS class.
func (s State) Class() string {
	if s == StateGaps {
		return "gaps"
	}
	return string(s)
}

// Fleet is the fleet view.
type Fleet struct {
	Now     time.Time
	Refresh time.Duration
	// Filter is the filter box's text; Total the targets it matched, of All.
	Filter     string
	Total, All int
	// Counts are the matched targets per state, worst first.
	Counts []StateCount
	// Page is 1-based; Pages at least 1.
	Page, Pages int
	Rows        []Row
	// Outbox sums the notifications waiting and the dead letters.
	OutboxPending, DeadLetters int
}

// StateCount is how many targets are in a state.
type StateCount struct {
	State State
	N     int
}

// Row is one target in the fleet view.
type Row struct {
	Name  string
	State State
	// Why says in one line what made State ("fps_low firing").
	Why string
	// FPS and MemoryMB now, when known.
	FPS, MemoryMB     float64
	HasFPS, HasMemory bool
	// MemoryFrom is "/performance" when the memory rules read memory there
	// (the stream carries none), else "".
	MemoryFrom string
	// MemoryUnwatched says why memory_high is unknown (no source reports
	// memory), "" while it is known.
	MemoryUnwatched     string
	FPSHour, MemoryHour Series
	Checks              []CheckCell
	Alerts              []AlertCell
	// Telemetry is the stream's state (connected, disconnected, ...).
	Telemetry          string
	TelemetryConnected bool
	Deployment         *DeploymentCell
}

// Series is a chart's points: one per minute, NaN where none.
type Series struct {
	From, To time.Time
	Points   []Point
}

// Point is one value of a Series.
type Point struct {
	At    time.Time
	Value float64
	// Low is the minute's 1% low (FPS only), NaN when unknown.
	Low float64
}

// CheckCell is one check's last result.
type CheckCell struct {
	Name, Result, Observed, Expected, Reason string
	KnownGap                                 bool
}

// AlertCell is one alert.
type AlertCell struct {
	Name, Severity, State, Summary, Reason string
	StartsAt, EndsAt                       time.Time
	// Mark is "silenced", "inhibited" (by InhibitedBy), "held by the
	// deployment grace" or "".
	Mark, InhibitedBy string
}

// DeploymentCell is a deployment.
type DeploymentCell struct {
	ID, Version, Source string
	// Note is what the person or job that declared it said.
	Note      string
	StartedAt time.Time
	Age       time.Duration
}

// Target is one target's page.
type Target struct {
	Now     time.Time
	Refresh time.Duration
	Row     Row
	// FPSDay and MemoryDay are the last 24 h.
	FPSDay, MemoryDay Series
	// FPSBand is the band FPS should stay in; MemoryLimit the ceiling:
	// the target's thresholds.
	FPSBandLow, FPSBandHigh, MemoryLimit float64
	// Projection is the memory growth rule's projection, when it fires.
	Projection string
	// Strip is the last 24 h of check rounds, one row per check, in
	// StripBuckets slices of time (each its worst result).
	Strip []StripRow
	// Rounds are the latest check rounds (at most maxRounds), newest
	// first, with the check names of their columns.
	Rounds      []Round
	CheckNames  []string
	Timeline    []AlertCell
	Deployments []DeploymentView
	Silences    []SilenceCell
	Pending     map[string]int
	DeadLetters []DeadLetter
}

// StripRow is one check's results over the last 24 h.
type StripRow struct {
	Check string
	// Cells are "pass", "fail", "skipped" or "" (no round), oldest first,
	// one per 24 h / StripBuckets.
	Cells []string
	// Pass, Fail and Skipped count the rounds; LastFail is the latest
	// failure's time (zero: none).
	Pass, Fail, Skipped int
	LastFail            time.Time
}

// Round is one check round: a result per check name (in CheckNames
// order; "" where the check did not run).
type Round struct {
	At      time.Time
	Results []string
}

// DeploymentView is a deployment with its reviews.
type DeploymentView struct {
	DeploymentCell
	Reviews []ReviewView
	// Computed is true when Reviews holds the first review computed now
	// (none delivered yet).
	Computed bool
}

// ReviewView is one review, for HTML.
type ReviewView struct {
	Name, Title, Verdict string
	Items                []ReviewItem
	// MarkdownURL downloads the same review as Markdown.
	MarkdownURL string
}

// ReviewItem is one line of a review.
type ReviewItem struct {
	Name, Verdict, Figure, Note string
}

// SilenceCell is a silence.
type SilenceCell struct {
	ID, Matchers, Comment, CreatedBy, State string
	StartsAt, EndsAt                        time.Time
}
