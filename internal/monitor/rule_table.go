package monitor

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// This file is the one place a rule is described: its name, severity,
// unit, direction, where its threshold and hysteresis come from, its
// wording when it fires and resolves, and its hint (the likely cause and
// the next step). Adding a rule is a row here plus its
// evaluation (rule_eval.go). Events carry their values already rendered
// (Observed "60.3 fps", Expected "at least 85 fps"), so that the alerting
// layer and every sink print them as they are.

// Rule names: fixed, used as the rule label of spacetime_rule_firing and in
// events.
const (
	// RuleFPSCritical fires when smoothed FPS stays below FPSCriticalMin.
	RuleFPSCritical = "fps_critical"
	// RuleFPSLow fires when smoothed FPS stays below FPSMin.
	RuleFPSLow = "fps_low"
	// RuleFPSHigh fires when smoothed FPS stays above FPSMax.
	RuleFPSHigh = "fps_high"
	// RuleMemoryHigh fires when smoothed memory stays above MemoryMaxMB.
	RuleMemoryHigh = "memory_high"
	// RuleMemoryGrowth fires when memory grows faster than GrowthMBPerMin
	// over GrowthWindow; its events carry the time left until MemoryMaxMB.
	RuleMemoryGrowth = "memory_growth"
	// RuleTelemetryDown fires when the stream has been without data for
	// TelemetryDownFor and is disconnected.
	RuleTelemetryDown = "telemetry_down"
	// RuleTelemetrySilent fires when the stream has been without data for
	// TelemetryDownFor and the watcher reports it connected but silent.
	RuleTelemetrySilent = "telemetry_silent"
	// RuleMemoryUnwatched fires when, while telemetry data flows, neither
	// the stream nor /performance has reported memory for MemoryFor:
	// memory_high and memory_growth cannot judge anything.
	RuleMemoryUnwatched = "memory_unwatched"
)

// CauseNoMemorySource is the Cause of memory_unwatched's events: neither
// the telemetry stream nor /performance reports memory.
const CauseNoMemorySource = "no_memory_source"

// Severity ranks a rule's events.
type Severity = event.Severity

// Severities, most urgent first.
const (
	SeverityCritical = event.SeverityCritical
	SeverityWarning  = event.SeverityWarning
	SeverityInfo     = event.SeverityInfo
)

type ruleID uint8

const (
	ruleFPSCritical ruleID = iota
	ruleFPSLow
	ruleFPSHigh
	ruleMemoryHigh
	ruleMemoryGrowth
	ruleTelemetryDown
	ruleTelemetrySilent
	ruleMemoryUnwatched
	numRules
)

// direction says which side of its threshold a rule fires on.
type direction uint8

const (
	// dirBelow fires while the value is under the threshold, and resolves at
	// or above threshold+hysteresis.
	dirBelow direction = iota + 1
	// dirAbove fires while the value is over the threshold, and resolves at or
	// below threshold−hysteresis.
	dirAbove
	// dirAbsent fires while something has been missing for the threshold, in
	// seconds; the value is how long it has been missing.
	dirAbsent
)

// ruleDef describes one rule. Wording templates may use {value} (the value
// judged, one decimal), {threshold}, {healthy} (where the rule resolves:
// threshold∓hysteresis), {held} (how long the condition or the recovery
// held), and the engine's {span}, {projection} (memory_growth), {why} and
// {source} (memory_unwatched).
type ruleDef struct {
	name     string
	severity Severity
	// unit of the value and threshold: "fps", "MB", "MB/min" or "s".
	unit string
	dir  direction
	// noun names what an absent rule misses: "data", "memory data".
	noun string
	// memory rules judge memory: they are unknown while no source reports
	// it, and their events carry the Source of the memory they judged.
	memory bool
	// threshold is the value the rule fires beyond, from the config.
	threshold func(*RuleConfig) float64
	// hysteresis is how far past the threshold a value must come back to
	// count as healthy; nil for none.
	hysteresis func(*RuleConfig) float64
	// enabled says whether the config turns the rule on; nil means
	// threshold > 0 (a threshold of 0 disables its rule).
	enabled func(*RuleConfig) bool
	// cause is the Cause of the rule's events, if any.
	cause string
	// firing and resolved are the events' reasons.
	firing, resolved string
	// hint is the likely cause and the next step, for people reading a
	// firing alert. It names no other alert.
	hint string
}

