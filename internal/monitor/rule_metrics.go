package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// RuleFiringGauges drives one target's spacetime_rule_firing series: 1
// while a rule fires, else 0. It resolves each series once, so Update does
// not allocate or hash labels on the telemetry path.
type RuleFiringGauges struct {
	vec    *prometheus.GaugeVec
	target string
	g      [numRules]prometheus.Gauge
}

// NewRuleFiringGauges binds the target to vec, whose labels are target,
// rule and severity in that order (Metrics.RuleFiring). Call Sync before
// the first Update so that every enabled rule's series starts at its value.
func NewRuleFiringGauges(vec *prometheus.GaugeVec, target string) *RuleFiringGauges {
	return &RuleFiringGauges{vec: vec, target: target}
}

// Sync sets the series of every rule in states (RuleEngine.States) and
// deletes those of rules no longer listed (disabled). Call it after
// NewRuleEngine, Restore and UpdateConfig.
func (g *RuleFiringGauges) Sync(states []RuleState) {
	var listed [numRules]bool
	for _, s := range states {
		id, ok := ruleByName(s.Rule)
		if !ok {
			continue
		}
		listed[id] = true
		g.gauge(id).Set(firingValue(s.State == RuleFiring))
	}
	for id := ruleID(0); id < numRules; id++ {
		if !listed[id] && g.g[id] != nil {
			g.vec.DeleteLabelValues(g.target, ruleDefs[id].name, string(ruleDefs[id].severity))
			g.g[id] = nil
		}
	}
}

// Update applies events as they come from the engine.
func (g *RuleFiringGauges) Update(events []RuleEvent) {
	for i := range events {
		if id, ok := ruleByName(events[i].Rule); ok {
			g.gauge(id).Set(firingValue(events[i].State == RuleEventFiring))
		}
	}
}

func (g *RuleFiringGauges) gauge(id ruleID) prometheus.Gauge {
	if g.g[id] == nil {
		g.g[id] = g.vec.WithLabelValues(g.target, ruleDefs[id].name, string(ruleDefs[id].severity))
	}
	return g.g[id]
}

func firingValue(firing bool) float64 {
	if firing {
		return 1
	}
	return 0
}
