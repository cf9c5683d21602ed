package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
)

// Scenario is a timeline of fault changes, restarts and telemetry events,
// in time order, for drills and the demo. Its YAML form is a list of steps:
//
//	# drill.yaml
//	- at: 30s              # since the sim started
//	  set: {fps: 60}       # fault fields, as POST /faults takes them
//	- at: 1m
//	  restart: {version: 1.2.4}
//	- at: 90s
//	  event: {event: error, data: {message: Scene load failed}}
type Scenario []ScenarioStep

// ScenarioStep is one point of a Scenario. Its actions run in the order
// set, restart, event.
type ScenarioStep struct {
	// At is the offset from the sim's start.
	At time.Duration
	// Line is the step's line in the file, for logs.
	Line int
	// Set is a JSON object of fault fields, or nil.
	Set json.RawMessage
	// Restart, when not nil, restarts the instance with this version ("" keeps it).
	Restart *string
	// Event, when not nil, is broadcast to telemetry clients.
	Event *Event
}

// LoadScenario reads and checks a scenario file (see ParseScenario).
func LoadScenario(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return ParseScenario(path, data)
}

// ParseScenario checks a scenario strictly: unknown keys, durations that
// do not parse or go back in time, fault fields that POST /faults would
// refuse, and events without a name are errors of the form
// "<name>:<line>: <reason>".
func ParseScenario(name string, data []byte) (Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty scenario: want a list of steps such as \"- at: 30s\" with \"set: {fps: 60}\"", name)
	}
	doc := root.Content[0]
	if doc.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d: want a list of steps such as \"- at: 30s\", got a %s", name, doc.Line, kindName(doc))
	}
	// Fault patches are checked against a scratch state, so that each step
	// is validated as it would apply after the previous ones.
	scratch := NewFaultState(DefaultFaults(DefaultEnvironment), nil)
	var sc Scenario
	for i, item := range doc.Content {
		step, err := parseStep(item, scratch)
		if err != nil {
			return nil, fmt.Errorf("%s:%w", name, err)
		}
		if i > 0 && step.At < sc[i-1].At {
			return nil, fmt.Errorf("%s:%d: at %v is before the previous step's %v: steps must be in time order", name, step.Line, step.At, sc[i-1].At)
		}
		sc = append(sc, step)
	}
	return sc, nil
}

// lineError is an error at a line of the file; ParseScenario prefixes the name.
func lineError(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%d: %s", n.Line, fmt.Sprintf(format, args...))
}