func telemetryDownSeconds(c *RuleConfig) float64 { return c.TelemetryDownFor.Seconds() }
func fpsHysteresis(c *RuleConfig) float64        { return c.FPSHysteresis }

const (
	fpsFiringBelow   = "FPS {value} below {threshold} for {held}"
	fpsResolvedBelow = "FPS {value} back at or above {healthy} for {held}"
	telemetryBack    = "telemetry data flowing again for {held}"
)

// ruleDefs is the rule table, in the order States and RuleNames report
// the rules.
var ruleDefs = [numRules]ruleDef{
	ruleFPSCritical: {
		name: RuleFPSCritical, severity: SeverityCritical, unit: "fps", dir: dirBelow,
		threshold:  func(c *RuleConfig) float64 { return c.FPSCriticalMin },
		hysteresis: fpsHysteresis,
		firing:     fpsFiringBelow, resolved: fpsResolvedBelow,
		hint: "a scene or a deployment far over its frame budget, or the GPU throttling: if it began with the deployment, roll it back; else check the host's GPU load and temperature",
	},
	ruleFPSLow: {
		name: RuleFPSLow, severity: SeverityWarning, unit: "fps", dir: dirBelow,
		threshold:  func(c *RuleConfig) float64 { return c.FPSMin },
		hysteresis: fpsHysteresis,
		firing:     fpsFiringBelow, resolved: fpsResolvedBelow,
		hint: "more scene load than the frame budget holds, or another process on the GPU: compare FPS with the previous deployment on the dashboard and check the host's GPU and CPU load",
	},
	ruleFPSHigh: {
		name: RuleFPSHigh, severity: SeverityWarning, unit: "fps", dir: dirAbove,
		threshold:  func(c *RuleConfig) float64 { return c.FPSMax },
		hysteresis: fpsHysteresis,
		firing:     "FPS {value} above {threshold} for {held}",
		resolved:   "FPS {value} back at or below {healthy} for {held}",
		hint:       "the frame rate is not capped (vsync or the XR runtime's frame pacing is off): check the build's vsync and XR refresh-rate settings",
	},
	ruleMemoryHigh: {
		name: RuleMemoryHigh, severity: SeverityWarning, unit: "MB", dir: dirAbove, memory: true,
		threshold:  func(c *RuleConfig) float64 { return c.MemoryMaxMB },
		hysteresis: func(c *RuleConfig) float64 { return c.MemoryHysteresisMB },
		firing:     "memory {value} MB above {threshold} MB for {held}",
		resolved:   "memory {value} MB back at or below {healthy} MB for {held}",
		hint:       "a leak or an unusually large scene: look at the memory curve on the dashboard; restart the instance before it runs out, and compare with the previous deployment",
	},
	ruleMemoryGrowth: {
		name: RuleMemoryGrowth, severity: SeverityWarning, unit: "MB/min", dir: dirAbove, memory: true,
		threshold:  func(c *RuleConfig) float64 { return c.GrowthMBPerMin },
		hysteresis: func(c *RuleConfig) float64 { return c.GrowthHysteresisMBPerMin },
		firing:     "memory growing {value} MB/min over {span}{projection}",
		resolved:   "memory growth {value} MB/min back at or below {healthy} MB/min for {held}",
		hint:       "a leak (resources loaded and never freed): plan a restart before the projected time, and report the leak against the deployment",
	},
	ruleTelemetryDown: {
		name: RuleTelemetryDown, severity: SeverityWarning, unit: "s", dir: dirAbsent, noun: "data",
		threshold: telemetryDownSeconds,
		firing:    "telemetry stream disconnected, no data for {held}",
		resolved:  telemetryBack,
		hint:      "the instance stopped or its telemetry server is not listening: check that the instance runs and that its telemetry port accepts connections",
	},
	ruleTelemetrySilent: {
		name: RuleTelemetrySilent, severity: SeverityWarning, unit: "s", dir: dirAbsent, noun: "data",
		threshold: telemetryDownSeconds,
		firing:    "telemetry stream connected but silent, no data for {held}",
		resolved:  telemetryBack,
		hint:      "the engine's main loop is stalled (the connection stays open, nothing is sent): check that the API answers; restart the instance if it does not",
	},
	ruleMemoryUnwatched: {
		name: RuleMemoryUnwatched, severity: SeverityWarning, unit: "s", dir: dirAbsent, noun: "memory data",
		threshold: func(c *RuleConfig) float64 { return c.MemoryFor.Seconds() },
		enabled:   func(c *RuleConfig) bool { return c.MemoryMaxMB > 0 || c.GrowthMBPerMin > 0 },
		cause:     CauseNoMemorySource,
		firing:    "memory unwatched for {held}: {why}; memory_high and memory_growth cannot judge",
		resolved:  "memory reported again, by {source}, for {held}",
		hint:      "the stream carries no memory (the binary encoding sends FPS only) and /performance gives none: set performance_token_file (or performance_token_env) for the target, or switch the instance's telemetry to the JSON encoding",
	},
}

