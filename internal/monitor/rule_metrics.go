package monitor

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spacetime-vr/spacetime-watch/internal/event"
)

// RuleGauges drives one target's rule series: spacetime_rule_firing (1
// while a rule fires, else 0) and spacetime_rule_state (one series per
// rule and state, 1 for the state the rule is in and 0 for the others, as
// kube-state-metrics does it), so that "memory_high is unknown" is a query
// away. It resolves each series once, so Update neither allocates nor
// hashes labels on the telemetry path.
type RuleGauges struct {
	firingVec, stateVec *prometheus.GaugeVec
	target              string
	firing              [numRules]prometheus.Gauge
	state               [numRules][numRuleStatuses]prometheus.Gauge
	last                [numRules]RuleStatus
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
		g.firing[id] = nil
		for st := range numRuleStatuses {
			g.stateVec.DeleteLabelValues(g.target, def.name, st.String())
			g.state[id][st] = nil
		}
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

func (g *RuleGauges) gauge(id ruleID) prometheus.Gauge {
	if g.firing[id] == nil {
		def := &ruleDefs[id]
		g.firing[id] = g.firingVec.WithLabelValues(g.target, def.name, string(def.severity))
		for st := range numRuleStatuses {
			g.state[id][st] = g.stateVec.WithLabelValues(g.target, def.name, st.String())
			g.state[id][st].Set(firingValue(st == RuleInactive))
		}
		g.last[id] = RuleInactive
	}
	return g.firing[id]
}

// setState moves the rule's state series to st; the rule's series exist.
func (g *RuleGauges) setState(id ruleID, st RuleStatus) {
	if g.last[id] == st {
		return
	}
	g.state[id][g.last[id]].Set(0)
	g.state[id][st].Set(1)
	g.last[id] = st
}

func firingValue(firing bool) float64 {
	if firing {
		return 1
	}
	return 0
}
