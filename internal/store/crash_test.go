package store

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSIGKILLLeavesNoTornState kills a writer at random points, three times
// over the same state dir, and checks after each kill that the state is a
// consistent prefix of what was written: every acknowledged iteration is
// there, at most one more (the one in flight) is there in full or not at
// all, a batch of check records is never split, and the logs' counts and
// the deployment index agree with the records.
func TestSIGKILLLeavesNoTornState(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs SIGKILL semantics of Linux")
	}
	dir := t.TempDir()
	acked := -1
	for round := range 3 {
		h := startHelper(t, "write-loop", dir)
		// Let it run for a while, then kill it wherever it is.
		want := acked + 30 + round*17
		for acked < want {
			n, err := strconv.Atoi(h.next(t, 20*time.Second))
			if err != nil {
				t.Fatalf("helper output: %v", err)
			}
			acked = n
		}
		// A random pause moves the kill point around inside the next
		// iteration's three commits.
		time.Sleep(rand.N(10 * time.Millisecond))
		mustDo(t, h.cmd.Process.Kill())
		h.wait()
		for l := range h.lines { // lines written before the kill are acknowledged too
			if n, err := strconv.Atoi(l); err == nil {
				acked = n
			}
		}

		s := openT(t, dir, crashOptions)
		if rep := s.Report(); rep.Recovered {
			t.Fatalf("round %d: state after SIGKILL was judged damaged: %s", round, rep)
		}
		checkInvariants(t, s)
		last := verifyPrefix(t, s, acked)
		mustDo(t, s.Close())
		acked = last
		t.Logf("round %d: killed after iteration %d", round, last)
	}
}

// verifyPrefix checks the writer's state (see helperWriteLoop) and returns
// the last complete iteration.
func verifyPrefix(t *testing.T, s *Store, acked int) int {
	t.Helper()
	v, ok, err := s.GetMeta("last")
	mustDo(t, err)
	if !ok {
		t.Fatalf("meta last missing after %d acknowledged iterations", acked)
	}
	last, _ := strconv.Atoi(string(v))
	if last < acked {
		t.Fatalf("meta last = %d, but iteration %d was acknowledged", last, acked)
	}

	// Deployments: d-last, maybe d-(last+1) in flight, and the history
	// before them contiguous (bounded at 5).
	ds, err := s.Deployments("t")
	mustDo(t, err)
	top := last
	if len(ds) > 0 && ds[0].ID == "d-"+strconv.Itoa(last+1) {
		top = last + 1
	}
	for i, d := range ds {
		if want := "d-" + strconv.Itoa(top-i); d.ID != want {
			t.Fatalf("deployment %d is %s, want %s (history %v)", i, d.ID, want, ids(ds))
		}
	}
	if len(ds) != min(top+1, crashOptions.DeploymentHistory) {
		t.Fatalf("%d deployments, want %d", len(ds), min(top+1, crashOptions.DeploymentHistory))
	}

	// Checks: batches of three with the same observed value, never split,
	// newest = last or last+1, bounded at 12 (four batches).
	hist, err := s.CheckHistory("t", time.Time{})
	mustDo(t, err)
	if len(hist)%3 != 0 {
		t.Fatalf("%d check records: a batch of 3 was torn (%s)", len(hist), observed(hist))
	}
	newest, _ := strconv.Atoi(hist[len(hist)-1].Observed)
	if newest != last && newest != last+1 {
		t.Fatalf("newest check batch is %d, want %d or %d", newest, last, last+1)
	}
	for i, r := range hist {
		batch := newest - (len(hist)-1-i)/3
		if r.Observed != strconv.Itoa(batch) || r.Check != string("abc"[i%3]) {
			t.Fatalf("check record %d = %s/%s, want %c/%d (history %s)", i, r.Check, r.Observed, "abc"[i%3], batch, observed(hist))
		}
	}
	t.Logf("in flight when killed: deployment d-%d %v, its checks %v", last+1, top > last, newest > last)
	return last
}

func ids(ds []Deployment) string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return strings.Join(out, ",")
}

// TestFailedWriteLeavesStateIntact makes a commit fail half way, as a full
// disk would, and checks that the call returns an error naming the state
// dir, that the store keeps working in the same process once space is
// back, and that the file on disk holds the writes before and after the
// failed one and nothing of it.
func TestFailedWriteLeavesStateIntact(t *testing.T) {
	dir := t.TempDir()
	errLine := runFullDiskHelper(t, "fsize", dir)
	if !strings.Contains(errLine, dir) {
		t.Errorf("failed write reported %q, want the dir", errLine)
	}

	s := openT(t, dir, Options{})
	if rep := s.Report(); rep.Recovered {
		t.Fatalf("state after a failed write judged damaged: %s", rep)
	}
	for key, want := range map[string]bool{"before": true, "big": false, "after": true} {
		if _, ok, err := s.GetMeta(key); err != nil || ok != want {
			t.Errorf("GetMeta(%s) found=%v (%v), want %v", key, ok, err, want)
		}
	}
	checkInvariants(t, s)
}

// runFullDiskHelper runs helper mode on dir: a helper that fails a write
// on a full disk (RLIMIT_FSIZE, Linux only: the test is skipped elsewhere),
// prints "ERR <error>", writes again once there is room and prints "OK".
// It returns the error, having checked that it names the cause and that
// the helper got through.
func runFullDiskHelper(t *testing.T, mode, dir string) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("RLIMIT_FSIZE stand-in for a full disk needs Linux")
	}
	h := startHelper(t, mode, dir)
	errLine := h.next(t, 20*time.Second)
	okLine := h.next(t, 20*time.Second)
	if err := h.wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if !strings.HasPrefix(errLine, "ERR ") || !strings.Contains(errLine, "file too large") {
		t.Errorf("failed write reported %q, want the cause", errLine)
	}
	t.Logf("failed write: %s", errLine)
	if okLine != "OK" {
		t.Fatalf("write after the failure: %q", okLine)
	}
	return strings.TrimPrefix(errLine, "ERR ")
}
