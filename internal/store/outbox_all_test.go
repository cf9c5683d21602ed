package store

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestOutboxAppendAll(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	sinks := []string{"oncall", "bot", "am"}
	seqs, err := s.OutboxAppendAll(sinks, []byte("m0"))
	mustDo(t, err)
	if len(seqs) != 3 {
		t.Fatalf("seqs = %v, want one per sink", seqs)
	}
	distinct := map[uint64]bool{}
	for _, sink := range sinks {
		distinct[seqs[sink]] = true
	}
	if len(distinct) != 3 {
		t.Errorf("seqs = %v, want distinct (unique across sinks)", seqs)
	}
	// Mixed with single appends: one order per sink, across both calls.
	_, err = s.OutboxAppend("bot", []byte("b1"))
	mustDo(t, err)
	_, err = s.OutboxAppendAll(sinks, []byte("m2"))
	mustDo(t, err)

	mustDo(t, s.Close())
	s = openT(t, dir, Options{})
	for sink, want := range map[string]string{"oncall": "m0 m2", "bot": "m0 b1 m2", "am": "m0 m2"} {
		if got := payloads(t, s, sink, 0); got != want {
			t.Errorf("%s outbox = %q, want %q", sink, got, want)
		}
	}
	// Each copy is acked on its own: the sinks deliver independently.
	mustDo(t, s.OutboxAck("oncall", seqs["oncall"]))
	if got := payloads(t, s, "bot", 1); got != "m0" {
		t.Errorf("bot outbox after acking oncall's copy = %q, want m0 first", got)
	}
	checkInvariants(t, s)
}

func TestOutboxAppendAllRefusesBadSinksWritingNothing(t *testing.T) {
	cases := []struct {
		name  string
		sinks []string
		want  string
	}{
		{"empty name", []string{"oncall", ""}, "outbox sink is empty"},
		{"listed twice", []string{"oncall", "bot", "oncall"}, `sink "oncall" is listed twice`},
		{"too long", []string{"oncall", strings.Repeat("x", maxNameLen+1)}, "more than 512"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), Options{})
			_, err := s.OutboxAppendAll(tc.sinks, []byte("m"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OutboxAppendAll(%q) = %v, want an error containing %q", tc.sinks, err, tc.want)
			}
			pending, err := s.OutboxPending()
			mustDo(t, err)
			if len(pending) != 0 {
				t.Errorf("pending after a refused append = %v, want nothing written", pending)
			}
		})
	}
	t.Run("no sinks", func(t *testing.T) {
		s := openT(t, t.TempDir(), Options{})
		seqs, err := s.OutboxAppendAll(nil, []byte("m"))
		if err != nil || len(seqs) != 0 {
			t.Errorf("OutboxAppendAll(nil) = %v, %v; want an empty map, nil", seqs, err)
		}
	})
}

// TestOutboxAppendAllWithMeta: the meta values commit with the message, a
// bad key refuses both, and without sinks the meta values are still stored.
func TestOutboxAppendAllWithMeta(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	_, err := s.OutboxAppendAll([]string{"bot"}, []byte("m0"), MetaValue{Key: "alert/state", Value: []byte("v0")})
	mustDo(t, err)
	_, err = s.OutboxAppendAll([]string{"bot"}, []byte("m1"), MetaValue{Key: "alert/state", Value: []byte("v1")}, MetaValue{Key: "", Value: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "meta key is empty") {
		t.Fatalf("append with an empty meta key = %v, want an error naming the meta key", err)
	}
	_, err = s.OutboxAppendAll(nil, []byte("m2"), MetaValue{Key: "other", Value: []byte("o")})
	mustDo(t, err)

	mustDo(t, s.Close())
	s = openT(t, dir, Options{})
	if got := payloads(t, s, "bot", 0); got != "m0" {
		t.Errorf("bot outbox = %q, want m0 alone (the refused append wrote nothing)", got)
	}
	for key, want := range map[string]string{"alert/state": "v0", "other": "o"} {
		v, ok, err := s.GetMeta(key)
		mustDo(t, err)
		if !ok || string(v) != want {
			t.Errorf("GetMeta(%s) = %q, %v; want %q", key, v, ok, want)
		}
	}
	checkInvariants(t, s)
}

// TestOutboxAppendAllSIGKILL kills a process that appends to three sinks in
// a loop: every sink must hold the same messages afterwards. Appending to
// each sink in its own transaction fails this test (8 runs out of 8 when
// tried): a kill lands between two of the three commits.
func TestOutboxAppendAllSIGKILL(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs SIGKILL semantics of Linux")
	}
	dir := t.TempDir()
	acked := -1
	for round := range 12 {
		h := startHelper(t, "append-all", dir)
		for want := acked + 20; acked < want; {
			n, err := strconv.Atoi(h.next(t, 20*time.Second))
			if err != nil {
				t.Fatalf("helper output: %v", err)
			}
			acked = n
		}
		time.Sleep(rand.N(2 * time.Millisecond))
		mustDo(t, h.cmd.Process.Kill())
		h.wait() // drops the lines not read yet: acked is a lower bound

		s := openT(t, dir, Options{})
		checkInvariants(t, s)
		first := payloads(t, s, appendAllSinks[0], 0)
		for _, sink := range appendAllSinks[1:] {
			if got := payloads(t, s, sink, 0); got != first {
				t.Fatalf("round %d: %s holds %q but %s holds %q: a torn append", round, sink, got, appendAllSinks[0], first)
			}
		}
		n := len(strings.Fields(first))
		if n < acked+1 {
			t.Fatalf("round %d: %d messages after %d acknowledged appends", round, n, acked+1)
		}
		acked = n - 1
		mustDo(t, s.Close())
	}
}

var appendAllSinks = []string{"oncall", "bot", "am"}

// helperAppendAll appends message i to three sinks in one call and prints
// i once it returned, until killed.
func helperAppendAll(dir string) error {
	s, err := Open(dir, testOptions(Options{}))
	if err != nil {
		return err
	}
	p, err := s.OutboxPending()
	if err != nil {
		return err
	}
	for i := p[appendAllSinks[0]]; ; i++ {
		if _, err := s.OutboxAppendAll(appendAllSinks, []byte(fmt.Sprint(i))); err != nil {
			return err
		}
		fmt.Println(i)
	}
}

func TestDeadLetterCounts(t *testing.T) {
	s := openT(t, t.TempDir(), Options{DeadLetters: 2})
	for i := range 3 {
		seqs, err := s.OutboxAppendAll([]string{"oncall", "bot"}, []byte(fmt.Sprint(i)))
		mustDo(t, err)
		mustDo(t, s.OutboxDeadLetter("oncall", seqs["oncall"], "invalid_token"))
	}
	got, err := s.DeadLetterCounts()
	mustDo(t, err)
	// Bounded at 2; bot has none and is absent.
	if len(got) != 1 || got["oncall"] != 2 {
		t.Errorf("DeadLetterCounts = %v, want map[oncall:2]", got)
	}
}
