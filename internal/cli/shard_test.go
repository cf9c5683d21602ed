package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/shard"
)

func TestShardFlags(t *testing.T) {
	host := func(name string) func() (string, error) { return func() (string, error) { return name, nil } }
	for _, tt := range []struct {
		name string
		o    RunOptions
		host func() (string, error)
		want shard.Spec
		err  string
	}{
		{"none", RunOptions{}, host("x"), shard.Spec{}, ""},
		{"K/N", RunOptions{Shard: "1/3"}, host("x"), shard.Spec{Index: 1, Count: 3}, ""},
		{"hostname", RunOptions{ShardFromHostname: true, ShardCount: 3}, host("spacetime-watch-2"), shard.Spec{Index: 2, Count: 3}, ""},
		{"both", RunOptions{Shard: "1/3", ShardFromHostname: true, ShardCount: 3}, host("x"), shard.Spec{}, "--shard and --shard.from-hostname conflict"},
		{"count alone", RunOptions{ShardCount: 3}, host("x"), shard.Spec{}, "--shard.count goes with --shard.from-hostname"},
		{"bad K/N", RunOptions{Shard: "3/3"}, host("x"), shard.Spec{}, `--shard "3/3"`},
		{"hostname without ordinal", RunOptions{ShardFromHostname: true, ShardCount: 3}, host("watch"), shard.Spec{}, "does not end with a StatefulSet ordinal"},
		{"hostname unknown", RunOptions{ShardFromHostname: true, ShardCount: 3}, func() (string, error) { return "", errors.New("no name") }, shard.Spec{}, "--shard.from-hostname: no name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.shardSpec(tt.host)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// A bad shard flag stops run before anything starts, exit 3, naming it.
func TestRunRefusesABadShard(t *testing.T) {
	var stderr strings.Builder
	code := Run(t.Context(), RunOptions{Log: LogOptions{Level: "info", Format: "json"}, ConfigFile: "/nonexistent/config.yaml", Shard: "0/0"}, &stderr)
	if code != ExitBadConfig || !strings.Contains(stderr.String(), `--shard "0/0"`) {
		t.Errorf("exit %d, stderr %q; want %d naming --shard", code, stderr.String(), ExitBadConfig)
	}
}