// RuleNames lists every rule, in the order States reports them.
func RuleNames() []string {
	names := make([]string, numRules)
	for id := range ruleDefs {
		names[id] = ruleDefs[id].name
	}
	return names
}

// RuleSeverity returns the severity of the named rule, and false for a name
// that is not a rule.
func RuleSeverity(rule string) (Severity, bool) {
	id, ok := ruleByName(rule)
	if !ok {
		return "", false
	}
	return ruleDefs[id].severity, true
}

func ruleByName(name string) (ruleID, bool) {
	for id := range ruleDefs {
		if ruleDefs[id].name == name {
			return ruleID(id), true
		}
	}
	return 0, false
}

// on reports whether c turns the rule on.
func (d *ruleDef) on(c *RuleConfig) bool {
	if d.enabled != nil {
		return d.enabled(c)
	}
	return d.threshold(c) > 0
}

// healthy is where the rule resolves: the threshold moved back by the
// hysteresis.
func (d *ruleDef) healthy(c *RuleConfig) float64 {
	t := d.threshold(c)
	if d.hysteresis == nil {
		return t
	}
	if d.dir == dirBelow {
		return t + d.hysteresis(c)
	}
	return t - d.hysteresis(c)
}

// observed renders a value judged by the rule: "60.3 fps", "no data for
// 130 s" (absent rules), "data flowing" (an absent rule's 0).
func (d *ruleDef) observed(v float64) string {
	if d.dir != dirAbsent {
		return fmt.Sprintf("%.1f %s", v, d.unit)
	}
	if v <= 0 {
		return d.noun + " flowing"
	}
	return fmt.Sprintf("no %s for %.0f s", d.noun, v)
}

// expected renders what the rule wants: "at least 85 fps", "at most
// 400 MB", "data within 120 s".
func (d *ruleDef) expected(c *RuleConfig) string {
	t := num(d.threshold(c))
	switch d.dir {
	case dirBelow:
		return "at least " + t + " " + d.unit
	case dirAbove:
		return "at most " + t + " " + d.unit
	}
	return d.noun + " within " + t + " s"
}

// wording fills a firing or resolved template. extra are the engine's own
// placeholders and their values ({span}, {projection}, {why}).
func (d *ruleDef) wording(tmpl string, c *RuleConfig, v float64, held time.Duration, extra ...string) string {
	args := append([]string{
		"{value}", strconv.FormatFloat(v, 'f', 1, 64),
		"{threshold}", num(d.threshold(c)),
		"{healthy}", num(d.healthy(c)),
		"{held}", held.Round(time.Second).String(),
	}, extra...)
	return strings.NewReplacer(args...).Replace(tmpl)
}

// num formats a threshold without trailing zeros: 85, 87.5.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