func parseStep(item *yaml.Node, scratch *FaultState) (ScenarioStep, error) {
	step := ScenarioStep{Line: item.Line}
	if item.Kind != yaml.MappingNode {
		return step, lineError(item, "a step must be a mapping with \"at\" and one of set, restart, event; got a %s", kindName(item))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(item.Content); i += 2 {
		k, v := item.Content[i], item.Content[i+1]
		if seen[k.Value] {
			return step, lineError(k, "key %q appears twice in this step", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "at":
			step.At, err = parseAt(v)
		case "set":
			step.Set, err = parseSet(v, scratch)
		case "restart":
			step.Restart, err = parseRestart(v)
		case "event":
			step.Event, err = parseEvent(v)
		default:
			err = lineError(k, "unknown key %q (want at, set, restart or event)", k.Value)
		}
		if err != nil {
			return step, err
		}
	}
	switch {
	case !seen["at"]:
		return step, lineError(item, "step has no \"at\" (e.g. at: 30s)")
	case step.Set == nil && step.Restart == nil && step.Event == nil:
		return step, lineError(item, "step has nothing to do: want set, restart or event")
	}
	return step, nil
}

func parseAt(v *yaml.Node) (time.Duration, error) {
	if v.Kind != yaml.ScalarNode {
		return 0, lineError(v, "at: want a duration such as 30s or 1m30s, got a %s", kindName(v))
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		return 0, lineError(v, "at: want a duration such as 30s or 1m30s, got %q", v.Value)
	}
	if d < 0 {
		return 0, lineError(v, "at: must not be negative, got %v", d)
	}
	return d, nil
}

// parseSet validates the fault fields one by one, so that an error points
// at the field's own line.
func parseSet(v *yaml.Node, scratch *FaultState) (json.RawMessage, error) {
	if v.Kind != yaml.MappingNode {
		return nil, lineError(v, "set: want a mapping of fault fields such as {fps: 60}, got a %s", kindName(v))
	}
	all := map[string]any{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		var x any
		if err := val.Decode(&x); err != nil {
			return nil, lineError(val, "set: %s: %v", k.Value, err)
		}
		one, err := json.Marshal(map[string]any{k.Value: x})
		if err != nil {
			return nil, lineError(val, "set: %s: %v", k.Value, err)
		}
		if err := scratch.Patch(one); err != nil {
			return nil, lineError(k, "set: %v", err)
		}
		all[k.Value] = x
	}
	if len(all) == 0 {
		return nil, lineError(v, "set: no fault fields given")
	}
	return json.Marshal(all)
}

func parseRestart(v *yaml.Node) (*string, error) {
	version := ""
	if v.Tag == "!!null" {
		return &version, nil
	}
	if v.Kind != yaml.MappingNode {
		return nil, lineError(v, "restart: want a mapping such as {version: 1.2.4} or {}, got a %s", kindName(v))
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Value != "version" {
			return nil, lineError(k, "restart: unknown key %q (want version)", k.Value)
		}
		if val.Kind != yaml.ScalarNode {
			return nil, lineError(val, "restart: version: want a string such as 1.2.4, got a %s", kindName(val))
		}
		version = val.Value
	}
	return &version, nil
}

func parseEvent(v *yaml.Node) (*Event, error) {
	if v.Kind != yaml.MappingNode {
		return nil, lineError(v, "event: want a mapping such as {event: error, data: {message: ...}}, got a %s", kindName(v))
	}
	ev := &Event{Type: "event"}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "type", "event":
			if val.Kind != yaml.ScalarNode {
				return nil, lineError(val, "event: %s: want a string, got a %s", k.Value, kindName(val))
			}
			if k.Value == "type" {
				ev.Type = val.Value
			} else {
				ev.Name = val.Value
			}
		case "data":
			if err := val.Decode(&ev.Data); err != nil || val.Kind != yaml.MappingNode {
				return nil, lineError(val, "event: data: want a mapping, got a %s", kindName(val))
			}
		default:
			return nil, lineError(k, "event: unknown key %q (want type, event or data)", k.Value)
		}
	}
	if ev.Name == "" {
		return nil, lineError(v, "event: the event name is required (e.g. event: error)")
	}
	return ev, nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return fmt.Sprintf("scalar (%s)", n.Value)
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

// runScenario applies each step at start + At until ctx ends. It uses real
// time: scenarios drive drills and demos, not unit tests of the clock.
func (s *Sim) runScenario(ctx context.Context, sc Scenario, start time.Time) {
	for _, step := range sc {
		if !clock.Sleep(ctx, time.Until(start.Add(step.At))) {
			return
		}
		s.applyStep(step)
	}
	s.log.Info("scenario finished", zap.Int("steps", len(sc)))
}

func (s *Sim) applyStep(step ScenarioStep) {
	log := s.log.With(zap.Duration("at", step.At), zap.Int("line", step.Line))
	var errs []error
	if step.Set != nil {
		errs = append(errs, s.PatchFaults(step.Set))
	}
	if step.Restart != nil {
		s.Restart(*step.Restart)
	}
	if step.Event != nil {
		s.Emit(*step.Event)
	}
	if err := errors.Join(errs...); err != nil {
		log.Error("scenario step failed", zap.Error(err))
		return
	}
	log.Info("scenario step applied")
}
