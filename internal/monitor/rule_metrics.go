package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// RuleGauges drives one target's rule series: spacetime_rule_firing (1
// while a rule fires, else 0) and spacetime_rule_state (one series per
// rule, labelled with the state it is in and always 1, as Prometheus'
// ALERTS does with alertstate), so that "memory_high is unknown" is a query
// away at one series per rule, not one per rule and state. The firing
// series are resolved once; labels are hashed only when a rule changes
// state.
type RuleGauges struct {
	firingVec, stateVec *GaugeVec
	target              string
	firing              [numRules]prometheus.Gauge
	last                [numRules]RuleStatus // the state series exported, while firing[id] is set
}

// NewRuleGauges binds the target to m's RuleFiring (labels target, rule,
// severity) and RuleState (target, rule, state). Call Sync before the
// first Update so that every enabled rule's series start at their values.
func NewRuleGauges(m *Metrics, target string) *RuleGauges {
	return &RuleGauges{firingVec: m.RuleFiring, stateVec: m.RuleState, target: target}
}

// Sync sets the series of every rule in states (RuleEngine.States) and
// deletes those of rules no longer listed (disabled). Call it after
// NewRuleEngine, Restore and UpdateConfig, and at every tick: pending and
// unknown come without an event.
func (g *RuleGauges) Sync(states []RuleState) {
	var listed [numRules]bool
	for _, s := range states {
		id, ok := ruleByName(s.Rule)
		if !ok || s.State >= numRuleStatuses {
			continue
		}
		listed[id] = true
		g.gauge(id).Set(firingValue(s.State == RuleFiring))
		g.setState(id, s.State)
	}
	for id := ruleID(0); id < numRules; id++ {
		if listed[id] || g.firing[id] == nil {
			continue
		}
		def := &ruleDefs[id]
		g.firingVec.DeleteLabelValues(g.target, def.name, string(def.severity))
		g.stateVec.DeleteLabelValues(g.target, def.name, g.last[id].String())
		g.firing[id] = nil
	}
}

// Update applies events as they come from the engine.
func (g *RuleGauges) Update(events []event.Event) {
	for i := range events {
		if id, ok := ruleByName(events[i].Name); ok {
			firing := events[i].State == event.StateFiring
			g.gauge(id).Set(firingValue(firing))
			if firing {
				g.setState(id, RuleFiring)
			} else {
				g.setState(id, RuleInactive)
			}
		}
	}
}

// gauge returns the rule's firing series, creating its series (the state
// one at inactive) on first use. A target's watcher rebuilt by a reload
// starts new gauges while its old state series may still say pending, say:
// the first use deletes the rule's series of every other state, so that a
// rule has one state series, always.
func (g *RuleGauges) gauge(id ruleID) prometheus.Gauge {
	if g.firing[id] == nil {
		def := &ruleDefs[id]
		for st := range numRuleStatuses {
			if st != RuleInactive {
				g.stateVec.DeleteLabelValues(g.target, def.name, st.String())
			}
		}
		g.firing[id] = g.firingVec.WithLabelValues(g.target, def.name, string(def.severity))
		g.stateVec.WithLabelValues(g.target, def.name, RuleInactive.String()).Set(1)
		g.last[id] = RuleInactive
	}
	return g.firing[id]
}

// setState moves the rule's state series to st: the previous state's
// series goes, st's comes. The rule's series exist.
func (g *RuleGauges) setState(id ruleID, st RuleStatus) {
	if g.last[id] == st {
		return
	}
	name := ruleDefs[id].name
	g.stateVec.DeleteLabelValues(g.target, name, g.last[id].String())
	g.stateVec.WithLabelValues(g.target, name, st.String()).Set(1)
	g.last[id] = st
}

func firingValue(firing bool) float64 {
	if firing {
		return 1
	}
	return 0
}
