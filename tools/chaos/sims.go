package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/clock"
	"github.com/spacetime-vr/spacetime-watch/internal/sim"
	"github.com/spacetime-vr/spacetime-watch/tools/internal/child"
)

// simSlot is one simulated instance the driver owns: it keeps its
// addresses and token across restarts, so that the daemon's config holds.
type simSlot struct {
	name    string
	opts    sim.Options
	inst    *sim.Sim // nil while stopped
	started time.Time
	// starts are the instants the instance (re)started: a lost state
	// makes the daemon open a deployment dated from the latest one.
	starts []time.Time
}

func newSimSlot(ctx context.Context, name, token string) (*simSlot, error) {
	s := &simSlot{name: name, opts: sim.Options{Profile: sim.ProfileChecklist, Token: token}}
	for _, a := range []*string{&s.opts.APIAddress, &s.opts.TelemetryAddress, &s.opts.ControlAddress} {
		addr, err := child.FreeAddr()
		if err != nil {
			return nil, err
		}
		*a = addr
	}
	return s, s.start(ctx)
}

// start runs the instance, healthy, on the slot's addresses.
func (s *simSlot) start(ctx context.Context) error {
	inst, err := sim.Start(ctx, s.opts)
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.inst, s.started = inst, clock.Now()
	s.starts = append(s.starts, s.started)
	return nil
}

// stop closes the instance: its ports refuse connections until start.
func (s *simSlot) stop() {
	if s.inst != nil {
		_ = s.inst.Close()
		s.inst = nil
	}
}

// patch applies a fault patch (JSON) to the running instance.
func (s *simSlot) patch(p string) error {
	if s.inst == nil {
		return fmt.Errorf("%s is stopped", s.name)
	}
	return s.inst.PatchFaults([]byte(p))
}

// startedBy is the instance's latest start at or before t.
func (s *simSlot) startedBy(t time.Time) time.Time {
	var at time.Time
	for _, st := range s.starts {
		if !st.After(t) {
			at = st
		}
	}
	return at
}

// faultKind is a fault the driver holds on a target, and the alert it raises.
type faultKind struct {
	alert      string
	set, clear string // fault patches
}

// faultKinds are the faults episodes choose from.
var faultKinds = []faultKind{
	{alert: "fps_low", set: `{"fps":60}`, clear: `{"fps":90}`},
	{alert: "memory_high", set: `{"memory_mb":520}`, clear: `{"memory_mb":300}`},
	{alert: "check_instance_up", set: `{"api_down":true}`, clear: `{"api_down":false}`},
}
