package shard

import (
	"fmt"
	"strings"
	"testing"
)

func names(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("spacetime-godot-%d", i)
	}
	return out
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Spec{"": {}, "0/1": {0, 1}, "2/3": {2, 3}} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if got.String() != in {
			t.Errorf("Parse(%q).String() = %q", in, got.String())
		}
		if want := fmt.Sprint(want.Index); got.Label() != want {
			t.Errorf("Parse(%q).Label() = %q, want %q", in, got.Label(), want)
		}
	}
	for in, want := range map[string]string{
		"3":    "want K/N",
		"3/3":  "from 0 to 2",
		"-1/3": "from 0 to 2",
		"a/3":  "from 0 to 2",
		"0/0":  "≥ 1",
		"0/x":  "≥ 1",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want one saying %q", in, err, want)
		}
	}
}

func TestFromHostname(t *testing.T) {
	got, err := FromHostname("spacetime-watch-2", 3)
	if err != nil || got != (Spec{2, 3}) {
		t.Errorf("FromHostname = %+v, %v; want 2/3", got, err)
	}
	for host, want := range map[string]string{
		"spacetime-watch":   "does not end with a StatefulSet ordinal",
		"spacetime-watch-x": "does not end with a StatefulSet ordinal",
		"spacetime-watch-3": "ordinal 3 but there are 3 shards",
	} {
		if _, err := FromHostname(host, 3); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromHostname(%q) error = %v, want one saying %q", host, err, want)
		}
	}
}

// Every target is watched by exactly one shard, and the shards are near
// equal in size.
func TestShardsPartitionTheFleet(t *testing.T) {
	const n, targets = 5, 10000
	all := names(targets)
	seen := map[string]int{}
	for k := range n {
		mine := Filter(Spec{k, n}, all, func(s string) string { return s })
		if len(mine) < targets/n*85/100 || len(mine) > targets/n*115/100 {
			t.Errorf("shard %d/%d has %d targets, want within 15%% of %d", k, n, len(mine), targets/n)
		}
		for _, s := range mine {
			seen[s]++
		}
	}
	for _, s := range all {
		if seen[s] != 1 {
			t.Errorf("target %s watched by %d shards, want 1", s, seen[s])
		}
	}
}

// Changing N moves only about 1/N of the targets: those whose best shard
// is the one added.
func TestGrowingMovesOnlyAShare(t *testing.T) {
	const targets = 10000
	for _, n := range []int{1, 2, 3, 8} {
		moved := 0
		for _, s := range names(targets) {
			before, after := Owner(s, n), Owner(s, n+1)
			if before != after {
				moved++
				if after != n {
					t.Fatalf("target %s moved from shard %d to %d when shard %d was added: only moves to the new shard are allowed", s, before, after, n)
				}
			}
		}
		want := targets / (n + 1)
		if moved < want*85/100 || moved > want*115/100 {
			t.Errorf("N %d→%d moved %d targets, want about %d (1/%d)", n, n+1, moved, want, n+1)
		}
	}
}

func TestUnshardedOwnsEverything(t *testing.T) {
	all := names(10)
	for _, s := range []Spec{{}, {0, 1}} {
		if got := Filter(s, all, func(s string) string { return s }); len(got) != len(all) {
			t.Errorf("Filter(%+v) kept %d of %d", s, len(got), len(all))
		}
	}
}
