package daemon

import (
	"context"
	"slices"
	"sync"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/secret"
)

// secretSink is a sink whose secrets (a webhook URL, a bot token, an HMAC
// key) are read at every attempt. A missing or unreadable secret is not
// fatal: the attempt fails, to be tried again, with an error naming the
// file to create; report hears of it, so that the sink shows unhealthy and
// NotificationsFailing goes through the other sinks. Creating the file
// heals the sink at its next attempt, without a restart; a changed value
// (a rotated token) builds the sink again.
type secretSink struct {
	name    string
	sources []secret.Source
	build   func(values []string) (alert.Notifier, error)
	// report hears, after each read, why the sink cannot be built (nil
	// once every secret was read and the sink built).
	report func(err error)

	mu    sync.Mutex
	built []string // the values inner was built from
	inner alert.Notifier
}

// Name implements alert.Notifier.
func (s *secretSink) Name() string { return s.name }

// Notify reads the secrets and delivers through the sink built from them.
func (s *secretSink) Notify(ctx context.Context, m alert.Message) (bool, error) {
	n, err := s.current()
	if err != nil {
		return true, &alert.DeliveryError{Sink: s.name, Reason: "secret_unavailable", Err: err}
	}
	return n.Notify(ctx, m)
}

// current returns the sink built from the secrets' current values.
func (s *secretSink) current() (alert.Notifier, error) {
	n, err := s.load()
	s.report(err)
	return n, err
}

func (s *secretSink) load() (alert.Notifier, error) {
	values := make([]string, len(s.sources))
	for i, src := range s.sources {
		v, err := src.Read()
		if err != nil {
			return nil, err
		}
		values[i] = v.Reveal()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inner == nil || !slices.Equal(values, s.built) {
		n, err := s.build(values)
		if err != nil {
			return nil, err
		}
		s.inner, s.built = n, values
	}
	return s.inner, nil
}

// sourceOf is where ref says a secret lives.
func sourceOf(ref config.TokenRef, getenv func(string) string) secret.Source {
	switch {
	case ref.File != "":
		return secret.File(ref.File)
	case ref.Env != "":
		return secret.Env(ref.Env, getenv)
	}
	return secret.Source{}
}
