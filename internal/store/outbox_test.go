package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestOutboxIsFIFOPerSinkAndDurable(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	var slackSeqs []uint64
	for i := range 5 {
		seq, err := s.OutboxAppend("slack", []byte(fmt.Sprintf("s%d", i)))
		mustDo(t, err)
		slackSeqs = append(slackSeqs, seq)
		_, err = s.OutboxAppend("alertmanager", []byte(fmt.Sprintf("a%d", i)))
		mustDo(t, err)
	}
	mustDo(t, s.OutboxAck("slack", slackSeqs[0]))
	mustDo(t, s.OutboxAck("slack", slackSeqs[0])) // again, as after a crash: fine
	mustDo(t, s.OutboxAck("nobody", 1))

	// Restart: what was not acked is still there, in order.
	mustDo(t, s.Close())
	s = openT(t, dir, Options{})
	if got := payloads(t, s, "slack", 0); got != "s1 s2 s3 s4" {
		t.Errorf("slack outbox = %q, want s1..s4", got)
	}
	if got := payloads(t, s, "slack", 2); got != "s1 s2" {
		t.Errorf("slack outbox, first 2 = %q", got)
	}
	if got := payloads(t, s, "alertmanager", 0); got != "a0 a1 a2 a3 a4" {
		t.Errorf("alertmanager outbox = %q", got)
	}
	pending, err := s.OutboxPending()
	mustDo(t, err)
	if pending["slack"] != 4 || pending["alertmanager"] != 5 || len(pending) != 2 {
		t.Errorf("OutboxPending = %v", pending)
	}
	// New appends go after the old ones, even after the restart.
	seq, err := s.OutboxAppend("slack", []byte("s5"))
	mustDo(t, err)
	if seq <= slackSeqs[4] {
		t.Errorf("seq after restart %d, not after %d", seq, slackSeqs[4])
	}
	checkInvariants(t, s)
}

func TestOutboxDeadLetters(t *testing.T) {
	clk := testkit.NewClock(t)
	s := openT(t, t.TempDir(), Options{Now: clk.Now, DeadLetters: 3})
	var seqs []uint64
	for i := range 5 {
		seq, err := s.OutboxAppend("slack", []byte(fmt.Sprintf("m%d", i)))
		mustDo(t, err)
		seqs = append(seqs, seq)
	}
	for i, seq := range seqs[:4] {
		clk.Advance(time.Second)
		mustDo(t, s.OutboxDeadLetter("slack", seq, fmt.Sprintf("channel_not_found %d", i)))
	}
	if got := payloads(t, s, "slack", 0); got != "m4" {
		t.Errorf("outbox after dead-lettering = %q, want m4", got)
	}
	dl, err := s.DeadLetters("slack")
	mustDo(t, err)
	var got []string
	for _, d := range dl {
		got = append(got, fmt.Sprintf("%d:%s:%s", d.Seq-seqs[0], d.Payload, d.Reason))
	}
	// Bounded at 3: the oldest went.
	if want := "1:m1:channel_not_found 1,2:m2:channel_not_found 2,3:m3:channel_not_found 3"; strings.Join(got, ",") != want {
		t.Errorf("dead letters = %v, want %s", got, want)
	}
	if !dl[2].At.Equal(clk.Now()) {
		t.Errorf("dead letter At = %v, want %v", dl[2].At, clk.Now())
	}
	if err := s.OutboxDeadLetter("slack", seqs[0], "again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("dead-lettering a missing entry: %v, want ErrNotFound", err)
	}
	checkInvariants(t, s)
}

func payloads(t *testing.T, s *Store, sink string, max int) string {
	t.Helper()
	es, err := s.OutboxPeek(sink, max)
	mustDo(t, err)
	var out []string
	for _, e := range es {
		out = append(out, string(e.Payload))
	}
	return strings.Join(out, " ")
}
