package daemon

import (
	"os"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/shard"
)

// shardTargets is cfg with only the targets shard s owns; cfg itself when
// s does not split the fleet.
func shardTargets(cfg *config.Config, s shard.Spec) *config.Config {
	if !s.Sharded() {
		return cfg
	}
	mine := *cfg
	mine.Targets = shard.Filter(s, cfg.Targets, func(t config.Target) string { return t.Name })
	return &mine
}

// ownAlertLabels are the labels a sharded daemon's own alerts carry in
// Alertmanager: its shard and its replica (the hostname, a StatefulSet
// pod's name), so that an alert about one replica names it. None unless
// sharded: one daemon's own alerts need no more than instance.
func ownAlertLabels(s shard.Spec) map[string]string {
	if !s.Sharded() {
		return nil
	}
	host, _ := os.Hostname()
	return map[string]string{"shard": s.Label(), "replica": host}
}
